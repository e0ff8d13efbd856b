"""Read-only queries over instances and the task projection (no engine steps run here)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from engine.actors import Actor
from engine.definitions import parsed_process
from engine.errors import NotFound
from engine.models import HumanTask, Job, ProcessDefinition, ProcessInstance

if TYPE_CHECKING:
    from engine.context import CaseEngine


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def task_as_dict(task: HumanTask) -> dict[str, Any]:
    """The JSON shape of an open task, as the CLI prints it."""
    return {
        "id": task.id,
        "instance_id": task.instance_id,
        "element_id": task.element_id,
        "name": task.name,
        "lane": task.lane,
        "assignee": task.assignee,
        "due_at": _iso(task.due_at),
    }


def list_tasks(
    engine: CaseEngine,
    session: Session,
    actor: Actor,
    instance_id: int | None = None,
    lane: str | None = None,
    assignee: str | None = None,
    limit: int = 500,
) -> list[HumanTask]:
    """Open tasks the actor may see (their lanes, or assigned to them), oldest deadline first."""
    query = select(HumanTask)
    if not actor.all_lanes:
        lanes = sorted(actor.lanes)
        query = query.where(
            or_(
                HumanTask.lane.in_(lanes),
                HumanTask.candidate_group.in_(lanes),
                HumanTask.lane.is_(None),
                HumanTask.assignee == actor.name,
            )
        )
    if instance_id is not None:
        query = query.where(HumanTask.instance_id == instance_id)
    if lane is not None:
        query = query.where(HumanTask.lane == lane)
    if assignee is not None:
        query = query.where(HumanTask.assignee == assignee)
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
