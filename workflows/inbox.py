"""The staff inbox query.

The engine's visible tasks joined with requests and members, so staff can search by member
name, national ID or request reference, filter, sort, count and page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from engine.actors import Actor
from engine.models import HumanTask, ProcessDefinition, ProcessInstance
from engine.queries import sla_condition, visible_tasks
from engine.sla import SLA_STATES
from workflows import identity
from workflows.models import Member, ServiceRequest

if TYPE_CHECKING:
    from engine.context import CaseEngine

SORTS = ("due", "priority", "newest")


@dataclass
class InboxPage:
    """One page of the inbox and the counts of every SLA state under the same filters."""

    rows: list[tuple[HumanTask, ServiceRequest | None, Member | None, str]]
    total: int
    counts: dict[str, int]
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        """How many pages the filtered tasks fill."""
        return max(1, -(-self.total // self.per_page))


def inbox(
    engine: CaseEngine,
    session: Session,
    actor: Actor,
    text: str = "",
    process: str = "",
    lane: str = "",
    sla: str = "",
    high_priority: bool = False,
    assignee: str = "",
    sort: str = "due",
    page: int = 1,
    per_page: int = 25,
) -> InboxPage:
    """The tasks ``actor`` may see, filtered, counted per SLA state, sorted and paged."""
    now = engine.clock.now()
    searching = bool(text.strip())
    base = visible_tasks(actor)
    if process or searching:
        base = base.join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
    if process:
        base = base.join(ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id)
    if searching:
        base = (base.outerjoin(ServiceRequest, ServiceRequest.instance_id == HumanTask.instance_id)
                .outerjoin(Member, Member.id == ServiceRequest.member_id))
    if searching:
        words = identity.ascii_digits(text).strip()
        base = base.where(or_(
            Member.search_name.like(identity.name_pattern(text), escape=identity.LIKE_ESCAPE),
            Member.national_id == words,
            ServiceRequest.reference == words.upper(),
            ProcessInstance.business_key == words.upper(),
        ))
    if process:
        base = base.where(ProcessDefinition.key == process)
    if lane:
        base = base.where(HumanTask.lane == lane)
    if high_priority:
        base = base.where(HumanTask.priority >= 70)
    if assignee == "me":
        base = base.where(HumanTask.assignee == actor.name)
    elif assignee == "none":
        base = base.where(HumanTask.assignee.is_(None))
    # One pass for the counts of every SLA state and the total under the chosen one.
    filtered = base.subquery()
    columns = [func.count().filter(sla_condition(state, now, filtered)).label(state)
               for state in SLA_STATES]
    row = session.execute(select(*columns)).one()
    counts = {state: int(getattr(row, state) or 0) for state in SLA_STATES}
    if sla in SLA_STATES:
        base = base.where(sla_condition(sla, now))
        total = counts[sla]
    else:
        total = sum(counts.values())
    order = {
        "priority": (HumanTask.priority.desc(), HumanTask.due_at.asc().nulls_last()),
        "newest": (HumanTask.created_at.desc(),),
    }.get(sort, (HumanTask.due_at.asc().nulls_last(), HumanTask.created_at))
    page = max(1, page)
    ids = [task.id for task in session.scalars(base.order_by(*order, HumanTask.id)
                                                  .limit(per_page).offset((page - 1) * per_page))]
    # The page's own rows with their request, member and process: 25 rows, whatever the filters.
    details = session.execute(
        select(HumanTask, ServiceRequest, Member, ProcessDefinition.key)
        .join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
        .join(ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id)
        .outerjoin(ServiceRequest, ServiceRequest.instance_id == HumanTask.instance_id)
        .outerjoin(Member, Member.id == ServiceRequest.member_id)
        .where(HumanTask.id.in_(ids))
    ).all()
    by_id = {task.id: (task, request, member, key) for task, request, member, key in details}
    rows = [by_id[task_id] for task_id in ids if task_id in by_id]
    return InboxPage(rows, total, counts, page, per_page)

