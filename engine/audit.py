"""The audit log: the one module that writes audit rows.

Writers queue events on the session (`record`); `flush` inserts the queue in one statement,
in the order the events were recorded. `CaseEngine.run` flushes what is left before it
commits and drops the queue of a command it does not commit.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from engine.actors import Actor
from engine.models import AuditEvent

_SUMMARY_VALUE_CHARS = 120
_PENDING = "pending_audit"
_INSERT = insert(AuditEvent.__table__)


def record(
    session: Session,
    now: datetime,
    actor: Actor | str,
    action: str,
    instance_id: int | None = None,
    task_id: str | None = None,
    element_id: str | None = None,
    summary: Mapping[str, Any] | None = None,
) -> None:
    """Queue one event: who (``actor``), when, what (``action``), where, and a short summary."""
    session.info.setdefault(_PENDING, []).append(
        {
            "at": now,
            "actor": actor if isinstance(actor, str) else actor.name,
            "action": action,
            "instance_id": instance_id,
            "task_id": task_id,
            "element_id": element_id,
            "summary": dict(summary or {}),
        }
    )


def flush(session: Session) -> None:
    """Insert the queued events (one statement), emptying the queue."""
    pending = session.info.pop(_PENDING, None)
    if pending:
        session.connection().execute(_INSERT, pending)


def discard(session: Session) -> None:
    """Drop the queued events (the command that recorded them is not committed)."""
    session.info.pop(_PENDING, None)


def last_change(session: Session, instance_id: int) -> AuditEvent | None:
    """The newest event of an instance: who changed it last, and how."""
    return session.scalars(
        select(AuditEvent).where(AuditEvent.instance_id == instance_id).order_by(AuditEvent.id.desc()).limit(1)
    ).first()


def summarize(data: Mapping[str, Any] | None) -> dict[str, Any]:
    """A short copy of ``data`` for the audit log: scalars kept, long text and structures shortened.

    A copy is taken because SpiffWorkflow shares nested task data between tasks.
    """
    summary: dict[str, Any] = {}
    for key, value in (data or {}).items():
        if isinstance(value, bool | int | float) or value is None:
            summary[key] = value
        elif isinstance(value, str):
            summary[key] = _shorten(value)
        elif isinstance(value, dict):
            summary[key] = f"{{{len(value)} keys}}"
        elif isinstance(value, list | tuple):
            summary[key] = f"[{len(value)} items]"
        else:
            summary[key] = _shorten(str(value))
    return summary


def _shorten(text: str) -> str:
    return text if len(text) <= _SUMMARY_VALUE_CHARS else text[:_SUMMARY_VALUE_CHARS] + "…"
