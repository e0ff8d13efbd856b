"""service_requests: the day the committee's answer is promised to the member by

Revision ID: domain_0006
Revises: domain_0005
Create Date: 2026-12-03
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'domain_0006'
down_revision: str | None = 'domain_0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN: SQLite's batch mode would copy the table, which other tables reference.
    op.add_column('service_requests', sa.Column('answer_promised_on', sa.Date(), nullable=True))


def downgrade() -> None:
    op.drop_column('service_requests', 'answer_promised_on')
