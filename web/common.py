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

from engine.errors import EngineError
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


def _hijri(day: Any) -> str:
    try:
        return Gregorian(day.year, day.month, day.day).to_hijri().isoformat()
    except (OverflowError, ValueError):  # Umm al-Qura tables end in 2077
        return ""


def deadline(due_at: datetime | None, warn_at: datetime | None, now: datetime, calendar: Any) -> dict[str, Any]:
    """A task's deadline as pages show it: local time, Hijri (Umm al-Qura) date, working days and SLA state.

    Past the due time it says how many working days late (or only that the time has passed, on the
    day itself or over a weekend); before it, how many working days are left.
    """
    if due_at is None:
        return {"due": None, "hijri": "", "time_left": "", "sla": sla_state(None, warn_at, now)}
    due = due_at.astimezone(calendar.tz)
    today = now.astimezone(calendar.tz).date()
    if due_at <= now:
        late = calendar.business_days_between(due.date(), today)
        words = time_left(-late) if late > 0 else _("Past its due time")
    else:
        left = calendar.business_days_between(today, due.date())
        words = time_left(left) if left > 0 or due.date() == today else _("Due before the next working day")
    return {"due": due, "hijri": _hijri(due), "time_left": words, "sla": sla_state(due_at, warn_at, now)}


def task_title(name: str, form_key: str | None, lang: str) -> str:
    """A task's name in ``lang``: the diagram's name in Arabic, else its form's label in ``lang``."""
    if lang == "ar" or not form_key:
        return name
    from workflows.forms import load_form

    try:
        return (load_form(form_key).get("x-label") or {}).get(lang) or name
    except EngineError:  # a form removed since: the name from the diagram still reads
        return name
