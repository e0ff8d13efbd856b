"""The working-day calendar: a year's holidays and closures, and working days counted from a date."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from engine.actors import Actor
from engine.calendar import load_overrides, parse_day
from workflows.accounts import require_role
from workflows.hijri import hijri

if TYPE_CHECKING:
    from engine.context import CaseEngine


def year_days(engine: CaseEngine, session: Session, actor: Actor, year: int) -> list[dict[str, Any]]:
    """The public holidays, the society's closures and its corrections of ``year``."""
    return [entry.as_dict() for entry in engine.calendars.get().days(year)]


def working_days_after(engine: CaseEngine, session: Session, actor: Actor, start: date | str, days: int) -> date:
    """The date ``days`` working days after ``start`` (before it, for a negative count).

    Raises:
        InvalidInput: ``start`` is not a date, or the count is beyond the calendar's limit.
    """
    day = start if isinstance(start, date) else parse_day(start)
    return engine.calendars.get().add_business_days(day, days)


#: How far from this year the calendar may be changed (a year back, two ahead).
YEARS_BACK, YEARS_AHEAD = 1, 2


def calendar_years(engine: CaseEngine) -> range:
    """The years whose days may be changed and shown (a year back, two ahead)."""
    this_year = engine.clock.now().astimezone(engine.calendars.get().tz).year
    return range(this_year - YEARS_BACK, this_year + YEARS_AHEAD + 1)


def calendar_page(engine: CaseEngine, session: Session, actor: Actor, year: int, language: str) -> dict[str, Any]:
    """What the administrators' calendar page shows for ``year``, holidays named in ``language``.

    Returns:
        ``days`` (each public holiday, closure and correction: date, Hijri date, name, kind,
        is_working, reason), ``weekend`` (weekday numbers, Monday 0), ``years`` (those that may be
        changed) and ``year``.

    Raises:
        Forbidden: administrators only.
    """
    require_role(actor, "administrator")
    current = engine.calendars.get().with_overrides(load_overrides(session))
    names = current.holiday_names(year, language)
    days = []
    for entry in current.days(year):
        holiday = names.get(entry.day, "")
        days.append({"date": entry.day, "hijri": hijri(entry.day), "kind": entry.kind, "is_working": entry.is_working,
                     "name": holiday if entry.kind == "public_holiday" else "",
                     "holiday": holiday, "reason": entry.name if entry.kind != "public_holiday" else ""})
    return {"year": year, "days": days, "weekend": sorted(set(range(7)) - current.working_weekdays),
            "years": list(calendar_years(engine))}
