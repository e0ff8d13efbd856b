"""The society's working calendar: closures, and corrections of the public holidays."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from engine import calendar
from engine.actors import Actor
from engine.db import after_commit
from workflows.accounts import require_role

if TYPE_CHECKING:
    from engine.context import CaseEngine


def _day(day: date | str) -> date:
    return day if isinstance(day, date) else calendar.parse_day(day)


def close_day(engine: CaseEngine, session: Session, actor: Actor, day: date | str, reason: str) -> date:
    """Close a day that would be a working day (a closure, an Eid day announced late).

    Raises:
        Forbidden: administrators only. InvalidInput: not a date, or no reason.
    """
    return _set(engine, session, actor, _day(day), False, reason)


def open_day(engine: CaseEngine, session: Session, actor: Actor, day: date | str, reason: str) -> date:
    """Open a day the public calendar closes (a correction).

    Raises:
        Forbidden: administrators only. InvalidInput: not a date, or no reason.
    """
    return _set(engine, session, actor, _day(day), True, reason)


def clear_day(engine: CaseEngine, session: Session, actor: Actor, day: date | str) -> tuple[date, bool]:
    """Remove the society's entry for a day; return the day and whether there was an entry.

    Raises:
        Forbidden: administrators only. InvalidInput: not a date.
    """
    require_role(actor, "administrator")
    cleared = _day(day)
    removed = calendar.clear_day(session, cleared)
    after_commit(session, engine.calendars.invalidate)
    return cleared, removed


def _set(engine: CaseEngine, session: Session, actor: Actor, day: date, is_working: bool, reason: str) -> date:
    require_role(actor, "administrator")
    calendar.set_day(session, day, is_working, reason, actor.name, engine.clock.now())
    # Deadlines counted in this process see the change at once; other processes within refresh_seconds.
    after_commit(session, engine.calendars.invalidate)
    return day
