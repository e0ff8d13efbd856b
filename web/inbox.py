"""The task inbox: the tasks of the user's lanes and their own, with claim and unclaim (htmx)."""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, abort, current_app, render_template, request
from flask_babel import gettext as _
from flask_login import current_user, login_required
from hijridate import Gregorian

from engine import commands
from engine.errors import EngineError
from engine.queries import list_tasks
from engine.sla import SLA_STATES, sla_state

bp = Blueprint("inbox", __name__)


def _engine():
    return current_app.extensions["tawasul.engine"]


def _staff():
    if not current_user.is_staff:
        abort(403)
    return current_user.actor()


def _rows(actor, lane: str | None, sla: str | None):
    engine = _engine()
    now = engine.clock.now()
    calendar = engine.calendars.get()
    rows = []
    for task in engine.query(list_tasks, actor, lane=lane or None, sla=sla or None):
        due = task.due_at.astimezone(calendar.tz) if task.due_at else None
        rows.append({
            "task": task,
            "sla": sla_state(task.due_at, task.warn_at, now),
            "due": due,
            "hijri": Gregorian(due.year, due.month, due.day).to_hijri().isoformat() if due else "",
            "days_left": (calendar.business_days_between(now.astimezone(calendar.tz).date(), due.date())
                          if due else None),
        })
    return rows


@bp.get("/inbox")
@login_required
def inbox():
    actor = _staff()
    lane = request.args.get("lane") or ""
    sla = request.args.get("sla") or ""
    if sla and sla not in SLA_STATES:
        sla = ""
    rows = _rows(actor, lane, sla)
    template = "_inbox_table.html" if request.headers.get("HX-Request") else "inbox.html"
    lanes = sorted(actor.lanes)
    return render_template(template, rows=rows, lane=lane, sla=sla, lanes=lanes, sla_states=SLA_STATES,
                           now=datetime.now())


@bp.post("/tasks/<task_id>/claim")
@login_required
def claim(task_id: str):
    return _assignment(commands.claim_task, task_id)


@bp.post("/tasks/<task_id>/unclaim")
@login_required
def unclaim(task_id: str):
    return _assignment(commands.unclaim_task, task_id)


def _assignment(command, task_id: str):
    actor = _staff()
    message = None
    try:
        _engine().run(command, actor, task_id)
    except EngineError as exc:
        message = exc.message
    rows = _rows(actor, request.args.get("lane"), request.args.get("sla"))
    # htmx swaps only 2xx answers: the message is shown inside the table it replaces.
    status = 200 if message is None or request.headers.get("HX-Request") else 409
    return render_template("_inbox_table.html", rows=rows, error=message or "", lane="", sla=""), status


__all__ = ["_"]
