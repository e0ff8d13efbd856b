"""inbox indexes: due order, visibility counts, requests by instance

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_human_tasks_due_order', 'human_tasks', ['due_at', 'created_at', 'id'], unique=False)
    op.create_index('ix_human_tasks_visibility', 'human_tasks',
                    ['lane', 'candidate_group', 'assignee', 'due_at', 'warn_at'], unique=False)
    op.create_index('ix_service_requests_instance_id', 'service_requests', ['instance_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_service_requests_instance_id', table_name='service_requests')
    op.drop_index('ix_human_tasks_visibility', table_name='human_tasks')
    op.drop_index('ix_human_tasks_due_order', table_name='human_tasks')
