"""request_pauses: when the promise's clock stood still, waiting on the member; and the day it counts from

Revision ID: domain_0007
Revises: domain_0006
Create Date: 2026-12-06
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import engine.db

revision: str = 'domain_0007'
down_revision: str | None = 'domain_0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN: SQLite's batch mode would copy the table, which other tables reference.
    # Promises made before this column are given their day when first counted again
    # (`workflows.promises.reckon_promise`, from the applicant's acknowledgement).
    op.add_column('service_requests', sa.Column('answer_counted_from', sa.Date(), nullable=True))
    op.create_table(
        'request_pauses',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('request_id', sa.Integer(), nullable=False),
        sa.Column('reason', sa.String(length=30), nullable=False),
        sa.Column('started_at', engine.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('started_by', sa.String(length=100), nullable=False),
        sa.Column('ended_at', engine.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('ended_by', sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(['request_id'], ['service_requests.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_request_pauses_request_id', 'request_pauses', ['request_id'], unique=False)
    op.create_index('ix_request_pauses_open', 'request_pauses', ['ended_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_request_pauses_open', table_name='request_pauses')
    op.drop_index('ix_request_pauses_request_id', table_name='request_pauses')
    op.drop_table('request_pauses')
    op.drop_column('service_requests', 'answer_counted_from')
