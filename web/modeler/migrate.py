"""Moving the running cases of a version to another (``/modeler/<key>/migrate?from=V&to=W``).

The page shows the dry run first: running cases grouped by their set of active elements, each
group marked can move / needs a mapping / blocked with the reasons and counts; a choice for each
element that needs a mapping (elements of the same type in the new version) and, when timers
wait, keep or recompute. Moving posts the same choices: with JavaScript the page moves the cases
in batches (one request per batch, one transaction per case) and shows the progress; without it
the server moves every batch and shows what moved and what failed. Process owners and
administrators only.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, jsonify, render_template, request
from flask_babel import gettext as _
from flask_login import login_required

from engine.actors import Actor
from engine.errors import EngineError, Forbidden, NotFound
from web.current import current_engine as _engine
from web.current import owner_actor
from web.refusals import refusal, wording
from workflows.operations.migration import run_next_batch
from workflows.read.migration import migration_page

bp = Blueprint("modeler_migrate", __name__, url_prefix="/modeler")

#: Cases moved per request of the page (each in its own transaction).
BATCH = 20


def _number(values: Any, name: str) -> int | None:
    """A version number from the query or form; None when absent, 404 for anything but a small whole number."""
    text = (values.get(name) or "").strip()
    if not text:
        return None
    if not text.isascii() or not text.isdecimal() or len(text) > 9:
        abort(404)
    return int(text)


def _choices(values: Any) -> tuple[dict[str, str], str | None]:
    """The element mapping (``map.<old id>`` fields) and the timer choice given with the request."""
    mapping = {name[4:]: value.strip() for name, value in values.items()
               if name.startswith("map.") and name[4:] and value.strip()}
    # Any other value is the engine's to refuse, in words (``not_a_choice``), never dropped in silence.
    return mapping, values.get("timers") or None


def _page(actor: Actor, key: str, values: Any, result: dict[str, Any] | None = None, error: str = "",
          status: int = 200):
    mapping, timers = _choices(values)
    try:
        view = _engine().query(migration_page, actor, key, _number(values, "from"), _number(values, "to"), mapping,
                               timers)
    except Forbidden:
        abort(403)
    except NotFound:
        abort(404)
    except EngineError as exc:
        view, error, status = None, refusal(exc), 422
    notices = [wording("no_definition", {"process": key, "version": v}) for v in (view or {}).get("missing", [])]
    return render_template("modeler_migrate.html", key=key, view=view, result=result, error=error, notices=notices,
                           reason=lambda r: wording(r.get("code"), r.get("params") or {})), status


@bp.get("/<key>/migrate")
@login_required
def index(key: str):
    return _page(owner_actor(), key, request.args)


@bp.post("/<key>/migrate")
@login_required
def move(key: str):
    actor = owner_actor()
    form = request.form
    from_version, to_version = _number(form, "from"), _number(form, "to")
    if from_version is None or to_version is None:
        return _page(actor, key, form, error=_("Choose the version the cases are on and the one to move them to."),
                     status=400)
    mapping, timers = _choices(form)
    one_batch = form.get("batch") == "1"
    skip = [int(i) for i in (form.get("skip") or "").split(",") if i.strip().isdecimal() and len(i.strip()) < 10]
    moved: list[int] = []
    blocked: list[dict[str, Any]] = []
    try:
        while True:
            done = run_next_batch(_engine(), actor, key, from_version, to_version, timers, mapping, BATCH,
                                  skip + [b["instance_id"] for b in blocked])
            moved += done["moved"]
            blocked += done["blocked"]
            if one_batch or not done["remaining"] or not done["moved"] and not done["blocked"]:
                break
    except Forbidden:
        abort(403)
    except NotFound:
        abort(404)
    except EngineError as exc:
        if one_batch:
            return jsonify({"error": refusal(exc)}), 422
        return _page(actor, key, form, error=refusal(exc), status=422)
    failures = [{"instance_id": b["instance_id"],
                 "reasons": [wording(p.get("code"), p.get("params") or {}) for p in b.get("problems") or []]}
                for b in blocked]
    if one_batch:
        return jsonify({"moved": moved, "failed": failures, "remaining": done["remaining"]})
    return _page(actor, key, form, result={"moved": moved, "failed": failures})
