"""Task history: when a human task closes, the same transaction keeps a record of it.

The open task's projection row becomes a `TaskRecord`, copied inside the database, with how
and when it closed, who had it, and whether its deadline held, and the projection row goes:
on PostgreSQL one statement (the DELETE feeds the INSERT), on SQLite two.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, bindparam, case, delete, false, insert, null, select, true
from sqlalchemy.orm import Session

from engine.actors import SYSTEM
from engine.models import HumanTask, TaskRecord

COMPLETED, CANCELLED, INTERRUPTED, MIGRATED = "completed", "cancelled", "interrupted", "migrated"
OUTCOMES = (COMPLETED, CANCELLED, INTERRUPTED, MIGRATED)

_TASKS = HumanTask.__table__
_HISTORY = TaskRecord.__table__
_NOW = bindparam("v_now", type_=_HISTORY.c.closed_at.type)
_COLUMNS = ["task_id", "instance_id", "process_key", "process_version", "element_id", "name", "lane",
            "candidate_group", "opened_at", "first_claimed_at", "first_claimed_by", "assignee", "closed_at",
            "closed_by", "outcome", "due_at", "warn_at", "deadline_met", "escalation_level"]
_IDS = bindparam("b_ids", expanding=True)


def _records_of(open_tasks: Any) -> Any:
    """The history records of the rows of ``open_tasks`` (the projection, or what a DELETE returned)."""
    c = open_tasks.c
    outcome = case((c.id == bindparam("v_completed", type_=String), COMPLETED),
                   else_=bindparam("v_other", type_=String))
    # A person completes or cancels; a task the case moved away from was closed by the engine.
    closed_by = case((outcome == INTERRUPTED, SYSTEM.name), else_=bindparam("v_by", type_=String))
    # Met: done by its due time. Missed: closed, however, after it. None: no deadline, or closed
    # early without being done (cancelled, or the case moved on before it was due).
    met = case((c.due_at.is_(None), null()), (c.due_at < _NOW, false()), (outcome == COMPLETED, true()), else_=null())
    return select(c.id, c.instance_id, bindparam("v_key", type_=String), bindparam("v_version"), c.element_id, c.name,
                  c.lane, c.candidate_group, c.created_at, c.first_claimed_at, c.first_claimed_by, c.assignee, _NOW,
                  closed_by, outcome, c.due_at, c.warn_at, met, c.escalation_level)


#: SQLite: copy the rows into the history, then delete them (two statements, no rows to Python).
_COPY = insert(_HISTORY).from_select(_COLUMNS, _records_of(_TASKS).where(_TASKS.c.id.in_(_IDS)))
_REMOVE = delete(_TASKS).where(_TASKS.c.id.in_(_IDS))
#: PostgreSQL: the same as one statement, the delete feeding the insert.
_CLOSED = delete(_TASKS).where(_TASKS.c.id.in_(_IDS)).returning(*_TASKS.c).cte("closed")
_MOVE = insert(_HISTORY).add_cte(_CLOSED).from_select(_COLUMNS, _records_of(_CLOSED))


def close_tasks(
    session: Session,
    task_ids: list[str],
    *,
    now: datetime,
    closed_by: str,
    completed: str | None,
    other: str,
    process_key: str,
    process_version: int,
) -> None:
    """Record open tasks in the history and remove them from the projection.

    ``completed`` is the task ``closed_by`` completed (if one is among them); the others closed as
    ``other``: `CANCELLED` (by ``closed_by``) or `INTERRUPTED` (by the engine, recorded as system).
    """
    if not task_ids:
        return
    connection = session.connection()
    params = {"b_ids": task_ids, "v_now": now, "v_by": closed_by, "v_completed": completed or "", "v_other": other,
              "v_key": process_key, "v_version": process_version}
    if connection.dialect.name == "postgresql":
        connection.execute(_MOVE, params)
    else:
        connection.execute(_COPY, params)
        connection.execute(_REMOVE, {"b_ids": task_ids})


def last_record(session: Session, task_id: str) -> TaskRecord | None:
    """The newest history record of a task id (how the task closed), if it has closed."""
    return session.scalars(
        select(TaskRecord).where(TaskRecord.task_id == task_id).order_by(TaskRecord.id.desc()).limit(1)
    ).first()
