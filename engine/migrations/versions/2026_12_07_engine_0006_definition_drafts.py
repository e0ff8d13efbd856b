"""modeler: drafts of diagrams, the note given at deploy, the forms kept with each version

Revision ID: engine_0006
Revises: engine_0005
Create Date: 2026-12-07
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import engine.db

revision: str = 'engine_0006'
down_revision: str | None = 'engine_0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UTC = engine.db.UTCDateTime(timezone=True)
_JSON = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), 'postgresql')


def upgrade() -> None:
    # Plain ADD COLUMN (nullable): SQLite adds it in place, without rebuilding a table other tables point to.
    op.add_column('process_definitions', sa.Column('note', sa.Text(), nullable=True))
    op.add_column('process_definitions', sa.Column('forms', _JSON, nullable=True))
    op.create_table(
        'definition_drafts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('key', sa.String(length=200), nullable=True),
        sa.Column('name', sa.String(length=400), nullable=False),
        sa.Column('xml', sa.Text(), nullable=False),
        sa.Column('forms', _JSON, nullable=False),
        sa.Column('revision', sa.Integer(), nullable=False),
        sa.Column('base_version', sa.Integer(), nullable=True),
        sa.Column('source', sa.String(length=400), nullable=False),
        sa.Column('created_at', _UTC, nullable=False),
        sa.Column('created_by', sa.String(length=200), nullable=False),
        sa.Column('updated_at', _UTC, nullable=False),
        sa.Column('updated_by', sa.String(length=200), nullable=False),
        sa.Column('deployed_at', _UTC, nullable=True),
        sa.Column('deployed_version', sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_definition_drafts')),
    )


def downgrade() -> None:
    op.drop_table('definition_drafts')
    op.drop_column('process_definitions', 'forms')
    op.drop_column('process_definitions', 'note')
