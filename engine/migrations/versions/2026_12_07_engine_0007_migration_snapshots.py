"""migration of running cases: the snapshot kept of each case moved, to revert the move

Revision ID: engine_0007
Revises: engine_0006
Create Date: 2026-12-07
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import engine.db

revision: str = 'engine_0007'
down_revision: str | None = 'engine_0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UTC = engine.db.UTCDateTime(timezone=True)
_JSON = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), 'postgresql')


def upgrade() -> None:
    op.create_table(
        'migration_snapshots',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('instance_id', sa.Integer(), nullable=False),
        sa.Column('from_definition_id', sa.Integer(), nullable=False),
        sa.Column('to_definition_id', sa.Integer(), nullable=False),
        sa.Column('snapshot', sa.Text(), nullable=False),
        sa.Column('revision_before', sa.Integer(), nullable=False),
        sa.Column('revision_after', sa.Integer(), nullable=False),
        sa.Column('rows', _JSON, nullable=False),
        sa.Column('choices', _JSON, nullable=False),
        sa.Column('migrated_at', _UTC, nullable=False),
        sa.Column('migrated_by', sa.String(length=200), nullable=False),
        sa.Column('reverted_at', _UTC, nullable=True),
        sa.Column('reverted_by', sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(['instance_id'], ['process_instances.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['from_definition_id'], ['process_definitions.id']),
        sa.ForeignKeyConstraint(['to_definition_id'], ['process_definitions.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_migration_snapshots_instance_id', 'migration_snapshots', ['instance_id'])


def downgrade() -> None:
    op.drop_index('ix_migration_snapshots_instance_id', table_name='migration_snapshots')
    op.drop_table('migration_snapshots')
