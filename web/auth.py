"""Sign-in and sign-out: argon2 passwords, CSRF on the form, throttled failures, clear messages.

A session holds the user's id and session epoch (``"<id>:<epoch>"``, Flask-Login's user id):
signing out, a new password or a stopped account move the epoch on in the database, and the
user loader refuses a session with an older one. A copied cookie therefore dies with sign-out.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass

from flask import Blueprint, Response, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import UserMixin, current_user, login_required, login_user, logout_user

from engine.actors import Actor
from web.current import current_engine as _engine
from web.current import home_of
from web.extensions import login_manager
from workflows.accounts import actor_for, may_sign_in
from workflows.models import User
from workflows.operations.accounts import sign_out
from workflows.read.accounts import user_by_id, user_named

bp = Blueprint("auth", __name__)

#: At most this many failed sign-ins per user name and address in the window.
MAX_FAILURES = 5
WINDOW_SECONDS = 300
#: At most this many user name and address pairs are remembered; past it the oldest are forgotten.
MAX_TRACKED = 10_000


@dataclass
class SessionUser(UserMixin):
    """The signed-in user, as the pages need it."""

    id: int
    username: str
    display_name: str
    roles: list[str]
    language: str
    member_id: int | None
    session_epoch: int = 0

    def get_id(self) -> str:
        """What the session keeps: the user's id and the session epoch it was signed in with."""
        return f"{self.id}:{self.session_epoch}"

    @property
    def is_staff(self) -> bool:
        return bool(self.roles)

    def actor(self) -> Actor:
        return actor_for(User(username=self.username, roles=self.roles))


def _session_user(user: User) -> SessionUser:
    return SessionUser(user.id, user.username, user.display_name, list(user.roles), user.language, user.member_id,
                       user.session_epoch or 0)


def unauthorized() -> Response:
    """Not signed in (or the session ended): the sign-in page, for htmx the whole window.

    An htmx request (the inbox refreshing itself) would otherwise put the sign-in page inside
    the table it replaces.
    """
    if request.headers.get("HX-Request"):
        response = Response(status=401)
        response.headers["HX-Redirect"] = url_for("auth.login")
        return response
    if request.is_json:  # a page's script (the modeler's save): a reason it can show, never the sign-in page
        response = jsonify(message=_("You are signed out, so nothing was saved. Sign in again in another tab, "
                                     "then save again: your changes are still on this page."), signed_out=True)
        response.status_code = 401
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
def load_user(session_id: str) -> SessionUser | None:
    """The user of a session ``"<id>:<epoch>"``: None when the account stopped or the session ended."""
    user_id, _, epoch = str(session_id).partition(":")
    if not (user_id.isdigit() and epoch.isdigit()):
        return None  # not made by this sign-in (or made before sessions had an epoch)
    user = _engine().query(user_by_id, int(user_id))
    if user is None or not user.is_active or (user.session_epoch or 0) != int(epoch):
        return None
    return _session_user(user)


class _Throttle:
    """Failed sign-ins per (user name, address) in the last `WINDOW_SECONDS`, for `max_tracked` pairs.

    Pairs are kept oldest failure first; when a new one would pass the bound, the pairs whose
    failures have all expired go, then the oldest ones.
    """

    def __init__(self, max_tracked: int = MAX_TRACKED) -> None:
        self.max_tracked = max_tracked
        self._failures: OrderedDict[tuple[str, str], deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._failures)

    def blocked(self, key: tuple[str, str]) -> bool:
        with self._lock:
            failures = self._failures.get(key)
            if failures is None:
                return False
            self._expire(failures, time.monotonic())
            if not failures:
                del self._failures[key]
            return len(failures) >= MAX_FAILURES

    def fail(self, key: tuple[str, str]) -> None:
        now = time.monotonic()
        with self._lock:
            failures = self._failures.get(key)
            if failures is None:
                self._make_room(now)
                failures = self._failures[key] = deque(maxlen=MAX_FAILURES)
            failures.append(now)
            self._failures.move_to_end(key)

    def clear(self, key: tuple[str, str]) -> None:
        with self._lock:
            self._failures.pop(key, None)

    @staticmethod
    def _expire(failures: deque[float], now: float) -> None:
        while failures and failures[0] < now - WINDOW_SECONDS:
            failures.popleft()

    def _make_room(self, now: float) -> None:
        """Forget pairs until one more fits: first the expired (least recent first), then the oldest."""
        if len(self._failures) < self.max_tracked:
            return
        for key in list(self._failures):
            if len(self._failures) < self.max_tracked:
                return
            failures = self._failures[key]
            self._expire(failures, now)
            if failures:
                break  # pairs are in order of their last failure: the rest are more recent
            del self._failures[key]
        while len(self._failures) >= self.max_tracked:
            self._failures.popitem(last=False)


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
    if not may_sign_in(user, password):
        throttle.fail(key)
        flash(_("The user name or password is not right."), "danger")
        return render_template("login.html", username=username, next_page=next_page), 401
    throttle.clear(key)
    login_user(_session_user(user))
    return redirect(next_page or home_of(user))


@bp.post("/logout")
@login_required
def logout():
    _engine().run(sign_out, current_user.actor())
    logout_user()
    flash(_("You have signed out."), "info")
    return redirect(url_for("auth.login"))


__all__ = ["SessionUser", "bp"]
