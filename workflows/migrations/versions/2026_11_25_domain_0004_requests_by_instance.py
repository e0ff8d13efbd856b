"""requests found by the instance that runs them

Revision ID: domain_0004
Revises: domain_0003
Create Date: 2026-11-25
"""
from collections.abc import Sequence

from alembic import op

revision: str = 'domain_0004'
down_revision: str | None = 'domain_0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_service_requests_instance_id', 'service_requests', ['instance_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_service_requests_instance_id', table_name='service_requests')
