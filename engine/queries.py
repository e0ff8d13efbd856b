"""Read-only queries over instances and the task projection (no engine steps run here)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, not_, or_, select
from sqlalchemy.orm import Session

from engine.actors import Actor
from engine.definitions import parsed_process
from engine.errors import InvalidInput, NotFound
from engine.models import HumanTask, Job, ProcessDefinition, ProcessInstance
from engine.sla import AT_RISK, LATE, ON_TRACK, SLA_STATES, sla_state

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


def team_visibility(actor: Actor) -> Any:
    """The WHERE condition of the tasks ``actor`` sees through their teams; None when they see all.

    Those are the tasks of their lanes (or candidate groups) and tasks with no lane. The same
    for everyone with the same lanes, so what is derived from it can be shared between them.
    """
    if actor.all_lanes:
        return None
    lanes = sorted(actor.lanes)
    return or_(HumanTask.lane.in_(lanes), HumanTask.candidate_group.in_(lanes), HumanTask.lane.is_(None))


def assigned_beyond_teams(actor: Actor) -> Any:
    """The WHERE condition of tasks assigned to ``actor`` that their teams do not see; None if none can be."""
    if actor.all_lanes:
        return None
    lanes = sorted(actor.lanes)
    # Spelled out rather than NOT(team): a NULL candidate group must not make the row vanish.
    return and_(HumanTask.assignee == actor.name, HumanTask.lane.is_not(None), HumanTask.lane.not_in(lanes),
                or_(HumanTask.candidate_group.is_(None), HumanTask.candidate_group.not_in(lanes)))


def visible_tasks(actor: Actor) -> Any:
    """A SELECT of the open tasks ``actor`` may see.

    Those are the tasks of their teams (`team_visibility`) and tasks assigned to them. Layers
    above add their own joins and filters.
    """
    query = select(HumanTask)
    team = team_visibility(actor)
    if team is not None:
        query = query.where(or_(team, HumanTask.assignee == actor.name))
    return query


def sla_condition(state: str, now: datetime, columns: Any = None) -> Any:
    """The WHERE condition of tasks in SLA ``state`` at ``now``.

    ``columns`` is a selectable with ``due_at`` and ``warn_at`` columns (a subquery of tasks);
    by default the task table itself.
    """
    due = columns.c.due_at if columns is not None else HumanTask.due_at
    warn = columns.c.warn_at if columns is not None else HumanTask.warn_at
    late = and_(due.is_not(None), due <= now)
    risky = and_(warn.is_not(None), warn <= now)
    if state == LATE:
        return late
    if state == AT_RISK:
        return and_(risky, not_(late))
    if state == ON_TRACK:
        return and_(not_(late), not_(risky))
    raise InvalidInput(f"SLA state must be one of {', '.join(SLA_STATES)}, not {state!r}")


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
    passed, not yet due) or ``on_track`` (neither, or no deadline).
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


def instance_detail(engine: CaseEngine, session: Session, instance_id: int) -> dict[str, Any]:
    """An instance with its definition, current data, open tasks and waiting timers.

    Raises:
        NotFound: no such instance.
    """
    row = session.get(ProcessInstance, instance_id)
    if row is None:
        raise NotFound(f"no process instance {instance_id}")
    definition = session.get(ProcessDefinition, row.definition_id)
    assert definition is not None
    case = engine.runtime.thaw(parsed_process(engine, definition), row.snapshot)
    tasks = session.scalars(
        select(HumanTask).where(HumanTask.instance_id == instance_id).order_by(HumanTask.created_at, HumanTask.id)
    )
    timers = session.scalars(
        select(Job).where(Job.instance_id == instance_id, Job.kind == "timer").order_by(Job.due_at)
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
    return detail


def case_view(engine: CaseEngine, session: Session, instance_id: int) -> dict[str, Any]:
    """What the case page shows: the instance, its diagram XML, element states, history.

    Raises:
        NotFound: no such instance.
    """
    from engine.models import AuditEvent

    detail = instance_detail(engine, session, instance_id)
    row = session.get(ProcessInstance, instance_id)
    definition = session.get(ProcessDefinition, row.definition_id)
    case = engine.runtime.thaw(parsed_process(engine, definition), row.snapshot)
    history = session.scalars(
        select(AuditEvent).where(AuditEvent.instance_id == instance_id).order_by(AuditEvent.id)
    ).all()
    names = parsed_process(engine, definition).element_names()
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
    return [
        {"id": job.id, "kind": job.kind, "instance_id": job.instance_id, "definition_id": job.definition_id,
         "element_id": job.element_id, "due_at": _iso(job.due_at), "status": job.status,
         "attempts": job.attempts, "lock_owner": job.lock_owner, "error": job.last_error}
        for job in rows
    ]
