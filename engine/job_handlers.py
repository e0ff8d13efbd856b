"""The built-in kinds of job, as handlers `engine.bootstrap` registers with the engine.

Each runs in the job's own transaction as ``handler(engine, session, job, owner, now)`` and
returns how many timers fired. Instance jobs are fenced by the instance revision (a job taken
twice is applied once); the others by finishing the job row ``WHERE lock_owner = me``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, func, insert, select, update
from sqlalchemy.orm import Session

from engine import audit
from engine.actors import SYSTEM
from engine.commands import fire_instance_timers, start_instance
from engine.job_rows import SLA_ESCALATE, SLA_WARN, TIMER, TIMER_START, announce_due
from engine.jobs import JobRef, finish_job, lock_instance, reschedule_job
from engine.models import HumanTask, Job, OutboxMessage, ProcessDefinition
from engine.outbox import new_message_status

if TYPE_CHECKING:
    from engine.context import CaseEngine

log = logging.getLogger("tawasul.jobs")

_JOBS = Job.__table__
_TASKS = HumanTask.__table__


def handle_timer(engine: CaseEngine, session: Session, job: JobRef, owner: str, now: datetime) -> int:
    """Fire the instance's due timers (the instance revision check fences a job taken twice)."""
    assert job.instance_id is not None
    fired = fire_instance_timers(engine, session, SYSTEM, job.instance_id, now)
    # If the timer did not fire (not due in the engine's view), give the job back a little later,
    # so the same run does not take it again at once.
    later = now + timedelta(seconds=1)
    released = session.connection().execute(
        update(_JOBS)
        .where(and_(_JOBS.c.id == job.id, _JOBS.c.lock_owner == owner, _JOBS.c.status == "running"))
        .values(status="pending", lock_owner=None, lock_expires_at=None,
                due_at=func.greatest(_JOBS.c.due_at, later) if session.get_bind().dialect.name == "postgresql"
                else func.max(_JOBS.c.due_at, later))
    )
    if released.rowcount:
        log.warning("timer job %s of instance %s was due but its timer did not fire; retrying", job.id,
                    job.instance_id)
    return fired


def handle_timer_start(engine: CaseEngine, session: Session, job: JobRef, owner: str, now: datetime) -> int:
    """Start an instance for a timer start event, then schedule the cycle's next occurrence."""
    definition = session.get(ProcessDefinition, job.definition_id)
    if definition is None:
        finish_job(session, job, owner)
        return 0
    start_instance(engine, session, SYSTEM, definition.key, definition.version, {}, start_timer=job.element_id)
    remaining = int(job.payload.get("remaining", 0))  # occurrences after this one; -1: for ever
    interval = float(job.payload.get("interval_seconds", 0))
    next_due = job.due_at + timedelta(seconds=interval)
    # A worker that was down starts one instance now, not a flood: missed occurrences are used up.
    while interval > 0 and remaining != 0 and next_due <= now:
        next_due += timedelta(seconds=interval)
        remaining = remaining - 1 if remaining > 0 else remaining
    if interval > 0 and remaining != 0:
        payload = dict(job.payload, remaining=remaining - 1 if remaining > 0 else remaining)
        reschedule_job(session, job, owner, next_due, payload)
        announce_due(session, next_due)
    else:
        finish_job(session, job, owner)
    return 1


def _task_row(session: Session, task_id: str) -> Any:
    return session.connection().execute(
        select(_TASKS.c.id, _TASKS.c.name, _TASKS.c.lane, _TASKS.c.candidate_group, _TASKS.c.assignee,
               _TASKS.c.due_at, _TASKS.c.instance_id, _TASKS.c.element_id).where(_TASKS.c.id == task_id)
    ).first()


def _outbox(session: Session, now: datetime, kind: str, recipient: str, task: Any, extra: dict[str, Any]) -> None:
    session.connection().execute(
        insert(OutboxMessage.__table__),
        [{"created_at": now, "kind": kind, "recipient": recipient, "instance_id": task.instance_id,
          "task_id": task.id, "status": new_message_status(session), "attempts": 0,
          "payload": {"task_name": task.name, "element_id": task.element_id,
                      "due_at": task.due_at.isoformat() if task.due_at else None, **extra}}],
    )
    announce_due(session, now)


def handle_warning(engine: CaseEngine, session: Session, job: JobRef, owner: str, now: datetime) -> int:
    """At warning time: tell the assignee (or the lane) that the task is at risk."""
    lock_instance(session, job.instance_id)
    task = _task_row(session, job.task_id)
    if task is None:
        finish_job(session, job, owner)
        return 0
    group = task.candidate_group or task.lane or "supervisor"  # a task with no lane: the supervisors
    recipient = f"user:{task.assignee}" if task.assignee else f"group:{group}"
    _outbox(session, now, "task_warning", recipient, task, {})
    audit.record(session, now, SYSTEM, "sla_warning", task.instance_id, task.id, task.element_id,
                 {"recipient": recipient})
    finish_job(session, job, owner)
    return 0


def handle_escalation(engine: CaseEngine, session: Session, job: JobRef, owner: str, now: datetime) -> int:
    """At an escalation level: offer the task to the next group and record it."""
    lock_instance(session, job.instance_id)
    group = str(job.payload.get("to") or "")
    level = int(job.payload.get("level", 1))
    result = session.connection().execute(
        update(_TASKS).where(_TASKS.c.id == job.task_id)
        .values(candidate_group=group, escalation_level=func.max(_TASKS.c.escalation_level, level)
                if session.get_bind().dialect.name == "sqlite"
                else func.greatest(_TASKS.c.escalation_level, level))
    )
    if result.rowcount != 1:
        finish_job(session, job, owner)
        return 0
    task = _task_row(session, job.task_id)
    _outbox(session, now, "task_escalated", f"group:{group}", task, {"level": level})
    audit.record(session, now, SYSTEM, "escalated", task.instance_id, task.id, task.element_id,
                 {"level": level, "to": group, "assignee": task.assignee})
    finish_job(session, job, owner)
    return 0


#: The kinds the engine itself writes; ``sla_escalate_<n>`` runs the ``sla_escalate`` handler.
BUILT_IN: dict[str, Callable[..., int]] = {
    TIMER: handle_timer,
    TIMER_START: handle_timer_start,
    SLA_WARN: handle_warning,
    SLA_ESCALATE: handle_escalation,
}
