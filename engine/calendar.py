"""The working-day calendar: Sunday–Thursday week, Saudi public holidays, the society's closures.

Public holidays come from the ``holidays`` package (country SA). Because Eid dates are
announced late, the society can correct the calendar: close a day (a closure, or an Eid day
the package has wrong) or open one (a package holiday that is not observed). Those days live
in the ``calendar_days`` table.

Deadlines keep the local clock time: ten working days after Tuesday 10:00 (Riyadh) is 10:00 on
the tenth working day after that Tuesday.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as holidays_package
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import ConfigError, InvalidInput
from engine.models import CalendarDay

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
#: More working days than this in one step is surely a mistake (about 40 years).
MAX_BUSINESS_DAYS = 10_000


@dataclass(frozen=True)
class Override:
    """A day the society opened or closed, and why."""

    is_working: bool
    reason: str


@dataclass(frozen=True)
class CalendarEntry:
    """One non-standard day of a year, as `BusinessCalendar.days` lists it."""

    day: date
    name: str
    kind: str  # public_holiday, closure, opened
    is_working: bool

    def as_dict(self) -> dict[str, Any]:
        """The JSON the CLI prints."""
        return {"date": self.day.isoformat(), "name": self.name, "kind": self.kind, "is_working": self.is_working}


class BusinessCalendar:
    """Which days are working days, and dates and deadlines counted in working days."""

    def __init__(
        self,
        timezone: str = "Asia/Riyadh",
        working_days: Iterable[str] = ("sunday", "monday", "tuesday", "wednesday", "thursday"),
        country: str = "SA",
        language: str = "ar",
        overrides: Mapping[date, Override] | None = None,
    ) -> None:
        try:
            self.tz = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(f"calendar.timezone {timezone!r} is not a known time zone") from None
        names = [str(day).strip().lower() for day in working_days]
        unknown = [name for name in names if name not in WEEKDAYS]
        if unknown or not names:
            raise ConfigError(f"calendar.working_days must name weekdays (sunday … saturday), got {names}")
        self.working_weekdays = frozenset(WEEKDAYS.index(name) for name in names)
        self.country = country
        self.language = language
        self.overrides: dict[date, Override] = dict(overrides or {})
        self._public: dict[int, dict[date, str]] = {}

    # -- days -----------------------------------------------------------------------------------

    def public_holidays(self, year: int) -> dict[date, str]:
        """The country's public holidays of ``year`` (names in the calendar's language)."""
        found = self._public.get(year)
        if found is None:
            try:
                table = holidays_package.country_holidays(self.country, years=year, language=self.language)
            except NotImplementedError:
                raise ConfigError(f"calendar.country {self.country!r} is not known to the holidays package") from None
            found = self._public[year] = dict(table.items())
        return found

    def holiday_names(self, year: int, language: str) -> dict[date, str]:
        """The public holidays of ``year`` named in ``language`` (``ar``, ``en``; the default names otherwise)."""
        if language == self.language:
            return self.public_holidays(year)
        wanted = {"en": "en_US"}.get(language, language)
        try:
            table = holidays_package.country_holidays(self.country, years=year, language=wanted)
        except NotImplementedError:
            raise ConfigError(f"calendar.country {self.country!r} is not known to the holidays package") from None
        return dict(table.items())

    def base_is_working_day(self, day: date) -> bool:
        """Whether ``day`` is a working day by the week and the public holidays alone (no society's days)."""
        return day.weekday() in self.working_weekdays and day not in self.public_holidays(day.year)

    def with_overrides(self, overrides: Mapping[date, Override]) -> BusinessCalendar:
        """The same calendar with the society's days replaced by ``overrides`` (for a preview)."""
        other = BusinessCalendar.__new__(BusinessCalendar)
        other.__dict__.update(self.__dict__)
        other.overrides = dict(overrides)
        return other

    def is_working_day(self, day: date) -> bool:
        """True when ``day`` is a working day after weekends, holidays and the society's own days."""
        override = self.overrides.get(day)
        if override is not None:
            return override.is_working
        return day.weekday() in self.working_weekdays and day not in self.public_holidays(day.year)

    def days(self, year: int) -> list[CalendarEntry]:
        """The year's public holidays, closures and corrections (weekends are not listed)."""
        entries: dict[date, CalendarEntry] = {}
        for day, name in self.public_holidays(year).items():
            entries[day] = CalendarEntry(day, name, "public_holiday", False)
        for day, override in self.overrides.items():
            if day.year != year:
                continue
            kind = "opened" if override.is_working else "closure"
            entries[day] = CalendarEntry(day, override.reason, kind, override.is_working)
        return [entries[day] for day in sorted(entries)]

    # -- counting -------------------------------------------------------------------------------

    def add_business_days(self, start: date, days: int) -> date:
        """The date ``days`` working days after ``start`` (before it when negative; 0 is ``start``)."""
        days = _whole_days(days)
        step = 1 if days >= 0 else -1
        current, remaining = start, abs(days)
        try:
            while remaining:
                current += timedelta(days=step)
                if self.is_working_day(current):
                    remaining -= 1
        except OverflowError:
            raise InvalidInput(f"{days} working days from {start.isoformat()} is outside the calendar") from None
        return current

    def deadline(self, start: datetime, days: int) -> datetime:
        """The instant ``days`` working days after ``start``, at the same local clock time (UTC)."""
        local = start.astimezone(self.tz)
        due_day = self.add_business_days(local.date(), days)
        due = datetime.combine(due_day, local.timetz().replace(tzinfo=None), tzinfo=self.tz)
        return due.astimezone(UTC)

    def business_days_between(self, start: date, end: date) -> int:
        """Working days after ``start`` up to and including ``end`` (negative when ``end`` is earlier)."""
        low, high, sign = (start, end, 1) if end >= start else (end, start, -1)
        count, current = 0, low
        while current < high:
            current += timedelta(days=1)
            if self.is_working_day(current):
                count += 1
        return sign * count


def _whole_days(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"a number of working days must be a whole number, not {value!r}")
    if abs(value) > MAX_BUSINESS_DAYS:
        raise InvalidInput(f"{value} working days is more than the limit of {MAX_BUSINESS_DAYS}")
    return value


def calendar_from_settings(settings: Mapping[str, Any], overrides: Mapping[date, Override] | None = None) -> (
    BusinessCalendar
):
    """A calendar configured by the ``calendar`` section of the settings."""
    section = settings.get("calendar") or {}
    return BusinessCalendar(
        timezone=section.get("timezone", "Asia/Riyadh"),
        working_days=section.get("working_days", ("sunday", "monday", "tuesday", "wednesday", "thursday")),
        country=section.get("country", "SA"),
        language=section.get("language", "ar"),
        overrides=overrides,
    )


# -- the society's days, in the database --------------------------------------------------------


def load_overrides(session: Session) -> dict[date, Override]:
    """Every closure and correction stored by the society."""
    return {row.day: Override(row.is_working, row.reason) for row in session.scalars(select(CalendarDay))}


def set_day(
    session: Session, day: date, is_working: bool, reason: str, actor: str, now: datetime
) -> CalendarDay:
    """Close (``is_working=False``) or open a day; replaces an earlier entry for that day.

    Raises:
        InvalidInput: the reason is empty.
    """
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("give a reason for the calendar change (--reason)")
    row = session.scalars(select(CalendarDay).where(CalendarDay.day == day)).first()
    if row is None:
        row = CalendarDay(day=day, is_working=is_working, reason=reason, created_at=now, created_by=actor)
        session.add(row)
    else:
        row.is_working, row.reason, row.created_at, row.created_by = is_working, reason, now, actor
    session.flush()
    return row


def clear_day(session: Session, day: date) -> bool:
    """Remove the society's entry for ``day``; return whether there was one."""
    row = session.scalars(select(CalendarDay).where(CalendarDay.day == day)).first()
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True


class CalendarCache:
    """The calendar with the society's days, reloaded at most every ``refresh_seconds``.

    Other processes' changes show within ``refresh_seconds``; this process's own changes show
    at once (`invalidate` after commit).
    """

    def __init__(
        self,
        settings: Mapping[str, Any],
        load: Callable[[], dict[date, Override]],
        refresh_seconds: float = 30.0,
    ) -> None:
        self._settings = settings
        self._load = load
        self._refresh = float(refresh_seconds)
        self._lock = threading.Lock()
        self._calendar: BusinessCalendar | None = None
        self._loaded_at = 0.0
        #: A calendar put in force for one computation (`using`), in this thread or task only.
        self._in_force: contextvars.ContextVar[BusinessCalendar | None] = contextvars.ContextVar(
            "tawasul_calendar", default=None)
        calendar_from_settings(settings)  # refuse a bad configuration at start-up

    def get(self) -> BusinessCalendar:
        """The current calendar (loading the society's days when stale).

        Loading happens outside the lock: a thread that loads holds a database connection, and
        threads waiting on the lock may hold one each, so loading under it could starve the pool.
        Inside `using`, the calendar given there.
        """
        in_force = self._in_force.get()
        if in_force is not None:
            return in_force
        with self._lock:
            fresh = self._calendar is not None and time.monotonic() - self._loaded_at <= self._refresh
            if fresh:
                return self._calendar  # type: ignore[return-value]
        calendar = calendar_from_settings(self._settings, self._load())
        with self._lock:
            self._calendar, self._loaded_at = calendar, time.monotonic()
        return calendar

    @contextmanager
    def using(self, calendar: BusinessCalendar) -> Iterator[None]:
        """Make `get` give ``calendar`` in the block (deadlines counted on a calendar not yet saved)."""
        token = self._in_force.set(calendar)
        try:
            yield
        finally:
            self._in_force.reset(token)

    def invalidate(self) -> None:
        """Forget the loaded days; the next `get` reloads them."""
        with self._lock:
            self._calendar = None


def parse_day(text: str) -> date:
    """Parse ``YYYY-MM-DD`` (Eastern Arabic digits accepted).

    Raises:
        InvalidInput: naming the text.
    """
    normalised = str(text).strip().translate(str.maketrans("٠١٢٣٤٥٦٧٨٩", "0123456789"))
    try:
        return date.fromisoformat(normalised)
    except ValueError:
        raise InvalidInput(f"not a date: {text!r} (write YYYY-MM-DD, e.g. 2026-12-01)") from None
