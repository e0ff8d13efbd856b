"""Read-only queries over instances, the task projection and jobs (no engine steps run here)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.access import visible_condition
from engine.actors import Actor
from engine.definitions import parsed_process
from engine.errors import NO_SUCH, NotFound
from engine.job_rows import TIMER
from engine.models import AuditEvent, HumanTask, Job, ProcessDefinition, ProcessInstance
from engine.sla import sla_condition, sla_state

if TYPE_CHECKING:
    from engine.context import CaseEngine


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def task_as_dict(task: Any, now: datetime | None = None) -> dict[str, Any]:
    """The JSON shape of an open task, as the CLI prints it (with its SLA state when ``now`` is given)."""
    shape = {
        "id": task.id,
        "instance_id": task.instance_id,
        "element_id": task.element_id,
        "name": task.name,
        "lane": task.lane,
        "candidate_group": task.candidate_group,
        "assignee": task.assignee,
        "due_at": _iso(task.due_at),
        "warn_at": _iso(getattr(task, "warn_at", None)),
        "form_key": getattr(task, "form_key", None),
    }
    if now is not None:
        shape["sla"] = sla_state(task.due_at, getattr(task, "warn_at", None), now)
    return shape


def visible_tasks(actor: Actor) -> Any:
    """A SELECT of the open tasks ``actor`` may see (`engine.access`); layers above add to it."""
    query = select(HumanTask)
    condition = visible_condition(actor)
    return query if condition is None else query.where(condition)


def list_tasks(
    engine: CaseEngine,
    session: Session,
    actor: Actor,
    instance_id: int | None = None,
    lane: str | None = None,
    assignee: str | None = None,
    limit: int = 500,
    sla: str | None = None,
) -> list[HumanTask]:
    """Open tasks the actor may see (their lanes, or assigned to them), oldest deadline first.

    ``sla`` keeps the tasks in one state: ``late`` (due time passed), ``at_risk`` (warning time
    passed, not yet due), ``on_track`` (neither passed) or ``no_deadline`` (a task with neither a due
    nor a warning time, which is never on track).
    """
    query = visible_tasks(actor)
    if instance_id is not None:
        query = query.where(HumanTask.instance_id == instance_id)
    if lane is not None:
        query = query.where(HumanTask.lane == lane)
    if assignee is not None:
        query = query.where(HumanTask.assignee == assignee)
    if sla is not None:
        query = query.where(sla_condition(sla, engine.clock.now()))
    query = query.order_by(HumanTask.due_at.is_(None), HumanTask.due_at, HumanTask.created_at, HumanTask.id)
    return list(session.scalars(query.limit(limit)))


def instance_detail(engine: CaseEngine, session: Session, instance_id: int, *, with_diagram: bool = False) -> dict[
    str, Any
]:
    """An instance with its definition, current data, open tasks and waiting timers.

    With ``with_diagram`` also what the case page draws: the diagram's XML, each element's
    state and the history, the workflow thawed once for all of it.

    Raises:
        NotFound: no such instance.
    """
    row = session.get(ProcessInstance, instance_id)
    if row is None:
        raise NotFound(f"no process instance {instance_id}", code=NO_SUCH,
                       params={"what": "instance", "ident": instance_id})
    definition = session.get(ProcessDefinition, row.definition_id)
    assert definition is not None
    process = parsed_process(engine, definition)
    case = engine.runtime.thaw(process, row.snapshot)
    tasks = session.scalars(
        select(HumanTask).where(HumanTask.instance_id == instance_id).order_by(HumanTask.created_at, HumanTask.id)
    )
    timers = session.scalars(
        select(Job).where(Job.instance_id == instance_id, Job.kind == TIMER).order_by(Job.due_at)
    )
    detail: dict[str, Any] = {
        "id": row.id,
        "status": row.status,
        "business_key": row.business_key,
        "revision": row.revision,
        "definition": {"key": definition.key, "version": definition.version},
        "started_at": _iso(row.started_at),
        "started_by": row.started_by,
        "ended_at": _iso(row.ended_at),
        "data": case.data(),
        "open_tasks": [task_as_dict(task) for task in tasks],
        "waiting_timers": [{"element_id": job.element_id, "due_at": _iso(job.due_at)} for job in timers],
    }
    if row.status == "error":
        detail["error"] = {"element_id": row.error_element_id, "message": row.error_message}
    if with_diagram:
        names = process.element_names()
        if "error" in detail:  # the step as drawn, for the page's sentence
            detail["error"]["element_name"] = names.get(row.error_element_id or "", row.error_element_id)
        history = session.scalars(
            select(AuditEvent).where(AuditEvent.instance_id == instance_id).order_by(AuditEvent.id)
        ).all()
        detail["xml"] = definition.xml
        detail["elements"] = case.element_states()
        detail["history"] = [
            {"at": event.at, "actor": event.actor, "action": event.action, "element_id": event.element_id,
             "element_name": names.get(event.element_id or "", event.element_id), "summary": event.summary}
            for event in history
        ]
    return detail


def list_jobs(engine: CaseEngine, session: Session, limit: int = 500) -> list[dict[str, Any]]:
    """Jobs by due time: kind, instance or definition, element, status, attempts, last error."""
    rows = session.scalars(select(Job).order_by(Job.due_at, Job.id).limit(limit))
    return [_job_as_dict(job) | {"lock_owner": job.lock_owner} for job in rows]


def list_incidents(engine: CaseEngine, session: Session) -> list[dict[str, Any]]:
    """Jobs whose retries ran out, oldest first."""
    return [_job_as_dict(job) for job in session.scalars(select(Job).where(Job.status == "incident").order_by(Job.id))]


def _job_as_dict(job: Job) -> dict[str, Any]:
    return {"id": job.id, "kind": job.kind, "instance_id": job.instance_id, "definition_id": job.definition_id,
            "element_id": job.element_id, "task_id": job.task_id, "due_at": _iso(job.due_at), "status": job.status,
            "attempts": job.attempts, "error": job.last_error}
