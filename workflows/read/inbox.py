"""The staff inbox query.

The engine's visible tasks joined with requests and members, so staff can search by member
name, national ID or request reference, filter, sort, count and page.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, or_, select, union
from sqlalchemy.orm import Session

from engine.access import assigned_beyond_teams, team_visibility, visible_condition
from engine.actors import Actor
from engine.errors import ConfigError
from engine.models import HumanTask, ProcessDefinition, ProcessInstance
from engine.sla import NO_DEADLINE, SLA_FILTERS, SLA_STATES, sla_condition, sla_state
from workflows import identity
from workflows.accounts import ROLE_LANES, require_staff, users_with_lane
from workflows.models import Member, SavedFilter, ServiceRequest
from workflows.saved_filters import visible_filters

if TYPE_CHECKING:
    from engine.context import CaseEngine

SORTS = ("due", "priority", "newest")

__all__ = ["NO_DEADLINE", "SLA_FILTERS", "SLA_STATES", "SORTS", "InboxPage", "InboxView", "inbox", "inbox_view",
           "refresh_seconds", "sla_state"]


@dataclass
class InboxPage:
    """One page of the inbox and the counts of every SLA state under the same filters.

    ``counts`` has a count for each of `SLA_FILTERS` (the tasks without a deadline apart from those
    on track); they add up to every task the filters match.
    """

    rows: list[tuple[HumanTask, ServiceRequest | None, Member | None, str]]
    total: int
    counts: dict[str, int]
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        """How many pages the filtered tasks fill."""
        return max(1, -(-self.total // self.per_page))


class CountCache:
    """Counts per SLA state of what a team sees, kept for a few seconds.

    Staff with the same lanes and filters see the same team tasks, so one count serves all of
    them. An entry is used only while it is younger than ``seconds`` by ``clock`` (the engine's
    clock, which also moves the SLA states) and no command has been
    committed in this process since (``engine.commits``); changes made by other processes show
    within ``seconds``. Zero seconds turns it off.
    """

    def __init__(self, seconds: float, clock: Callable[[], float], size: int = 1024) -> None:
        self.seconds = seconds
        self.size = size
        self.clock = clock
        self._entries: OrderedDict[Hashable, tuple[float, int, dict[str, int]]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, commits: int) -> dict[str, int] | None:
        """The counts stored under ``key`` if still fresh, else None."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            stored_at, stored_commits, counts = entry
            # A clock set back (or a test's clock moved) counts as stale too.
            if stored_commits != commits or not 0 <= self.clock() - stored_at < self.seconds:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return dict(counts)

    def put(self, key: Hashable, commits: int, counts: dict[str, int]) -> None:
        """Keep ``counts`` under ``key``, dropping the least recently used entry when full."""
        if self.seconds <= 0:
            return
        with self._lock:
            self._entries[key] = (self.clock(), commits, dict(counts))
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)


def count_cache(engine: CaseEngine) -> CountCache:
    """The engine's `CountCache`, made on first use from ``inbox.counts_seconds`` (default 5).

    Raises:
        ConfigError: ``inbox.counts_seconds`` is not a number of seconds from 0 to 300.
    """
    cache = engine.extensions.get("inbox_counts")
    if cache is None:
        value = (engine.settings.get("inbox") or {}).get("counts_seconds", 5)
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            seconds = -1.0
        if not 0 <= seconds <= 300:
            raise ConfigError(f"inbox.counts_seconds must be a number of seconds from 0 to 300, not {value!r}")
        cache = engine.extensions.setdefault(
            "inbox_counts", CountCache(seconds, clock=lambda: engine.clock.now().timestamp()))
    return cache


def refresh_seconds(engine: CaseEngine) -> int:
    """How often an open inbox fetches its table again (``inbox.refresh_seconds``, default 60).

    Raises:
        ConfigError: not a whole number of seconds from 1 to 3600.
    """
    value = (engine.settings.get("inbox") or {}).get("refresh_seconds", 60)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 3600:
        raise ConfigError(f"inbox.refresh_seconds must be a whole number of seconds from 1 to 3600, not {value!r}")
    return value


def _sla_counts(session: Session, query: Any, now: datetime) -> dict[str, int]:
    """One pass over ``query``'s tasks counting each SLA state, and those without a deadline."""
    filtered = query.subquery()
    columns = [func.count().filter(sla_condition(state, now, filtered)).label(state) for state in SLA_FILTERS]
    row = session.execute(select(*columns)).one()
    return {state: int(getattr(row, state) or 0) for state in SLA_FILTERS}


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
    group: str = "",
) -> InboxPage:
    """The tasks ``actor`` may see, filtered, counted per SLA state, sorted and paged.

    ``assignee`` is ``me``, ``none`` (unclaimed) or a user name; ``group`` keeps the tasks offered
    to that team (their candidate group, which an escalation changes).

    The counts of the team's tasks come from `count_cache` when fresh; those of tasks assigned
    to the actor beyond their teams are always counted (a few rows, by the assignee index).
    """
    now = engine.clock.now()
    searching = bool(text.strip())

    def filtered(visibility: Any) -> Any:
        query = select(HumanTask)
        if visibility is not None:
            query = query.where(visibility)
        if process:
            query = (query.join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
                     .join(ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id)
                     .where(ProcessDefinition.key == process))
        if searching:
            # The matching cases first (by reference, member name or ID, business key), then their
            # tasks by instance: never every visible task joined with its request and member.
            words = identity.ascii_digits(text).strip()
            members = select(Member.id).where(or_(
                Member.search_name.like(identity.name_pattern(text), escape=identity.LIKE_ESCAPE),
                Member.national_id == words))
            cases = union(
                select(ServiceRequest.instance_id).where(ServiceRequest.reference == words.upper()),
                select(ServiceRequest.instance_id).where(ServiceRequest.member_id.in_(members)),
                select(ProcessInstance.id).where(ProcessInstance.business_key == words.upper()),
            )
            query = query.where(HumanTask.instance_id.in_(cases))
        if lane:
            query = query.where(HumanTask.lane == lane)
        if group:
            query = query.where(HumanTask.candidate_group == group)
        if high_priority:
            query = query.where(HumanTask.priority >= 70)
        if assignee == "me":
            query = query.where(HumanTask.assignee == actor.name)
        elif assignee == "none":
            query = query.where(HumanTask.assignee.is_(None))
        elif assignee:
            query = query.where(HumanTask.assignee == assignee)
        return query

    cache = count_cache(engine)
    team = team_visibility(actor)
    key = ("*" if team is None else tuple(sorted(actor.lanes)), actor.name if assignee == "me" else "",
           text.strip(), process, lane, high_priority, assignee, group)
    # Read once, before counting: a commit landing while the count runs must make it stale.
    commits = engine.commits
    counts = cache.get(key, commits)
    if counts is None:
        counts = _sla_counts(session, filtered(team), now)
        cache.put(key, commits, counts)
    beyond = assigned_beyond_teams(actor)
    if beyond is not None and assignee != "none":
        for state, count in _sla_counts(session, filtered(beyond), now).items():
            counts[state] += count
    total = counts[sla] if sla in SLA_FILTERS else sum(counts.values())
    base = filtered(visible_condition(actor))
    if sla in SLA_FILTERS:
        base = base.where(sla_condition(sla, now))
    order = {
        "priority": (HumanTask.priority.desc(), HumanTask.due_at.asc().nulls_last()),
        "newest": (HumanTask.created_at.desc(),),
    }.get(sort, (HumanTask.due_at.asc().nulls_last(), HumanTask.created_at))
    # Never past the last page: after a claim or a refresh the page may have emptied.
    page = min(max(1, page), max(1, -(-total // per_page)))
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


@dataclass
class InboxView:
    """Everything the inbox page shows, read in one transaction."""

    page: InboxPage
    processes: list[str]
    saved: list[SavedFilter]
    #: For staff who may reassign: the users each lane on the page can go to.
    assignable: dict[str, list[str]]
    #: The lanes the lane filter offers: the actor's own, or every lane for a supervisor.
    lanes: list[str]


def inbox_view(engine: CaseEngine, session: Session, actor: Actor, **filters: Any) -> InboxView:
    """The inbox page of ``actor``.

    That is `inbox` with ``filters``, the process keys to filter by, the saved views they may use
    and, for supervisors, who can take each task.

    Raises:
        Forbidden: a member's account (the inbox is staff's).
    """
    require_staff(actor)
    page = inbox(engine, session, actor, **filters)
    assignable: dict[str, list[str]] = {}
    if actor.may_assign:
        lanes = {task.lane for task, *_ in page.rows if task.lane}
        assignable = {lane: sorted(u.username for u in users_with_lane(session, lane)) for lane in lanes}
    processes = sorted(set(session.scalars(select(ProcessDefinition.key))))
    return InboxView(page, processes, visible_filters(session, actor.name, actor.roles), assignable,
                     filter_lanes(session, actor))


def filter_lanes(session: Session, actor: Actor) -> list[str]:
    """The lanes ``actor`` can filter their tasks by.

    Their own lanes; for a supervisor (who sees every lane) the lanes of every role and any other
    lane an open task is in (a diagram may draw one no role holds yet).
    """
    if team_visibility(actor) is not None:
        return sorted(actor.lanes)
    every = {lane for lanes in ROLE_LANES.values() for lane in lanes}
    every |= set(session.scalars(select(HumanTask.lane).where(HumanTask.lane.is_not(None)).distinct()))
    return sorted(every)
