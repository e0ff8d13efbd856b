"""Administration: users and their roles (administrators only)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from engine.errors import EngineError
from web.common import current_engine as _engine
from workflows.accounts import ROLE_LANES, create_user, update_user
from workflows.models import User

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _admin() -> None:
    if "administrator" not in current_user.roles:
        abort(403)


def _page(error: str = "", status: int = 200):
    users = _engine().query(lambda e, s: s.scalars(select(User).order_by(User.username)).all())
    return render_template("admin_users.html", users=users, roles=list(ROLE_LANES), error=error), status


@bp.get("/users")
@login_required
def users():
    _admin()
    return _page()


@bp.post("/users")
@login_required
def add_user():
    _admin()
    form = request.form
    try:
        _engine().run(lambda e, s: create_user(s, e.clock.now(), form.get("username", ""), form.get("password", ""),
                                               form.get("display_name", ""), form.getlist("roles"),
                                               email=form.get("email") or None))
    except EngineError as exc:
        return _page(exc.message, 422)
    flash(_("The user is added."), "success")
    return redirect(url_for("admin.users"))


@bp.post("/users/<int:user_id>")
@login_required
def change_user(user_id: int):
    _admin()
    form = request.form
    if user_id == current_user.id and "administrator" not in form.getlist("roles"):
        return _page(_("You cannot remove your own administrator role."), 422)
    try:
        _engine().run(lambda e, s: update_user(s, user_id, roles=form.getlist("roles"),
                                               is_active=form.get("is_active") == "on",
                                               password=form.get("password") or None))
    except EngineError as exc:
        return _page(exc.message, 422)
    flash(_("The user is changed."), "success")
    return redirect(url_for("admin.users"))
