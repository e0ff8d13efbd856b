"""Administration: users and their roles (administrators only)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from engine.actors import Actor
from engine.errors import EngineError, Forbidden
from web.current import current_engine as _engine
from web.current import staff_actor
from web.refusals import refusal
from workflows.accounts import ROLE_LANES
from workflows.operations.accounts import create_user, update_user
from workflows.read.accounts import users as all_users

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _page(actor: Actor, error: str = "", status: int = 200):
    try:
        users = _engine().query(all_users, actor)
    except Forbidden:
        abort(403)
    return render_template("admin_users.html", users=users, roles=list(ROLE_LANES), error=error), status


@bp.get("/users")
@login_required
def users():
    return _page(staff_actor())


def _change(actor: Actor, done: str, operation, *args, **kwargs):
    """Run an operation on users; the page again with the refusal in its words, or the list with ``done``."""
    try:
        _engine().run(operation, actor, *args, **kwargs)
    except Forbidden:
        abort(403)
    except EngineError as exc:
        return _page(actor, refusal(exc), 422)
    flash(done, "success")
    return redirect(url_for("admin.users"))


@bp.post("/users")
@login_required
def add_user():
    form = request.form
    return _change(staff_actor(), _("The user is added."), create_user, form.get("username", ""),
                   form.get("password", ""), form.get("display_name", ""), form.getlist("roles"),
                   email=form.get("email") or None)


@bp.post("/users/<int:user_id>")
@login_required
def change_user(user_id: int):
    form = request.form
    return _change(staff_actor(), _("The user is changed."), update_user, user_id, roles=form.getlist("roles"),
                   is_active=form.get("is_active") == "on", password=form.get("password") or None)
