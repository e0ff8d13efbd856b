"""inbox indexes: due order, visibility counts

Revision ID: engine_0004
Revises: engine_0003
Create Date: 2026-11-25
"""
from collections.abc import Sequence

from alembic import op

revision: str = 'engine_0004'
down_revision: str | None = 'engine_0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_human_tasks_due_order', 'human_tasks', ['due_at', 'created_at', 'id'], unique=False)
    op.create_index('ix_human_tasks_visibility', 'human_tasks',
                    ['lane', 'candidate_group', 'assignee', 'due_at', 'warn_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_human_tasks_visibility', table_name='human_tasks')
    op.drop_index('ix_human_tasks_due_order', table_name='human_tasks')
