"""What the supervisors' figures are counted with.

Percentiles, working days between local days, and the society's local day of a stored UTC time
in SQL: the reports and the heat map both count with these.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Date, Interval, cast, func, literal
from sqlalchemy.orm import Session

from engine.calendar import BusinessCalendar


def percentile(values: list[float], fraction: float) -> float | None:
    """The ``fraction`` percentile of ``values`` by linear interpolation (PostgreSQL's ``percentile_cont``).

    None when there are no values.
    """
    if not values:
        return None
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


class WorkingDayCount:
    """Working days between local days, as `BusinessCalendar.business_days_between` counts them.

    From one running count over the range needed: the calendar is read once per day, not per pair.
    """

    def __init__(self, calendar: BusinessCalendar) -> None:
        self.calendar = calendar
        self._index: dict[date, int] = {}
        self._first: date | None = None
        self._last: date | None = None

    def _cover(self, low: date, high: date) -> None:
        if self._first is not None and self._last is not None and self._first <= low and high <= self._last:
            return
        first = min(low, self._first or low)
        last = max(high, self._last or high)
        count, day, index = 0, first, {}
        while day <= last:
            if day != first and self.calendar.is_working_day(day):
                count += 1
            index[day] = count
            day += timedelta(days=1)
        self._index, self._first, self._last = index, first, last

    def between(self, start: date, end: date) -> int:
        """Working days after ``start`` up to and including ``end`` (negative when ``end`` is earlier)."""
        self._cover(min(start, end), max(start, end))
        return self._index[end] - self._index[start]


def fixed_offset(tz: ZoneInfo) -> timedelta | None:
    """The zone's one offset from UTC when it keeps no summer time (Riyadh: +3 since 1947), else None."""
    offsets = {tz.utcoffset(datetime(year, month, 1)) for year in range(2000, 2041) for month in (1, 4, 7, 10)}
    return offsets.pop() if len(offsets) == 1 else None


def local_day(session: Session, column: Any, tz: ZoneInfo) -> Any:
    """SQL for the society's local calendar day of a UTC timestamp column."""
    offset = fixed_offset(tz)
    if session.get_bind().dialect.name == "postgresql":
        if offset is None:
            return cast(func.timezone(tz.key, column), Date)
        # One offset: adding it to the UTC time is the local time, without a zone look-up per row
        # (a report over months of history spends a third less).
        return cast(func.timezone("UTC", column) + literal(offset, Interval()), Date)
    # SQLite keeps UTC as naive text; a zone with summer time is read at its winter offset there.
    offset = offset if offset is not None else tz.utcoffset(datetime(2000, 1, 1))
    minutes = int(offset.total_seconds() // 60) if offset else 0
    return func.date(column, f"{minutes:+d} minutes")


def as_day(value: Any) -> date:
    """A day as the database gives it back (a date, a date-time, or text on SQLite)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])
