"""The working-day calendar: a year's holidays and closures, and working days counted from a date."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from engine.actors import Actor
from engine.calendar import parse_day

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
