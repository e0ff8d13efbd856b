"""Due work: run what is due (timers, SLA warnings, the outbox), and give an incident another go."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from engine import jobs
from engine.actors import Actor
from engine.errors import NOT_ALLOWED, Forbidden

if TYPE_CHECKING:
    from engine.context import CaseEngine


def run_due(engine: CaseEngine, now: datetime | None = None) -> dict[str, int]:
    """Run every job due at ``now`` (default: the clock), each in its own transaction, then the outbox.

    With an explicit ``now`` every job due then runs once; a second call at the same instant runs
    nothing. Not run inside a unit of work: it opens one per job, as a worker does.
    """
    report = jobs.run_due_jobs(engine, now)
    return {"fired": report.fired, "ran": report.ran, "failed": report.failed, "incidents": report.incidents}


def retry_incident(engine: CaseEngine, session: Session, actor: Actor, job_id: int) -> dict[str, Any]:
    """Make an incident's job due now again, with a fresh set of attempts; supervisors only.

    Raises:
        Forbidden: the actor is not a supervisor. NotFound: no such job.
        Conflict: the job is not an incident.
    """
    if not actor.may_assign:
        raise Forbidden(f"{actor.name} may not retry incidents; a supervisor can", code=NOT_ALLOWED,
                        params={"action": "retry_incident", "actor": actor.name, "roles": ["supervisor"]})
    return jobs.retry_incident(engine, session, actor, job_id)
