"""Incidents: a supervisor retries or dismisses a job whose retries ran out, or sends a failed message again.

Each is audited on the job's or the message's case, so the case history says who did it and when.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from engine import audit, jobs
from engine.actors import Actor
from engine.errors import JOB_NOT_INCIDENT, NO_SUCH, REQUIRED, Conflict, InvalidInput, NotFound, error_code
from engine.job_rows import announce_due
from engine.models import Job, OutboxMessage
from workflows.accounts import require_role

if TYPE_CHECKING:
    from engine.context import CaseEngine

#: A message (``message``) that is not one that failed (its ``status``), so there is nothing to send again.
MESSAGE_NOT_FAILED = error_code("message_not_failed", "message", "status")
#: The status of a job a supervisor dismissed: kept as a record, never taken by a worker again.
DISMISSED = "dismissed"
#: The longest reason kept.
REASON_CHARS = 500


def retry_job(engine: CaseEngine, session: Session, actor: Actor, job_id: int) -> dict[str, Any]:
    """Make an incident's job due now again with a fresh set of attempts (audited ``incident_retried``).

    Raises:
        Forbidden: not a supervisor or administrator. NotFound: no such job.
        Conflict: the job is not an incident (already retried, or dismissed).
    """
    require_role(actor, "supervisor", "administrator")
    return jobs.retry_incident(engine, session, actor, job_id)


def dismiss_job(engine: CaseEngine, session: Session, actor: Actor, job_id: int, reason: str) -> dict[str, Any]:
    """Give up an incident's job, for ``reason`` (audited ``incident_dismissed`` with the reason).

    The job is kept, as ``dismissed``, and no worker takes it again: what it would have done
    (a timer, a reminder) does not happen.

    Raises:
        Forbidden: not a supervisor or administrator. InvalidInput: no reason.
        NotFound: no such job. Conflict: the job is not an incident.
    """
    require_role(actor, "supervisor", "administrator")
    reason = " ".join((reason or "").split())[:REASON_CHARS]
    if not reason:
        raise InvalidInput("a dismissal needs a reason", code=REQUIRED, params={"field": "reason"})
    job = session.get(Job, job_id, with_for_update=True)
    if job is None:
        raise NotFound(f"no job {job_id}", code=NO_SUCH, params={"what": "job", "ident": job_id})
    if job.status != "incident":
        raise Conflict(f"job {job_id} is {job.status}, not an incident", code=JOB_NOT_INCIDENT,
                       params={"job": job_id, "status": job.status})
    job.status = DISMISSED
    session.flush()
    audit.record(session, engine.clock.now(), actor, "incident_dismissed", job.instance_id, job.task_id,
                 job.element_id, {"job_id": job.id, "kind": job.kind, "reason": reason})
    return {"id": job.id, "status": job.status, "reason": reason}


def retry_message(engine: CaseEngine, session: Session, actor: Actor, message_id: int) -> dict[str, Any]:
    """Put a failed message back to pending, due now, with a fresh set of attempts (audited ``message_retried``).

    Raises:
        Forbidden: not a supervisor or administrator. NotFound: no such message.
        Conflict: the message has not failed (sent, pending, or retried already).
    """
    require_role(actor, "supervisor", "administrator")
    message = session.get(OutboxMessage, message_id, with_for_update=True)
    if message is None:
        raise NotFound(f"no message {message_id}", code=NO_SUCH, params={"what": "message", "ident": message_id})
    if message.status != "failed":
        raise Conflict(f"message {message_id} is {message.status}, not failed", code=MESSAGE_NOT_FAILED,
                       params={"message": message_id, "status": message.status})
    now = engine.clock.now()
    message.status, message.attempts, message.next_attempt_at = "pending", 0, now
    session.flush()
    audit.record(session, now, actor, "message_retried", message.instance_id, message.task_id, None,
                 {"message_id": message.id, "kind": message.kind, "recipient": message.recipient.partition(":")[0],
                  "error": (message.last_error or "")[:200]})
    announce_due(session, now)
    return {"id": message.id, "status": message.status}
