"""The visual diff of two versions of a process (``/modeler/<key>/diff?from=V&to=W``).

Both versions are drawn side by side by ``web/static/build/diff.js`` (bpmn-js-differ finds the
added, removed, changed and moved elements in the browser); the page gives it the two diagrams and
the running cases waiting at each element (`workflows.read.modeler_diff`). Process owners and
administrators only.
"""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request
from flask_babel import get_locale
from flask_login import login_required

from engine.errors import Forbidden, NotFound
from web.current import current_engine as _engine
from web.current import owner_actor
from workflows.read.modeler_diff import version_diff

bp = Blueprint("modeler_diff", __name__, url_prefix="/modeler")


def _version(name: str) -> int | None:
    """The version number given as ``name`` in the query; 404 for anything but a small whole number."""
    text = request.args.get(name, "").strip()
    if not text:
        return None
    if not text.isascii() or not text.isdecimal() or len(text) > 9:
        abort(404)
    return int(text)


@bp.get("/<key>/diff")
@login_required
def diff(key: str):
    actor = owner_actor()
    try:
        found = _engine().query(version_diff, actor, key, _version("from"), _version("to"))
    except Forbidden:
        abort(403)
    except NotFound:
        abort(404)
    lang = "ar" if str(get_locale() or "ar") == "ar" else "en"
    return render_template("modeler_diff.html", view=found, name=found["names"].get(lang) or found["key"])
