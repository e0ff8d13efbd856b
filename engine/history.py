"""Task history: when a human task closes, the same transaction keeps a record of it.

The open task's projection row is deleted and returned in one statement, and becomes a
`TaskRecord` with how and when it closed, who had it, and whether its deadline held.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, insert, select
from sqlalchemy.orm import Session

from engine.models import HumanTask, TaskRecord

COMPLETED, CANCELLED, INTERRUPTED, MIGRATED = "completed", "cancelled", "interrupted", "migrated"
OUTCOMES = (COMPLETED, CANCELLED, INTERRUPTED, MIGRATED)

_TASKS = HumanTask.__table__
_KEPT = ("id", "instance_id", "element_id", "name", "lane", "candidate_group", "assignee", "created_at", "due_at",
         "warn_at", "first_claimed_at", "first_claimed_by", "escalation_level")
_CLOSE = (
    delete(_TASKS)
    .where(_TASKS.c.id.in_(bindparam("b_ids", expanding=True)))
    .returning(*(_TASKS.c[name] for name in _KEPT))
)
_INSERT = insert(TaskRecord.__table__)


def deadline_met(due_at: datetime | None, closed_at: datetime, outcome: str) -> bool | None:
    """Whether a task closed by its deadline.

    True when it was done by its due time; False when it closed (however) after it; None when
    it had no deadline, or closed before it without being done.
    """
    if due_at is None:
        return None
    if closed_at > due_at:
        return False
    return True if outcome == COMPLETED else None


def close_tasks(
    session: Session,
    task_ids: list[str],
    *,
    now: datetime,
    closed_by: str,
    outcome: Callable[[str], str],
    process_key: str,
    process_version: int,
) -> list[dict[str, Any]]:
    """Remove open tasks from the projection and record them in the history; return the records.

    ``outcome(task_id)`` says how each one closed (one of `OUTCOMES`).
    """
    if not task_ids:
        return []
    rows = session.connection().execute(_CLOSE, {"b_ids": task_ids}).all()
    records = []
    for row in rows:
        how = outcome(row.id)
        records.append({
            "task_id": row.id, "instance_id": row.instance_id, "process_key": process_key,
            "process_version": process_version, "element_id": row.element_id, "name": row.name, "lane": row.lane,
            "candidate_group": row.candidate_group, "opened_at": row.created_at,
            "first_claimed_at": row.first_claimed_at, "first_claimed_by": row.first_claimed_by,
            "assignee": row.assignee, "closed_at": now, "closed_by": closed_by, "outcome": how,
            "due_at": row.due_at, "warn_at": row.warn_at, "deadline_met": deadline_met(row.due_at, now, how),
            "escalation_level": row.escalation_level or 0,
        })
    if records:
        session.connection().execute(_INSERT, records)
    return records


def last_record(session: Session, task_id: str) -> TaskRecord | None:
    """The newest history record of a task id (how the task closed), if it has closed."""
    return session.scalars(
        select(TaskRecord).where(TaskRecord.task_id == task_id).order_by(TaskRecord.id.desc()).limit(1)
    ).first()
