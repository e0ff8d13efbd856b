"""The heat map: a process version's diagram with, on each user task, its live tokens, waiting and
working times and breach rate (`workflows.read.heatmap`); the same figures in a table, and the
open cases of the task chosen (clicked on the diagram, or picked in the table)."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, abort, render_template, request
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from flask_login import login_required

from engine.errors import Forbidden, NotFound
from web.current import current_engine as _engine
from web.current import supervisor_actor
from web.deadlines import deadline
from web.staff.naming import task_title
from workflows.accounts import ROLE_LANES
from workflows.read.heatmap import heatmap, processes

bp = Blueprint("heatmap", __name__)


def band_words() -> dict[str, str]:
    """Each breach-rate band in words (the legend, and each task's cell): never colour alone."""
    return {"none": _("No task with a deadline closed yet"), "met": _("Every deadline met (%(percent)s%%)", percent=0),
            "low": _("Under %(percent)s%% of deadlines missed", percent=10),
            "medium": _("%(low)s%% to %(high)s%% of deadlines missed", low=10, high=25),
            "high": _("%(percent)s%% or more of deadlines missed", percent=25)}


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def _span(figures: dict[str, Any], which: str) -> str:
    """One time figure (median or p90) as hours and working days; a dash with no completed task."""
    hours = figures.get(f"{which}_hours")
    if hours is None:
        return "—"
    return _("%(hours)s h · %(days)s working days", hours=_number(hours), days=_number(figures.get(f"{which}_days")))


def _rate(task: dict[str, Any]) -> str:
    if task["breach_rate"] is None:
        return _("No deadline history")
    return _("%(percent)s%% missed (%(breached)s of %(total)s)", percent=round(task["breach_rate"] * 100),
             breached=task["breached"], total=task["with_deadline"])


def _version() -> int | None:
    text = request.args.get("version", "").strip()
    if not text:
        return None
    if not text.isascii() or not text.isdecimal() or len(text) > 9:
        abort(404)
    return int(text)


def _map(key: str) -> dict[str, Any]:
    actor = supervisor_actor()
    try:
        return _engine().query(heatmap, actor, key, _version())
    except Forbidden:
        abort(403)
    except NotFound:
        abort(404)


@bp.get("/supervision/processes")
@login_required
def index():
    actor = supervisor_actor()
    try:
        found = _engine().query(processes, actor)
    except Forbidden:
        abort(403)
    lang = str(get_locale() or "ar")
    return render_template("supervision_processes.html", processes=found, lang_key=lang if lang == "ar" else "en")


@bp.get("/supervision/processes/<key>")
@login_required
def process(key: str):
    found = _map(key)
    lang = str(get_locale() or "ar")
    engine = _engine()
    now, calendar = engine.clock.now(), engine.calendars.get()
    words = band_words()
    shown = []
    overlay: dict[str, dict[str, Any]] = {}
    for task in found["tasks"]:
        title = task_title(task["name"], task["name_en"], lang)
        rate = _rate(task)
        cases = [{**case, "deadline": deadline(case["due_at"], None, now, calendar),
                  "member_name": (case["member"] or {}).get("ar" if lang == "ar" else "en")}
                 for case in task["open_cases"]]
        shown.append({**task, "title": title, "rate": rate, "band_words": words[task["band"]],
                      "waiting_median": _span(task["waiting"], "median"), "waiting_p90": _span(task["waiting"], "p90"),
                      "working_median": _span(task["working"], "median"), "working_p90": _span(task["working"], "p90"),
                      "cases": cases, "more": task["live"] - len(cases)})
        overlay[task["element_id"]] = {
            "band": task["band"], "live": task["live"],
            "badge": ngettext("%(num)s open task", "%(num)s open tasks", task["live"]),
            "rate": "—" if task["breach_rate"] is None else f"{round(task['breach_rate'] * 100)}%",
            "title": f"{title}: {rate}",
        }
    lanes = {lane: _(lane) for lanes in ROLE_LANES.values() for lane in lanes}
    selected = request.args.get("element", "")
    if selected and selected not in overlay:
        selected = ""
    return render_template(
        "supervision_heatmap.html", map=found, tasks=shown, words=words, selected=selected,
        name=found["names"].get("ar" if lang == "ar" else "en") or found["key"],
        overlay=overlay, lanes_json=json.dumps(lanes, ensure_ascii=False),
        # The tasks drawn in the page's language (the diagram names them in Arabic, with tawasul:nameEn).
        names_json=json.dumps({t["element_id"]: t["title"] for t in shown} if lang != "ar" else {},
                              ensure_ascii=False))


@bp.get("/supervision/processes/<key>/diagram.bpmn")
@login_required
def diagram(key: str):
    return Response(_map(key)["xml"], mimetype="application/xml")
