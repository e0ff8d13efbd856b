"""The case page: the instance's diagram version drawn by bpmn-js with its progress marked,
the history from the audit log, the current data and the open tasks."""

from __future__ import annotations

import json

from flask import Blueprint, Response, abort, current_app, render_template
from flask_login import current_user, login_required

from engine.errors import NotFound
from engine.queries import case_view

bp = Blueprint("cases", __name__)


def _engine():
    return current_app.extensions["tawasul.engine"]


def _view(instance_id: int):
    if not current_user.is_staff:
        abort(403)
    try:
        return _engine().query(case_view, instance_id)
    except NotFound:
        abort(404)


@bp.get("/cases/<int:instance_id>")
@login_required
def case(instance_id: int):
    view = _view(instance_id)
    markers = {element: next(k for k in ("active", "done", "cancelled") if counts[k])
               for element, counts in view["elements"].items()}
    return render_template("case.html", view=view, markers_json=json.dumps(markers),
                           counts=view["elements"], data_json=json.dumps(view["data"], ensure_ascii=False, indent=2,
                                                                          default=str))


@bp.get("/cases/<int:instance_id>/diagram.bpmn")
@login_required
def diagram(instance_id: int):
    return Response(_view(instance_id)["xml"], mimetype="application/xml")
