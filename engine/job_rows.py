"""Job rows: the one module that builds them, and the settings they follow.

A job row is written in the transaction that creates its reason (a timer left waiting, a task
opened with an SLA, a definition with a timer start event). Whoever writes one tells the
workers when it is due (`announce_due`): after commit this process's worker is re-armed, and
on PostgreSQL a NOTIFY (delivered at commit) wakes the workers of other processes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.orm import Session

from engine.errors import ConfigError
from engine.models import Job

_INSERT = insert(Job.__table__)
_EARLIEST = "earliest_job"
TIMER, TIMER_START, SLA_WARN, SLA_ESCALATE = "timer", "timer_start", "sla_warn", "sla_escalate"


@dataclass
class JobSettings:
    """The ``jobs`` section of the settings."""

    batch_size: int = 50
    lock_seconds: float = 60.0
    poll_seconds: float = 2.0
    max_attempts: int = 5
    backoff_seconds: float = 2.0
    backoff_max_seconds: float = 600.0
    notify: bool = True

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> JobSettings:
        """Read the settings, refusing values that cannot work."""
        section = settings.get("jobs") or {}
        try:
            made = cls(
                batch_size=int(section.get("batch_size", 50)),
                lock_seconds=float(section.get("lock_seconds", 60)),
                poll_seconds=float(section.get("poll_seconds", 2)),
                max_attempts=int(section.get("max_attempts", 5)),
                backoff_seconds=float(section.get("backoff_seconds", 2)),
                backoff_max_seconds=float(section.get("backoff_max_seconds", 600)),
                notify=bool(section.get("notify", True)),
            )
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"jobs settings: {exc}") from None
        if made.batch_size < 1 or made.lock_seconds <= 0 or made.poll_seconds <= 0 or made.max_attempts < 1:
            raise ConfigError("jobs.batch_size, lock_seconds, poll_seconds and max_attempts must be positive")
        return made


def job_row(
    kind: str,
    due_at: datetime,
    now: datetime,
    max_attempts: int,
    *,
    task_id: str,
    element_id: str,
    instance_id: int | None = None,
    definition_id: int | None = None,
    payload: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One pending job row, ready for `insert_jobs`."""
    return {
        "kind": kind, "instance_id": instance_id, "definition_id": definition_id, "task_id": task_id,
        "element_id": element_id, "due_at": due_at, "status": "pending", "attempts": 0,
        "max_attempts": max_attempts, "payload": payload or {}, "created_at": now,
    }


def sla_job_rows(
    instance_id: int,
    task_id: str,
    element_id: str,
    warn_at: datetime | None,
    escalations: Iterable[tuple[datetime, str]],
    now: datetime,
    max_attempts: int,
) -> list[dict[str, Any]]:
    """The warning job and one job per escalation level of a task that opened with an SLA."""
    where = {"instance_id": instance_id, "task_id": task_id, "element_id": element_id}
    rows = []
    if warn_at is not None:
        rows.append(job_row(SLA_WARN, warn_at, now, max_attempts, **where))
    for level, (at, group) in enumerate(escalations, start=1):
        rows.append(job_row(f"{SLA_ESCALATE}_{level}", at, now, max_attempts, payload={"level": level, "to": group},
                            **where))
    return rows


def insert_jobs(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert job rows in one statement and announce the earliest."""
    if rows:
        session.connection().execute(_INSERT, rows)
        announce_due(session, min(row["due_at"] for row in rows))


def announce_due(session: Session, due_at: datetime) -> None:
    """Record that this transaction wrote work due at ``due_at`` (a job, a message to send)."""
    earliest = session.info.get(_EARLIEST)
    if earliest is None or due_at < earliest:
        session.info[_EARLIEST] = due_at


def earliest_due(session: Session) -> datetime | None:
    """The earliest due time announced in this transaction, if any."""
    return session.info.get(_EARLIEST)


def take_earliest_due(info: dict[str, Any]) -> datetime | None:
    """Remove and return the earliest due time recorded in a session's ``info`` (after commit)."""
    return info.pop(_EARLIEST, None)


def notify_statement() -> Any:
    """The PostgreSQL statement that wakes listening workers (delivered at commit)."""
    return text("SELECT pg_notify('tawasul_jobs', :due)")
