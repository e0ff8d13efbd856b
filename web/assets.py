"""Front-end packages, served from node_modules (installed from npm, never copied into the repo)."""

from __future__ import annotations

from flask import Blueprint, abort, send_from_directory

from engine.settings import PROJECT_ROOT

bp = Blueprint("assets", __name__)

NODE_MODULES = PROJECT_ROOT / "node_modules"
#: Only these folders of the installed packages are served.
SERVED = ("bootstrap/dist/", "htmx.org/dist/", "bpmn-js/dist/", "chart.js/dist/", "axe-core/axe.min.js")


@bp.get("/vendor/<path:name>")
def vendor(name: str):
    if ".." in name or not name.startswith(SERVED):
        abort(404)
    response = send_from_directory(NODE_MODULES, name, max_age=86400)
    return response
