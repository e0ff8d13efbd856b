"""The live risk board (`/supervision`): every lane's late, at-risk and undated work, counts that
open the inbox with the same filters, reassignment with a reason, escalations and the forecast."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from flask_login import login_required

from engine.errors import EngineError, Forbidden
from web.current import current_engine, supervisor_actor
from web.deadlines import deadline
from web.i18n import isolate
from web.labels import process_name
from web.refusals import refusal
from web.staff.naming import task_title
from workflows.operations.tasks import assign_task
from workflows.read.definitions import english_element_names, process_names
from workflows.read.pauses import paused_cases
from workflows.read.supervision import BOARD_STATES, DIMENSIONS, FORECAST_DAYS, board

bp = Blueprint("supervision", __name__)

#: Each count's dimension as the inbox filters it.
_FILTER = {"lane": "lane", "process": "process", "group": "group", "assignee": "assignee"}


def waited(seconds: float | None) -> str:
    """Time spent on working days in words: days and hours (plural forms of each language)."""
    if seconds is None:
        return ""
    days, rest = divmod(int(seconds), 86400)
    hours = rest // 3600
    day_words = ngettext("%(num)s working day", "%(num)s working days", days)
    hour_words = ngettext("%(num)s hour", "%(num)s hours", hours)
    if days and hours:
        return _("%(days)s and %(hours)s", days=day_words, hours=hour_words)
    if days:
        return day_words
    return hour_words if hours else _("less than an hour")


def count_link(dimension: str, value: str | None, state: str) -> str | None:
    """The inbox showing exactly the tasks of one count; None where the inbox has no such filter."""
    if value is None:
        if dimension != "assignee":  # no lane / no team: the inbox cannot single those out
            return None
        value = "none"
    return url_for("inbox.inbox", **{_FILTER[dimension]: value, "sla": state})


@bp.get("/supervision")
@login_required
def index():
    actor = supervisor_actor()
    engine = current_engine()
    lang = str(get_locale() or "ar")
    found = engine.query(board, actor)
    calendar = engine.calendars.get()
    names = engine.query(process_names)
    english = engine.query(english_element_names) if lang != "ar" else {}
    rows = [{"item": item, "title": task_title(item.task.name, english.get(item.process, {}).get(item.task.element_id),
                                               lang),
             "process_name": process_name(names, item.process, lang),
             **deadline(item.task.due_at, item.task.warn_at, found.now, calendar)} for item in found.tasks]
    escalations = [{"item": e, "title": task_title(e.task.name, english.get(e.process, {}).get(e.task.element_id),
                                                   lang),
                    "since_opened": waited(e.waited_since_opened), "since_escalated": waited(e.waited_since_escalated)}
                   for e in found.escalations]
    labels = {"lane": _("Lane"), "process": _("Process"), "group": _("Team"), "assignee": _("Assignee")}
    return render_template(
        "supervision_board.html", board=found, rows=rows, escalations=escalations, states=BOARD_STATES,
        dimensions=DIMENSIONS, labels=labels, count_link=count_link, forecast_days=FORECAST_DAYS,
        process_names={key: process_name(names, key, lang) for key in found.counts["process"] if key},
        horizons={days: at.astimezone(calendar.tz) for days, at in found.horizons.items()},
        reason_max=300, paused=engine.query(paused_cases, actor))


@bp.post("/supervision/tasks/<task_id>/reassign")
@login_required
def reassign(task_id: str):
    """Reassign a task from the board to someone holding its lane, with a reason kept in its history."""
    actor = supervisor_actor()
    person = request.form.get("assign_to", "").strip()
    try:
        current_engine().run(assign_task, actor, task_id, person, request.form.get("reason", ""),
                             lane_holders_only=True)
    except Forbidden:
        abort(403)
    except EngineError as exc:
        flash(refusal(exc), "danger")
    else:
        flash(_("The task is reassigned to %(person)s.", person=isolate(person)), "success")
    return redirect(url_for("supervision.index"))

