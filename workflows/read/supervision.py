"""The supervisors' live risk board: what needs attention in every lane, and what falls due soon.

The board reads the open tasks (``human_tasks``) only, in a few grouped queries, whatever the
number of closed ones: the tasks that are late, at risk or without a deadline, soonest breach
first; their counts per lane, process, team (the group a task is offered to) and assignee, each
per SLA state so that every count is one inbox filter; the escalations in progress; and the
deadlines falling due in the next 1, 3 and 5 working days per lane.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from engine.actors import Actor
from engine.calendar import BusinessCalendar
from engine.models import AuditEvent, HumanTask, ProcessDefinition, ProcessInstance
from engine.sla import AT_RISK, LATE, NO_DEADLINE, ON_TRACK, sla_condition
from workflows.accounts import require_role, users_with_lane
from workflows.models import Member, ServiceRequest, User

if TYPE_CHECKING:
    from engine.context import CaseEngine

#: The SLA states the board lists, in the order it shows them.
BOARD_STATES = (LATE, AT_RISK, NO_DEADLINE)
#: The horizons of the forecast, in working days.
FORECAST_DAYS = (1, 3, 5)
#: The dimensions the board counts by, each the inbox filter of the same name.
DIMENSIONS = ("lane", "process", "group", "assignee")


@dataclass
class BoardTask:
    """One task on the board, with its case and how long until (or since) its breach."""

    task: HumanTask
    process: str
    state: str
    reference: str | None
    member_name_ar: str | None
    member_name_en: str | None
    #: Seconds until the due time (negative: late by so much); None without a due time.
    seconds_to_breach: float | None


@dataclass
class Escalation:
    """An open task offered to a further group, how far up, and how long it has waited."""

    task: HumanTask
    process: str
    reference: str | None
    level: int
    group: str | None
    opened_at: datetime
    escalated_at: datetime | None
    #: Time on working days since the task opened, and since its last escalation (seconds).
    waited_since_opened: float
    waited_since_escalated: float | None


@dataclass
class Board:
    """Everything the board page shows, read in one transaction."""

    now: datetime
    tasks: list[BoardTask]
    #: How many open tasks need attention (late, at risk, no deadline); ``tasks`` holds the first ``limit``.
    total: int
    #: dimension → value (None: no lane, no team, unclaimed) → SLA state → count.
    counts: dict[str, dict[str | None, dict[str, int]]]
    #: Who holds each lane of a listed task: those a task may be reassigned to.
    assignable: dict[str, list[str]]
    escalations: list[Escalation]
    #: lane → {1: n, 3: n, 5: n}: open tasks due after now and by the end of that many working days.
    forecast: dict[str | None, dict[int, int]]
    #: The instant each horizon ends.
    horizons: dict[int, datetime] = field(default_factory=dict)


def board(engine: CaseEngine, session: Session, actor: Actor, limit: int = 100) -> Board:
    """The live risk board of every lane: supervisors and administrators only.

    Tasks are sorted by time to breach: late ones first, the most overdue first, then those at
    risk by how soon they fall due (by their warning time when they have no due time), and the
    tasks without a deadline last, oldest first.

    Raises:
        Forbidden: the actor is neither a supervisor nor an administrator.
    """
    require_role(actor, "supervisor", "administrator")
    now = engine.clock.now()
    calendar = engine.calendars.get()
    attention = or_(*(sla_condition(state, now) for state in BOARD_STATES))
    state = case(
        (sla_condition(LATE, now), LATE), (sla_condition(AT_RISK, now), AT_RISK),
        (sla_condition(NO_DEADLINE, now), NO_DEADLINE), else_=ON_TRACK)

    # Counts: the task table alone for the lanes, teams and people (its visibility index holds
    # every column needed), and the tasks' instances for the processes.
    grouped = session.execute(
        select(HumanTask.lane, HumanTask.candidate_group, HumanTask.assignee, state.label("state"),
               func.count().label("n"))
        .where(attention)
        .group_by(HumanTask.lane, HumanTask.candidate_group, HumanTask.assignee, state)
    ).all()
    counts: dict[str, dict[str | None, dict[str, int]]] = {d: {} for d in DIMENSIONS}
    total = 0
    for lane, group, assignee, task_state, n in grouped:
        total += n
        for dimension, value in (("lane", lane), ("group", group), ("assignee", assignee)):
            cell = counts[dimension].setdefault(value, dict.fromkeys(BOARD_STATES, 0))
            cell[task_state] += n
    keys = dict(session.execute(select(ProcessDefinition.id, ProcessDefinition.key)).all())
    per_version = session.execute(
        select(ProcessInstance.definition_id, state.label("state"), func.count().label("n"))
        .select_from(HumanTask).join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
        .where(attention).group_by(ProcessInstance.definition_id, state)
    ).all()
    for definition_id, task_state, n in per_version:
        cell = counts["process"].setdefault(keys.get(definition_id), dict.fromkeys(BOARD_STATES, 0))
        cell[task_state] += n
    for dimension in DIMENSIONS:  # by name, never by size: the board does not rank people (policy P8)
        counts[dimension] = dict(sorted(counts[dimension].items(), key=lambda item: (item[0] is None, item[0] or "")))

    # The first rows by themselves (the task table only), then their cases: ``limit`` rows joined, not all.
    ids = list(session.scalars(
        select(HumanTask.id).where(attention)
        .order_by(HumanTask.due_at.asc().nulls_last(), HumanTask.warn_at.asc().nulls_last(), HumanTask.created_at,
                  HumanTask.id)
        .limit(limit)))
    details = {row[0].id: row for row in session.execute(
        select(HumanTask, ProcessDefinition.key, state.label("state"), ServiceRequest.reference, Member.name_ar,
               Member.name_en)
        .join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
        .join(ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id)
        .outerjoin(ServiceRequest, ServiceRequest.instance_id == HumanTask.instance_id)
        .outerjoin(Member, Member.id == ServiceRequest.member_id)
        .where(HumanTask.id.in_(ids)))}
    tasks = [BoardTask(task, key, task_state, reference, name_ar, name_en,
                       (task.due_at - now).total_seconds() if task.due_at is not None else None)
             for task, key, task_state, reference, name_ar, name_en in (details[i] for i in ids if i in details)]
    lanes = {t.task.lane for t in tasks if t.task.lane}
    users = list(session.scalars(select(User).where(User.is_active.is_(True))))
    assignable = {lane: sorted(u.username for u in users_with_lane(session, lane, users)) for lane in sorted(lanes)}
    return Board(now, tasks, total, counts, assignable, _escalations(session, now, calendar, limit),
                 *_forecast(session, now, calendar))


def _escalations(session: Session, now: datetime, calendar: BusinessCalendar, limit: int = 100) -> list[Escalation]:
    """The open tasks escalated at least once: highest level first, then the longest waiting.

    When each was last escalated comes from the audit log (the ``escalated`` events).
    """
    ids = list(session.scalars(
        select(HumanTask.id).where(HumanTask.escalation_level > 0)
        .order_by(HumanTask.escalation_level.desc(), HumanTask.created_at, HumanTask.id).limit(limit)))
    if not ids:
        return []
    details = {row[0].id: row for row in session.execute(
        select(HumanTask, ProcessDefinition.key, ServiceRequest.reference)
        .join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
        .join(ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id)
        .outerjoin(ServiceRequest, ServiceRequest.instance_id == HumanTask.instance_id)
        .where(HumanTask.id.in_(ids)))}
    rows = [details[i] for i in ids if i in details]
    last = dict(session.execute(
        select(AuditEvent.task_id, func.max(AuditEvent.at))
        .where(AuditEvent.instance_id.in_({task.instance_id for task, _key, _ref in rows}),
               AuditEvent.task_id.in_(ids), AuditEvent.action == "escalated")
        .group_by(AuditEvent.task_id)
    ).all())
    days = WorkingDays(calendar, min(task.created_at for task, _key, _ref in rows), now)
    found = []
    for task, key, reference in rows:
        at = last.get(task.id)
        found.append(Escalation(
            task, key, reference, task.escalation_level, task.candidate_group, task.created_at, at,
            days.seconds(task.created_at, now), days.seconds(at, now) if at is not None else None))
    return found


def _forecast(
    session: Session, now: datetime, calendar: BusinessCalendar
) -> tuple[dict[str | None, dict[int, int]], dict[int, datetime]]:
    """Per lane, the open tasks falling due after ``now`` and within 1, 3 and 5 working days.

    A horizon of n working days ends at the same local clock time n working days on
    (`BusinessCalendar.deadline`), so weekends, holidays and closures do not count. The counts are
    cumulative: a task due tomorrow is within 3 and 5 days too.
    """
    horizons = {days: calendar.deadline(now, days) for days in FORECAST_DAYS}
    due = HumanTask.due_at
    columns = [func.count().filter(and_(due > now, due <= horizons[days])).label(f"d{days}")
               for days in FORECAST_DAYS]
    rows = session.execute(
        select(HumanTask.lane, *columns).where(due > now, due <= horizons[max(FORECAST_DAYS)])
        .group_by(HumanTask.lane)
    ).all()
    per_lane = {row[0]: {days: int(row[i + 1] or 0) for i, days in enumerate(FORECAST_DAYS)} for row in rows}
    return dict(sorted(per_lane.items(), key=lambda item: (item[0] is None, item[0] or ""))), horizons


class WorkingDays:
    """Time on working days between instants from ``first`` to ``last``, the calendar read once.

    A working day counts whole (its 24 local hours); weekends, holidays and closures count nothing.
    """

    def __init__(self, calendar: BusinessCalendar, first: datetime, last: datetime) -> None:
        self.tz = calendar.tz
        self.start = first.astimezone(self.tz).date()
        span = max(0, (last.astimezone(self.tz).date() - self.start).days)
        self.working = [calendar.is_working_day(self.start + timedelta(days=n)) for n in range(span + 1)]
        #: Working days before each day of the span (a prefix sum), so a count is two look-ups.
        self.before = [0]
        for is_working in self.working:
            self.before.append(self.before[-1] + is_working)

    def seconds(self, start: datetime, end: datetime) -> float:
        """The seconds from ``start`` to ``end`` (both within the span) that fall on working days."""
        if end <= start:
            return 0.0
        begin, finish = start.astimezone(self.tz), end.astimezone(self.tz)
        first, last = (begin.date() - self.start).days, (finish.date() - self.start).days
        midnight = datetime.min.time()

        def day_start(index: int) -> datetime:
            return datetime.combine(self.start + timedelta(days=index), midnight, tzinfo=self.tz)

        if first == last:
            return (finish - begin).total_seconds() if self.working[first] else 0.0
        total = (day_start(first + 1) - begin).total_seconds() if self.working[first] else 0.0
        total += (finish - day_start(last)).total_seconds() if self.working[last] else 0.0
        whole = self.before[last] - self.before[first + 1]
        return total + whole * 86400.0

