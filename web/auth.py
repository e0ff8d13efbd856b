"""Sign-in and sign-out: argon2 passwords, CSRF on the form, throttled failures, clear messages."""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import UserMixin, login_required, login_user, logout_user

from engine.actors import Actor
from web.current import current_engine as _engine
from web.extensions import login_manager
from workflows.accounts import actor_for, check_password
from workflows.models import User
from workflows.read.accounts import user_by_id, user_named

bp = Blueprint("auth", __name__)

#: At most this many failed sign-ins per user name and address in the window.
MAX_FAILURES = 5
WINDOW_SECONDS = 300


@dataclass
class SessionUser(UserMixin):
    """The signed-in user, as the pages need it."""

    id: int
    username: str
    display_name: str
    roles: list[str]
    language: str
    member_id: int | None

    @property
    def is_staff(self) -> bool:
        return bool(self.roles)

    def actor(self) -> Actor:
        return actor_for(User(username=self.username, roles=self.roles))


def _session_user(user: User) -> SessionUser:
    return SessionUser(user.id, user.username, user.display_name, list(user.roles), user.language, user.member_id)


def unauthorized() -> Response:
    """Not signed in (or the session ended): the sign-in page, for htmx the whole window.

    An htmx request (the inbox refreshing itself) would otherwise put the sign-in page inside
    the table it replaces.
    """
    if request.headers.get("HX-Request"):
        response = Response(status=401)
        response.headers["HX-Redirect"] = url_for("auth.login")
        return response
    flash(_("Sign in to continue."), "info")
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?") if request.method == "GET" else None))


def _local_page(target: str | None) -> str | None:
    """``target`` if it is a page of this site (a path), else None: never a redirect elsewhere."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    if any(ord(c) < 33 or ord(c) == 127 for c in target):  # browsers drop tabs and newlines: "/\t/x" is "//x"
        return None
    return target


@login_manager.user_loader
def load_user(user_id: str) -> SessionUser | None:
    if not str(user_id).isdigit():
        return None
    user = _engine().query(user_by_id, int(user_id))
    return _session_user(user) if user is not None and user.is_active else None


class _Throttle:
    def __init__(self) -> None:
        self._failures: dict[tuple[str, str], deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def blocked(self, key: tuple[str, str]) -> bool:
        with self._lock:
            failures = self._failures[key]
            while failures and failures[0] < time.monotonic() - WINDOW_SECONDS:
                failures.popleft()
            return len(failures) >= MAX_FAILURES

    def fail(self, key: tuple[str, str]) -> None:
        with self._lock:
            self._failures[key].append(time.monotonic())

    def clear(self, key: tuple[str, str]) -> None:
        with self._lock:
            self._failures.pop(key, None)


throttle = _Throttle()


@bp.route("/login", methods=["GET", "POST"])
def login():
    next_page = _local_page(request.values.get("next"))
    if request.method == "GET":
        return render_template("login.html", username="", next_page=next_page)
    username = (request.form.get("username") or "").strip()
    password = request.form.get("password") or ""
    key = (username.lower(), request.remote_addr or "")
    if throttle.blocked(key):
        flash(_("Too many failed sign-ins. Wait a few minutes and try again."), "danger")
        return render_template("login.html", username=username, next_page=next_page), 429
    user = _engine().query(user_named, username)
    if user is None or not user.is_active or not check_password(user, password):
        throttle.fail(key)
        flash(_("The user name or password is not right."), "danger")
        return render_template("login.html", username=username, next_page=next_page), 401
    throttle.clear(key)
    login_user(_session_user(user))
    return redirect(next_page or (url_for("inbox.inbox") if user.roles else url_for("home.definitions")))


@bp.post("/logout")
@login_required
def logout():
    logout_user()
    flash(_("You have signed out."), "info")
    return redirect(url_for("auth.login"))


__all__ = ["SessionUser", "bp"]
