"""The case page: the instance's diagram version drawn by bpmn-js with its progress marked,
the history from the audit log, the current data and the open tasks."""

from __future__ import annotations

import json
from datetime import datetime

from flask import Blueprint, Response, abort, render_template
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import login_required

from engine.errors import NotFound
from web.current import current_engine as _engine
from web.current import staff_actor
from web.deadlines import deadline
from web.labels import action_label, case_state_label, legend, process_name
from web.staff.naming import task_title
from workflows.accounts import ROLE_LANES
from workflows.forms import labelled_data
from workflows.read.cases import case_page
from workflows.read.definitions import english_element_names, process_names

bp = Blueprint("cases", __name__)


def _instant(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _view(instance_id: int):
    actor = staff_actor()
    try:
        return _engine().query(case_page, actor, instance_id)
    except NotFound:
        abort(404)


@bp.get("/cases/<int:instance_id>")
@login_required
def case(instance_id: int):
    view = _view(instance_id)
    markers = {element: next(k for k in ("active", "done", "cancelled") if counts[k])
               for element, counts in view["elements"].items()}
    engine = _engine()
    now, calendar = engine.clock.now(), engine.calendars.get()
    deadlines = {t["id"]: deadline(_instant(t["due_at"]), _instant(t["warn_at"]), now, calendar)
                 for t in view["open_tasks"]}
    lang = str(get_locale() or "ar")
    key = view["definition"]["key"]
    english = engine.query(english_element_names).get(key, {}) if lang != "ar" else {}
    titles = {t["id"]: task_title(t["name"], english.get(t["element_id"]), lang) for t in view["open_tasks"]}
    # Lanes are named by role id in the diagrams (the engine keys on them); draw them in words.
    lanes = {lane: _(lane) for lanes in ROLE_LANES.values() for lane in lanes}
    # Labelled from the forms' schemas; what no form names (ids, engine keys) in a technical section.
    fields, technical = labelled_data(view["data"], lang, forms=view.get("forms"))
    return render_template("case.html", view=view, process_name=process_name(engine.query(process_names), key, lang),
                           case_state=case_state_label(view["status"]), legend=legend(), action_label=action_label,
                           markers_json=json.dumps(markers), deadlines=deadlines,
                           lanes_json=json.dumps(lanes, ensure_ascii=False), titles=titles,
                           counts=view["elements"], data_fields=fields,
                           technical_json=json.dumps(technical, ensure_ascii=False, indent=2, default=str)
                           if technical else "")


@bp.get("/cases/<int:instance_id>/diagram.bpmn")
@login_required
def diagram(instance_id: int):
    return Response(_view(instance_id)["xml"], mimetype="application/xml")
