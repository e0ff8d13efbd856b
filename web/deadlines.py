"""A task's deadline as pages show it: local time, Hijri date, working days left or late, SLA state."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from flask_babel import ngettext

from workflows.hijri import hijri
from workflows.read.inbox import sla_state

__all__ = ["deadline", "hijri", "time_left"]


def time_left(days: int) -> str:
    """Working days until a deadline in words: left, due today, or late (plural forms of each language)."""
    if days > 0:
        return ngettext("%(num)s working day left", "%(num)s working days left", days)
    if days == 0:
        return _("Due today")
    return ngettext("%(num)s working day late", "%(num)s working days late", -days)


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
    return {"due": due, "hijri": hijri(due), "time_left": words, "sla": sla_state(due_at, warn_at, now)}
