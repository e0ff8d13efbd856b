"""Durable jobs: acquisition by workers, running, retries with backoff, incidents.

A job row is written in the transaction that creates its reason (a timer left waiting, a task
opened with an SLA, a definition with a timer start event) and removed in the transaction that
ends it. Workers take due jobs in batches:

* PostgreSQL: ``UPDATE jobs … WHERE id IN (SELECT … FOR UPDATE OF jobs SKIP LOCKED) RETURNING …``,
  so any number of workers on any number of machines share the work and each job is taken once;
* SQLite: the same statement inside ``BEGIN IMMEDIATE``: one writer at a time.

A taken job carries ``lock_owner`` and ``lock_expires_at``; running workers renew the lock
(heartbeat); a lock whose owner died expires and the job is taken again. Work is fenced so a
job taken twice (its first owner was only slow) is applied once: instance jobs by the instance
revision check, the others by finishing the job row ``WHERE lock_owner = me``.

Locks are always taken in the order instance row → human task row → job row, the same order
the commands use, so a worker and a user never deadlock.
"""

from __future__ import annotations

import logging
import os
import socket
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, delete, func, or_, select, update
from sqlalchemy.orm import Session

from engine import audit
from engine.actors import SYSTEM, Actor
from engine.errors import JOB_NOT_INCIDENT, NO_SUCH, Conflict, EngineError, NotFound
from engine.job_rows import JobSettings, announce_due
from engine.models import Job, ProcessInstance

if TYPE_CHECKING:
    from engine.context import CaseEngine

log = logging.getLogger("tawasul.jobs")

_JOBS = Job.__table__
_INSTANCES = ProcessInstance.__table__
_RETURNED = [
    _JOBS.c.id, _JOBS.c.kind, _JOBS.c.instance_id, _JOBS.c.definition_id, _JOBS.c.task_id,
    _JOBS.c.element_id, _JOBS.c.due_at, _JOBS.c.attempts, _JOBS.c.max_attempts, _JOBS.c.payload,
]


@dataclass
class JobRef:
    """A job taken by a worker."""

    id: int
    kind: str
    instance_id: int | None
    definition_id: int | None
    task_id: str
    element_id: str
    due_at: datetime
    attempts: int
    max_attempts: int
    payload: dict[str, Any] = field(default_factory=dict)


class JobLost(Exception):  # noqa: N818 - a signal, not an error
    """The job is no longer this worker's (its lock expired and another took it, or it ended)."""


@dataclass
class RunReport:
    """What one `run_due_jobs` call did."""

    ran: int = 0
    fired: int = 0
    failed: int = 0
    incidents: int = 0
    lost: int = 0
    #: Messages the drain hooks sent (the domain's outbox).
    sent: int = 0

    def add(self, other: RunReport) -> None:
        """Add another report's counts to this one."""
        for name in ("ran", "fired", "failed", "incidents", "lost", "sent"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


def new_owner() -> str:
    """A worker identity: host, process and a random part (unique across restarts)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


# -- acquiring ----------------------------------------------------------------------------------


def reap_expired_locks(engine: CaseEngine, session: Session, now: datetime) -> int:
    """Give back jobs whose worker's lock expired (the worker died); return how many."""
    result = session.connection().execute(
        update(_JOBS)
        .where(_JOBS.c.status == "running", _JOBS.c.lock_expires_at < now)
        .values(status="pending", lock_owner=None, lock_expires_at=None)
    )
    return result.rowcount or 0


def acquire_jobs(
    engine: CaseEngine, session: Session, owner: str, now: datetime, limit: int, lock_seconds: float
) -> list[JobRef]:
    """Lock up to ``limit`` due jobs for ``owner``, oldest first, skipping jobs others hold.

    Jobs of an instance that is not running (in error, say) wait until it runs again.
    """
    reap_expired_locks(engine, session, now)
    due = (
        select(_JOBS.c.id)
        .select_from(_JOBS.outerjoin(_INSTANCES, _INSTANCES.c.id == _JOBS.c.instance_id))
        .where(
            _JOBS.c.status == "pending",
            _JOBS.c.due_at <= now,
            or_(_JOBS.c.instance_id.is_(None), _INSTANCES.c.status == "running"),
        )
        .order_by(_JOBS.c.due_at, _JOBS.c.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True, of=_JOBS)
    rows = session.connection().execute(
        update(_JOBS)
        .where(_JOBS.c.id.in_(due.scalar_subquery()))
        .values(status="running", lock_owner=owner, lock_expires_at=now + timedelta(seconds=lock_seconds))
        .returning(*_RETURNED)
    ).all()
    jobs = [JobRef(*row) for row in rows]
    jobs.sort(key=lambda job: (job.due_at, job.id))
    return jobs


def renew_locks(engine: CaseEngine, owner: str, lock_seconds: float, job_ids: set[int] | None = None) -> int:
    """Heartbeat: extend the locks ``owner`` holds on ``job_ids`` (the batch in hand); return how many.

    Only jobs the worker still has in hand are renewed: a job it lost track of (its database
    went away mid-batch) is left to expire and be taken again.
    """
    ids = sorted(job_ids if job_ids is not None else ())
    if not ids:
        return 0
    with engine.unit_of_work() as uow:
        result = uow.session.connection().execute(
            update(_JOBS)
            .where(_JOBS.c.lock_owner == owner, _JOBS.c.status == "running", _JOBS.c.id.in_(ids))
            .values(lock_expires_at=engine.clock.now() + timedelta(seconds=lock_seconds))
        )
        uow.commit()
    return result.rowcount or 0


def lock_instance(session: Session, instance_id: int | None) -> None:
    """Take the instance's row lock first, as commands do (instance → task → job: no deadlock)."""
    if instance_id is not None and session.get_bind().dialect.name == "postgresql":
        session.connection().execute(
            select(_INSTANCES.c.id).where(_INSTANCES.c.id == instance_id).with_for_update()
        )


# -- finishing ----------------------------------------------------------------------------------

_FINISH = delete(_JOBS).where(
    _JOBS.c.id == bindparam("b_id"), _JOBS.c.lock_owner == bindparam("b_owner"), _JOBS.c.status == "running"
)


def finish_job(session: Session, job: JobRef, owner: str) -> None:
    """Delete a job this worker holds; `JobLost` if it is no longer this worker's."""
    if session.connection().execute(_FINISH, {"b_id": job.id, "b_owner": owner}).rowcount != 1:
        raise JobLost(job.id)


def reschedule_job(session: Session, job: JobRef, owner: str, due_at: datetime, payload: dict[str, Any]) -> None:
    """Put a job this worker holds back to pending at ``due_at`` (a cycle's next occurrence)."""
    result = session.connection().execute(
        update(_JOBS)
        .where(_JOBS.c.id == job.id, _JOBS.c.lock_owner == owner, _JOBS.c.status == "running")
        .values(status="pending", due_at=due_at, payload=payload, lock_owner=None, lock_expires_at=None,
                attempts=0, last_error=None)
    )
    if result.rowcount != 1:
        raise JobLost(job.id)


def _release(engine: CaseEngine, job: JobRef, owner: str, due_at: datetime, attempts: int, error: str | None,
             status: str = "pending") -> None:
    with engine.unit_of_work() as uow:
        uow.session.connection().execute(
            update(_JOBS)
            .where(_JOBS.c.id == job.id, _JOBS.c.lock_owner == owner, _JOBS.c.status == "running")
            .values(status=status, due_at=due_at, attempts=attempts, last_error=error, lock_owner=None,
                    lock_expires_at=None)
        )
        if status == "incident":
            audit.record(uow.session, engine.clock.now(), SYSTEM, "incident", job.instance_id, job.task_id,
                         job.element_id, {"job_id": job.id, "kind": job.kind, "error": (error or "")[:500]})
            audit.flush(uow.session)
        uow.commit()


# -- running ------------------------------------------------------------------------------------

JobHandler = Callable[["CaseEngine", Session, JobRef, str, datetime], int]


def run_job(engine: CaseEngine, job: JobRef, owner: str, now: datetime, settings: JobSettings) -> RunReport:
    """Run one taken job in its own transaction; on failure retry with backoff, then an incident."""
    report = RunReport()
    handler = engine.job_handlers.get(job.kind) or engine.job_handlers.get(job.kind.rstrip("0123456789_"))
    try:
        if handler is None:
            raise NotFound(f"no handler for job kind {job.kind!r}", code=NO_SUCH,
                           params={"what": "job_kind", "ident": job.kind})
        report.fired = engine.run(handler, job, owner, now)
        report.ran = 1
    except JobLost:
        report.lost = 1
    except Conflict:
        # Someone changed the case at the same moment: try again at once, no attempt used.
        _release(engine, job, owner, max(now, job.due_at), job.attempts, None)
        report.lost = 1
    except Exception as exc:  # noqa: BLE001 - any failure of a job is recorded, never raised to the loop
        attempts = job.attempts + 1
        message = exc.message if isinstance(exc, EngineError) else f"{type(exc).__name__}: {exc}"
        if not isinstance(exc, EngineError):
            log.warning("job %s (%s) failed: %s", job.id, job.kind, "".join(traceback.format_exception(exc))[-2000:])
        if attempts >= job.max_attempts:
            _release(engine, job, owner, job.due_at, attempts, message, status="incident")
            report.incidents = 1
        else:
            delay = min(settings.backoff_seconds * 2 ** (attempts - 1), settings.backoff_max_seconds)
            _release(engine, job, owner, now + timedelta(seconds=delay), attempts, message)
        report.failed = 1
    return report


def run_due_jobs(
    engine: CaseEngine,
    now: datetime | None = None,
    owner: str | None = None,
    settings: JobSettings | None = None,
    max_rounds: int | None = None,
    held: set[int] | None = None,
) -> RunReport:
    """Take and run due jobs in batches until none is due at ``now`` (default: the clock).

    With an explicit ``now`` (``tawasul jobs run-due --now T``) every job due at T runs once;
    a second call at the same instant runs nothing. ``held`` is kept up to date with the ids of
    the jobs in hand (the worker's heartbeat renews only those).
    """
    settings = settings or engine.job_settings
    owner = owner or new_owner()
    held = held if held is not None else set()
    fixed_now = now
    report = RunReport()
    rounds = 0
    while max_rounds is None or rounds < max_rounds:
        rounds += 1
        current = fixed_now or engine.clock.now()
        with engine.unit_of_work() as uow:
            jobs = acquire_jobs(engine, uow.session, owner, current, settings.batch_size, settings.lock_seconds)
            uow.commit()
        if not jobs:
            break
        held.update(job.id for job in jobs)
        try:
            for job in jobs:
                report.add(run_job(engine, job, owner, fixed_now or engine.clock.now(), settings))
                held.discard(job.id)
        finally:
            if held:
                # The database went away mid-batch: give the rest back (or let their locks expire).
                _give_back(engine, owner, held)
                held.clear()
    for hook in list(engine.drain_hooks):
        try:
            report.sent += hook(engine, fixed_now)
        except Exception:  # noqa: BLE001 - a failing hook must not stop the jobs; it runs again next drain
            log.exception("drain hook %r failed", hook)
    return report


def _give_back(engine: CaseEngine, owner: str, job_ids: set[int]) -> None:
    try:
        with engine.unit_of_work() as uow:
            uow.session.connection().execute(
                update(_JOBS)
                .where(_JOBS.c.id.in_(sorted(job_ids)), _JOBS.c.lock_owner == owner, _JOBS.c.status == "running")
                .values(status="pending", lock_owner=None, lock_expires_at=None)
            )
            uow.commit()
    except Exception:  # noqa: BLE001 - the locks expire on their own; the heartbeat no longer renews them
        log.exception("could not give back %d jobs; their locks will expire", len(job_ids))


def next_due_at(engine: CaseEngine) -> datetime | None:
    """The earliest due time of a pending job a worker may take (not one of a case in error)."""
    with engine.unit_of_work(readonly=True) as uow:
        return uow.session.scalar(
            select(func.min(_JOBS.c.due_at))
            .select_from(_JOBS.outerjoin(_INSTANCES, _INSTANCES.c.id == _JOBS.c.instance_id))
            .where(_JOBS.c.status == "pending",
                   or_(_JOBS.c.instance_id.is_(None), _INSTANCES.c.status == "running"))
        )


# -- incidents ----------------------------------------------------------------------------------


def retry_incident(engine: CaseEngine, session: Session, actor: Actor, job_id: int) -> dict[str, Any]:
    """Make an incident's job due now again, with a fresh set of attempts.

    Raises:
        NotFound: no job with that id.
        Conflict: the job is not an incident.
    """
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound(f"no job {job_id}", code=NO_SUCH, params={"what": "job", "ident": job_id})
    if job.status != "incident":
        raise Conflict(f"job {job_id} is {job.status}, not an incident", code=JOB_NOT_INCIDENT,
                       params={"job": job_id, "status": job.status})
    now = engine.clock.now()
    job.status, job.attempts, job.due_at, job.lock_owner, job.lock_expires_at = "pending", 0, now, None, None
    session.flush()
    audit.record(session, now, actor, "incident_retried", job.instance_id, job.task_id, job.element_id,
                 {"job_id": job.id})
    announce_due(session, now)
    return {"id": job.id, "status": job.status, "due_at": now.isoformat()}
