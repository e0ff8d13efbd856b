"""Front-end packages, served from node_modules (installed from npm, never copied into the repo)."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, send_from_directory

bp = Blueprint("assets", __name__)

#: The project's folder: ``node_modules`` from ``npm install`` and ``instance`` are in it.
PROJECT_ROOT = Path(__file__).resolve().parents[1]
NODE_MODULES = PROJECT_ROOT / "node_modules"
#: Only these folders of the installed packages are served.
SERVED = ("bootstrap/dist/", "htmx.org/dist/", "bpmn-js/dist/", "chart.js/dist/", "axe-core/axe.min.js")


@bp.get("/vendor/<path:name>")
def vendor(name: str):
    if ".." in name or not name.startswith(SERVED):
        abort(404)
    return send_from_directory(NODE_MODULES, name, max_age=86400)
