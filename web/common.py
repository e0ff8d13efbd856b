"""What every blueprint needs: the engine of the app, the signed-in staff member as an actor, and
a task's deadline in words."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from flask import abort, current_app
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from hijridate import Gregorian

from engine.sla import sla_state

if TYPE_CHECKING:
    from engine.actors import Actor
    from engine.context import CaseEngine


def current_engine() -> CaseEngine:
    """The `CaseEngine` the app was built around."""
    return current_app.extensions["tawasul.engine"]


def staff_actor() -> Actor:
    """The signed-in staff member as an engine actor; 403 for anyone else (a member's account)."""
    if not current_user.is_staff:
        abort(403)
    return current_user.actor()


def time_left(days: int) -> str:
    """Working days until a deadline in words: left, due today, or late (plural forms of each language)."""
    if days > 0:
        return ngettext("%(num)s working day left", "%(num)s working days left", days)
    if days == 0:
        return _("Due today")
    return ngettext("%(num)s working day late", "%(num)s working days late", -days)


def deadline(due_at: datetime | None, warn_at: datetime | None, now: datetime, calendar: Any) -> dict[str, Any]:
    """A task's deadline as pages show it: local time, Hijri (Umm al-Qura) date, working days and SLA state."""
    if due_at is None:
        return {"due": None, "hijri": "", "time_left": "", "sla": sla_state(None, warn_at, now)}
    due = due_at.astimezone(calendar.tz)
    return {
        "due": due,
        "hijri": Gregorian(due.year, due.month, due.day).to_hijri().isoformat(),
        "time_left": time_left(calendar.business_days_between(now.astimezone(calendar.tz).date(), due.date())),
        "sla": sla_state(due_at, warn_at, now),
    }
