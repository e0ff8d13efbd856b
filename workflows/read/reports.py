"""The supervisors' reports over a period of the society's calendar.

SLA compliance, aging of open work, created and completed tasks, work in progress, requests per
channel, turnaround per service type and the committee's decisions.

Every figure counts in working days on the society's calendar (`engine.calendar`) and in its time
zone: a day is a day in Riyadh, a week runs Sunday to Saturday (Sunday–Thursday working), and a
figure beside "the previous period" compares with the period of the same length just before.

The database groups the rows (one ``GROUP BY`` per figure, by local day); working days, months
and percentiles are then counted here from those groups, the same way on SQLite and PostgreSQL.

Reports name lanes, processes and service types; the one figure per person (work in progress) is
for supervisors and administrators only, sorted by name (policy P8: never a ranking).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from engine.actors import Actor
from engine.errors import InvalidInput
from engine.models import HumanTask, TaskRecord
from workflows.accounts import lanes_of, require_role
from workflows.domain import domain
from workflows.identity import ascii_digits
from workflows.models import CHANNELS, Decision, ServiceRequest, User
from workflows.read import figures
from workflows.read.definitions import process_names
from workflows.read.figures import WorkingDayCount, as_day, local_day

if TYPE_CHECKING:
    from engine.calendar import BusinessCalendar
    from engine.context import CaseEngine

#: The period picker's choices.
PERIOD_KINDS = ("this_week", "this_month", "last_month", "custom")
#: The longest custom period (about five years): longer is surely a typing mistake.
MAX_PERIOD_DAYS = 1830
#: Aging buckets of open work, in working days since the task opened: (key, lowest, highest).
AGING_BUCKETS = (("0-1", 0, 1), ("2-3", 2, 3), ("4-5", 4, 5), ("6-10", 6, 10), (">10", 11, None))
#: How many months the monthly SLA figure shows, ending with the period's last month.
TREND_MONTHS = 6
#: Periods up to this many days show channels per day; longer ones per month.
DAILY_UP_TO = 31
#: Clocks a deadline can be breached on.
CLOCKS = ("task_deadline", "promised_date")


@dataclass(frozen=True)
class Period:
    """Calendar days ``start`` to ``end`` (both included), in the society's time zone."""

    kind: str
    start: date
    end: date

    @property
    def days(self) -> int:
        """How many calendar days the period holds."""
        return (self.end - self.start).days + 1

    def previous(self) -> Period:
        """The period of the same length just before: the same days of the week or month before.

        This week (Sunday to today) is compared with the same days of last week; this month (the
        1st to today) with the same days of last month; last month with the month before it; a
        custom period with as many days just before it.
        """
        if self.kind == "this_week":
            return Period(self.kind, self.start - timedelta(days=7), self.end - timedelta(days=7))
        if self.kind in ("this_month", "last_month"):
            start = _month_start(self.start - timedelta(days=1))
            if self.kind == "last_month":
                return Period(self.kind, start, self.start - timedelta(days=1))
            end = min(start + timedelta(days=self.days - 1), self.start - timedelta(days=1))
            return Period(self.kind, start, end)
        return Period(self.kind, self.start - timedelta(days=self.days), self.start - timedelta(days=1))

    def contains(self, day: date) -> bool:
        """True when ``day`` falls in the period."""
        return self.start <= day <= self.end


def _month_start(day: date) -> date:
    return day.replace(day=1)


class BadPeriod(InvalidInput):
    """A period the picker refused, and why: the page words `reason` in its own language.

    ``reason`` is ``kind`` (not a choice of the picker), ``missing`` (a custom period without both
    dates), ``not_a_date``, ``reversed`` (the end before the start) or ``too_long``; ``value`` is
    the text refused, when there is one.
    """

    def __init__(self, reason: str, value: str = "") -> None:
        super().__init__(f"period: {reason} {value!r}" if value else f"period: {reason}")
        self.reason = reason
        self.value = value


def _bad(reason: str, value: str = "") -> BadPeriod:
    return BadPeriod(reason, value)


#: The years a custom period may name (a report of another century is a typing mistake).
FIRST_YEAR, LAST_YEAR = 1990, 2200


def parse_period(kind: str | None, start: str | None, end: str | None, today: date) -> Period:
    """The period the picker asks for (``this_month`` when nothing is asked).

    Args:
        kind: one of `PERIOD_KINDS`.
        start: for ``custom``, the first day (``YYYY-MM-DD``).
        end: for ``custom``, the last day (``YYYY-MM-DD``).
        today: the society's local date now.

    Raises:
        BadPeriod: an unknown kind, a missing or unreadable date, the end before the start, or a
            period of more than `MAX_PERIOD_DAYS` days.
    """
    kind = (kind or "this_month").strip()
    if kind not in PERIOD_KINDS:
        raise _bad("kind", kind[:40])
    if kind == "this_week":
        return Period(kind, today - timedelta(days=(today.weekday() + 1) % 7), today)
    if kind == "this_month":
        return Period(kind, _month_start(today), today)
    if kind == "last_month":
        end_day = _month_start(today) - timedelta(days=1)
        return Period(kind, _month_start(end_day), end_day)
    days = []
    for text in (start, end):
        text = (text or "").strip()
        if not text:
            raise _bad("missing")
        # Year-month-day only (Eastern Arabic digits read as such), in years a report can cover:
        # not ISO's week or compact forms, not a year whose period before it would leave the calendar.
        written = ascii_digits(text)
        try:
            if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", written):
                raise ValueError(text)
            day = date.fromisoformat(written)
        except ValueError:
            raise _bad("not_a_date", text[:40]) from None
        if not FIRST_YEAR <= day.year <= LAST_YEAR:
            raise _bad("not_a_date", text[:40])
        days.append(day)
    first, last = days
    if last < first:
        raise _bad("reversed", f"{first.isoformat()} > {last.isoformat()}")
    if (last - first).days + 1 > MAX_PERIOD_DAYS:
        raise _bad("too_long", str((last - first).days + 1))
    return Period(kind, first, last)


@dataclass
class Compliance:
    """Deadlines met out of those that had one, in a period and in the period before."""

    key: str
    met: int = 0
    total: int = 0
    previous_met: int = 0
    previous_total: int = 0

    @property
    def percent(self) -> float | None:
        """Met as a percentage of total, one decimal (None when there was nothing to meet)."""
        return _percent(self.met, self.total)

    @property
    def previous_percent(self) -> float | None:
        """The same in the previous period."""
        return _percent(self.previous_met, self.previous_total)


@dataclass
class Breaches:
    """One clock's breaches: ``breached`` out of ``total`` that ran on it, now and before."""

    clock: str
    breached: int = 0
    total: int = 0
    previous_breached: int = 0
    previous_total: int = 0

    @property
    def percent(self) -> float | None:
        """Breached as a percentage of total."""
        return _percent(self.breached, self.total)

    @property
    def previous_percent(self) -> float | None:
        """The same in the previous period."""
        return _percent(self.previous_breached, self.previous_total)


@dataclass
class Turnaround:
    """Requests of one service type closed in the period: how many working days they took."""

    service_type: str
    names: dict[str, str]
    closed: int
    median: float | None
    p90: float | None


@dataclass
class WorkInProgress:
    """One person's open tasks in one lane, beside the lane's average per person."""

    lane: str
    username: str
    display_name: str
    open_tasks: int
    team_average: float


@dataclass
class Report:
    """Every figure of the reports page for one period."""

    period: Period
    previous: Period
    today: date
    by_lane: list[Compliance]
    by_process: list[Compliance]
    by_month: list[Compliance]
    breaches: list[Breaches]
    #: Lane -> bucket key -> open tasks (every bucket present).
    aging: dict[str, dict[str, int]]
    #: (day, created, completed) for each day of the period up to today.
    flow: list[tuple[date, int, int]]
    work_in_progress: list[WorkInProgress]
    #: "day" or "month": how `channels` is grouped.
    channel_step: str
    #: (day or month key, {channel: requests}) in order, every channel present.
    channels: list[tuple[str, dict[str, int]]]
    turnaround: list[Turnaround]
    #: outcome -> (this period, previous period).
    decisions: dict[str, tuple[int, int]]
    #: Process key -> {"ar": ..., "en": ...}.
    process_names: dict[str, dict[str, str]] = field(default_factory=dict)


def _percent(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def percentile(values: list[float], fraction: float) -> float | None:
    """`figures.percentile` to two decimals, as the reports show it."""
    found = figures.percentile(values, fraction)
    return None if found is None else round(found, 2)


def _bounds(period: Period, calendar: BusinessCalendar) -> tuple[datetime, datetime]:
    """The UTC instants the period's local days start and end (end exclusive)."""
    start = datetime.combine(period.start, time(0), tzinfo=calendar.tz).astimezone(UTC)
    end = datetime.combine(period.end + timedelta(days=1), time(0), tzinfo=calendar.tz).astimezone(UTC)
    return start, end


#: How long a computed report is served again (``reports.cache_seconds`` overrides it; 0 turns it off).
CACHE_SECONDS = 60.0
_CACHE_KEY = "reports_cache"
_CACHE_SIZE = 32


def supervision_report(engine: CaseEngine, session: Session, actor: Actor, period: Period) -> Report:
    """Every figure of the reports page for ``period`` (and the period before it).

    A report is kept for `CACHE_SECONDS` and served again for the same period and day while no
    command has been committed in this process since (``engine.commits``): the page and the
    downloads of its ten tables then count once. Changes made by other processes (the worker)
    show within that time.

    Raises:
        Forbidden: the actor is neither a supervisor nor an administrator.
    """
    require_role(actor, "supervisor", "administrator")
    calendar = engine.calendars.get()
    today = engine.clock.now().astimezone(calendar.tz).date()
    seconds = float((engine.settings.get("reports") or {}).get("cache_seconds", CACHE_SECONDS))
    cache: dict[Any, tuple[float, int, Report]] = engine.extensions.setdefault(_CACHE_KEY, {})
    key = (period, today)
    commits = engine.commits  # read before counting: a commit meanwhile makes the result stale
    now = engine.clock.now().timestamp()  # the engine's clock: a test moving it makes the entry stale
    found = cache.get(key)
    if found is not None and found[1] == commits and 0 <= now - found[0] < seconds:
        return found[2]
    report = _compute(engine, session, calendar, period, today)
    if seconds > 0:
        if len(cache) >= _CACHE_SIZE:
            cache.pop(next(iter(cache)), None)
        cache[key] = (now, commits, report)
    return report


def _compute(engine: CaseEngine, session: Session, calendar: BusinessCalendar, period: Period,
             today: date) -> Report:
    days = WorkingDayCount(calendar)
    previous = period.previous()
    months = _trend_months(period)
    tasks, month_counts = _task_deadlines(session, calendar, period, previous, months)
    by_lane, by_process = _compliance(tasks)
    return Report(
        period=period,
        previous=previous,
        today=today,
        by_lane=by_lane,
        by_process=by_process,
        by_month=_compliance_by_month(months, month_counts),
        breaches=_breaches(session, calendar, period, previous, tasks),
        aging=_aging(session, calendar, days, today),
        flow=_flow(session, calendar, period, today),
        work_in_progress=_work_in_progress(session),
        channel_step="day" if period.days <= DAILY_UP_TO else "month",
        channels=_channels(session, calendar, period),
        turnaround=_turnaround(engine, session, calendar, days, period),
        decisions=_decisions(session, calendar, period, previous),
        process_names=process_names(engine, session),
    )


def _which(column: Any, periods: list[Period], calendar: BusinessCalendar) -> tuple[Any, Any]:
    """SQL numbering the period (0, 1, ...) a UTC timestamp falls in, and the condition that it falls in one.

    The periods' local days are turned into UTC bounds here, so the database compares timestamps
    (an index range) instead of converting each row to a local day.
    """
    bounds = [_bounds(p, calendar) for p in periods]
    inside = [and_(column >= low, column < high) for low, high in bounds]
    return case(*[(test, index) for index, test in enumerate(inside)], else_=None), or_(*inside)


def _task_deadlines(session: Session, calendar: BusinessCalendar, period: Period, previous: Period,
                    months: list[Period]) -> tuple[list[tuple[int, str, str, bool, int]], list[list[int]]]:
    """The tasks closed with a deadline, in one scan of the history for two figures.

    Returns (0 this period or 1 the previous, lane, process, deadline met, tasks), and for each of
    ``months`` [met, with a deadline].
    """
    which, inside = _which(TaskRecord.closed_at, [period, previous], calendar)
    month, in_months = _which(TaskRecord.closed_at, months, calendar)
    tasks: list[tuple[int, str, str, bool, int]] = []
    counts = [[0, 0] for _ in months]
    for index, month_index, lane, process, met, count in session.execute(
        select(which, month, TaskRecord.lane, TaskRecord.process_key, TaskRecord.deadline_met, func.count())
        .where(or_(inside, in_months), TaskRecord.deadline_met.is_not(None))
        .group_by(which, month, TaskRecord.lane, TaskRecord.process_key, TaskRecord.deadline_met)
    ):
        if index is not None:
            tasks.append((index, lane or "", process, bool(met), count))
        if month_index is not None:
            counts[month_index][1] += count
            counts[month_index][0] += count if met else 0
    return tasks, counts


def _compliance(rows: list[tuple[int, str, str, bool, int]]) -> tuple[list[Compliance], list[Compliance]]:
    lanes: dict[str, Compliance] = {}
    processes: dict[str, Compliance] = {}
    for index, lane, process, met, count in rows:
        for key, table in ((lane, lanes), (process, processes)):
            item = table.setdefault(key, Compliance(key))
            if index == 0:
                item.total += count
                item.met += count if met else 0
            else:
                item.previous_total += count
                item.previous_met += count if met else 0
    return sorted(lanes.values(), key=lambda c: c.key), sorted(processes.values(), key=lambda c: c.key)


def _months_ending(last: date, count: int) -> list[date]:
    months = [_month_start(last)]
    while len(months) < count:
        months.insert(0, _month_start(months[0] - timedelta(days=1)))
    return months


def _trend_months(period: Period) -> list[Period]:
    """The month before and the `TREND_MONTHS` months ending with the period's last month."""
    return [Period("custom", month, _month_start(month + timedelta(days=32)) - timedelta(days=1))
            for month in _months_ending(period.end, TREND_MONTHS + 1)]


def _compliance_by_month(months: list[Period], counts: list[list[int]]) -> list[Compliance]:
    """Each of the `TREND_MONTHS` months beside the month before."""
    return [Compliance(months[i].start.strftime("%Y-%m"), counts[i][0], counts[i][1], counts[i - 1][0],
                       counts[i - 1][1]) for i in range(1, len(months))]


def _breaches(session: Session, calendar: BusinessCalendar, period: Period, previous: Period,
              tasks: list[tuple[int, str, str, bool, int]]) -> list[Breaches]:
    """Which clock was breached: the task's own deadline, or the decision date promised to the member.

    A task deadline is breached when its task closed after it (``deadline_met`` false), counted on
    the day the task closed; a promised date when the committee decided after the day promised
    (`ServiceRequest.answer_promised_on`), counted on the day of the decision.
    """
    task, promise = Breaches("task_deadline"), Breaches("promised_date")
    for index, _lane, _process, met, count in tasks:
        _count_breach(task, index, not met, count)
    which, inside = _which(Decision.decided_at, [period, previous], calendar)
    # Both sides are dates (text 'YYYY-MM-DD' on SQLite, which compares the same way).
    late = local_day(session, Decision.decided_at, calendar.tz) > ServiceRequest.answer_promised_on
    for index, breached, count in session.execute(
        select(which, late, func.count())
        .join(ServiceRequest, ServiceRequest.id == Decision.request_id)
        .where(inside, ServiceRequest.answer_promised_on.is_not(None))
        .group_by(which, late)
    ):
        _count_breach(promise, index, bool(breached), count)
    return [task, promise]


def _count_breach(item: Breaches, index: int, breached: bool, count: int) -> None:
    if index == 0:
        item.total += count
        item.breached += count if breached else 0
    else:
        item.previous_total += count
        item.previous_breached += count if breached else 0


def aging_bucket(working_days: int) -> str:
    """The aging bucket (`AGING_BUCKETS`) of a task open for ``working_days``."""
    for key, _low, high in AGING_BUCKETS:
        if high is None or working_days <= high:
            return key
    return AGING_BUCKETS[-1][0]  # pragma: no cover - the last bucket has no upper end


def _aging(session: Session, calendar: BusinessCalendar, days: WorkingDayCount,
           today: date) -> dict[str, dict[str, int]]:
    """Open tasks now, per lane, by working days since each opened (to today)."""
    day = local_day(session, HumanTask.created_at, calendar.tz)
    table: dict[str, dict[str, int]] = {}
    for lane, opened_on, count in session.execute(
        select(HumanTask.lane, day, func.count()).group_by(HumanTask.lane, day)
    ):
        row = table.setdefault(lane or "", {key: 0 for key, _, _ in AGING_BUCKETS})
        row[aging_bucket(max(0, days.between(as_day(opened_on), today)))] += count
    return dict(sorted(table.items()))


def _flow(session: Session, calendar: BusinessCalendar, period: Period, today: date) -> list[tuple[date, int, int]]:
    """Tasks opened and tasks completed on each day of the period (up to today)."""
    low, high = _bounds(period, calendar)
    created: dict[date, int] = defaultdict(int)
    completed: dict[date, int] = defaultdict(int)
    # One scan of the history for both: a task closes after it opens, so every row wanted closed
    # after the period's start (the index's range) and opened before its end.
    opened_on = local_day(session, TaskRecord.opened_at, calendar.tz)
    closed_on = local_day(session, TaskRecord.closed_at, calendar.tz)
    done = TaskRecord.outcome == "completed"
    for opened, closed, was_completed, count in session.execute(
        select(opened_on, closed_on, done, func.count())
        .where(TaskRecord.closed_at >= low, TaskRecord.opened_at < high,
               or_(TaskRecord.opened_at >= low, TaskRecord.closed_at < high))
        .group_by(opened_on, closed_on, done)
    ):
        opened, closed = as_day(opened), as_day(closed)
        if period.contains(opened):
            created[opened] += count
        if was_completed and period.contains(closed):
            completed[closed] += count
    opened_open = local_day(session, HumanTask.created_at, calendar.tz)
    for opened, count in session.execute(
        select(opened_open, func.count()).where(HumanTask.created_at >= low, HumanTask.created_at < high)
        .group_by(opened_open)
    ):
        created[as_day(opened)] += count
    result, day = [], period.start
    while day <= min(period.end, max(today, period.start)):
        result.append((day, created[day], completed[day]))
        day += timedelta(days=1)
    return result


def _work_in_progress(session: Session) -> list[WorkInProgress]:
    """Each person's open tasks per lane they hold or have tasks in, beside that lane's average.

    The lane's team is every active account holding the lane, with anyone else holding one of its
    tasks; the average is the lane's held tasks over that many people. Sorted by lane, then name.
    """
    held: dict[tuple[str, str], int] = {
        (lane or "", assignee): count for lane, assignee, count in session.execute(
            select(HumanTask.lane, HumanTask.assignee, func.count()).where(HumanTask.assignee.is_not(None))
            .group_by(HumanTask.lane, HumanTask.assignee)
        )
    }
    users = {u.username: u for u in session.scalars(select(User))}
    teams: dict[str, set[str]] = defaultdict(set)
    for user in users.values():
        if user.is_active:
            for lane in lanes_of(user.roles or []):
                teams[lane].add(user.username)
    for lane, assignee in held:
        teams[lane].add(assignee)
    result = []
    for lane, people in teams.items():
        total = sum(held.get((lane, person), 0) for person in people)
        average = round(total / len(people), 1) if people else 0.0
        for person in people:
            user = users.get(person)
            result.append(WorkInProgress(lane, person, user.display_name if user else person,
                                         held.get((lane, person), 0), average))
    return sorted(result, key=lambda w: (w.lane, w.display_name, w.username))


def _channels(session: Session, calendar: BusinessCalendar, period: Period) -> list[tuple[str, dict[str, int]]]:
    """Requests opened per channel, per day (a period of up to `DAILY_UP_TO` days) or per month."""
    low, high = _bounds(period, calendar)
    day = local_day(session, ServiceRequest.opened_at, calendar.tz)
    daily = period.days <= DAILY_UP_TO
    keys: list[str] = []
    cursor = period.start
    while cursor <= period.end:
        key = cursor.isoformat() if daily else cursor.strftime("%Y-%m")
        if not keys or keys[-1] != key:
            keys.append(key)
        cursor += timedelta(days=1)
    table = {key: {channel: 0 for channel in CHANNELS} for key in keys}
    for opened_on, channel, count in session.execute(
        select(day, ServiceRequest.channel, func.count())
        .where(ServiceRequest.opened_at >= low, ServiceRequest.opened_at < high)
        .group_by(day, ServiceRequest.channel)
    ):
        opened_on = as_day(opened_on)
        key = opened_on.isoformat() if daily else opened_on.strftime("%Y-%m")
        if key in table:
            table[key][channel] = table[key].get(channel, 0) + count
    return list(table.items())


def _turnaround(engine: CaseEngine, session: Session, calendar: BusinessCalendar, days: WorkingDayCount,
                period: Period) -> list[Turnaround]:
    """Per service type, working days from a request's opening to its closing, for those closed in the period.

    Closing is the request's final status (delivered, answered, registered, rejected); cancelled
    requests are left out.
    """
    low, high = _bounds(period, calendar)
    opened = local_day(session, ServiceRequest.opened_at, calendar.tz)
    closed = local_day(session, ServiceRequest.closed_at, calendar.tz)
    values: dict[str, list[float]] = defaultdict(list)
    for service, opened_on, closed_on, count in session.execute(
        select(ServiceRequest.service_type, opened, closed, func.count())
        .where(and_(ServiceRequest.closed_at >= low, ServiceRequest.closed_at < high,
                    ServiceRequest.status != "cancelled"))
        .group_by(ServiceRequest.service_type, opened, closed)
    ):
        took = max(0, days.between(as_day(opened_on), as_day(closed_on)))
        values[service].extend([float(took)] * count)
    services = domain(engine).catalogue.services
    result = []
    for key in sorted(values):
        names = dict(services[key].name) if key in services else {"ar": key, "en": key}
        result.append(Turnaround(key, names, len(values[key]), percentile(values[key], 0.5),
                                 percentile(values[key], 0.9)))
    return result


def _decisions(session: Session, calendar: BusinessCalendar, period: Period,
               previous: Period) -> dict[str, tuple[int, int]]:
    """The committee's decisions, accepted and rejected, in the period and the one before."""
    which, inside = _which(Decision.decided_at, [period, previous], calendar)
    counts = {outcome: [0, 0] for outcome in ("accepted", "rejected")}
    for index, outcome, count in session.execute(
        select(which, Decision.outcome, func.count()).where(inside).group_by(which, Decision.outcome)
    ):
        counts.setdefault(outcome, [0, 0])[index] += count
    return {outcome: (now, before) for outcome, (now, before) in counts.items()}
