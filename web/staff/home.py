"""Where each person starts: ``/`` sends them home; the member area; the deployed definitions; the icon.

Home is the inbox for staff (a process owner's is the list of deployed definitions, the work of
that role), the member area for a member, and the sign-in page for anyone not signed in.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, redirect, render_template, request, send_from_directory, url_for
from flask_login import current_user, login_required

from web.current import current_engine as _engine
from web.current import home_of
from workflows.read.definitions import definitions as deployed

bp = Blueprint("home", __name__)

def _wants_json() -> bool:
    return request.args.get("format") == "json" or request.accept_mimetypes.best == "application/json"


@bp.get("/")
def home():
    if _wants_json():
        # `/?format=json` listed the definitions before `/` became everyone's way home.
        return redirect(url_for("home.definitions", format="json"), 308)
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    return redirect(home_of(current_user))


@bp.get("/member")
@login_required
def member_area():
    return render_template("member_area.html")


@bp.get("/definitions")
def definitions():
    rows = _engine().query(deployed)
    if _wants_json():
        return jsonify([
            {"key": d["key"], "version": d["version"], "name": d["name"], "deployed_at": d["deployed_at"].isoformat()}
            for d in rows
        ])
    return render_template("definitions.html", definitions=rows)


@bp.get("/favicon.ico")
def favicon():
    return send_from_directory(current_app.static_folder, "favicon.svg", mimetype="image/svg+xml", max_age=86400)
