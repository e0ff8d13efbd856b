"""What a request runs with: the app's engine, the signed-in person as an engine actor, and their home."""

from __future__ import annotations

from flask import abort, current_app, url_for
from flask_login import current_user

from engine.actors import Actor
from workflows.bootstrap import CaseEngine

ENGINE_KEY = "tawasul.engine"


def current_engine() -> CaseEngine:
    """The engine the app was built around."""
    return current_app.extensions[ENGINE_KEY]


def staff_actor() -> Actor:
    """The signed-in staff member as an engine actor; 403 for anyone else (a member's account)."""
    if not current_user.is_staff:
        abort(403)
    return current_user.actor()


#: Roles that may open the supervisors' pages (the board, reports, heat map and incidents).
SUPERVISING_ROLES = frozenset({"supervisor", "administrator"})


def supervisor_actor() -> Actor:
    """The signed-in supervisor or administrator as an engine actor; 403 for anyone else."""
    actor = staff_actor()
    if not SUPERVISING_ROLES & set(current_user.roles or ()):
        abort(403)
    return actor


#: Roles that may open the modeler (edit, deploy, compare versions, move running cases).
MODELING_ROLES = frozenset({"process_owner", "administrator"})


def owner_actor() -> Actor:
    """The signed-in process owner or administrator as an engine actor; 403 for anyone else."""
    actor = staff_actor()
    if not MODELING_ROLES & set(current_user.roles or ()):
        abort(403)
    return actor


#: Roles whose home is the modeler rather than the inbox (they hold no lane).
DEFINITION_ROLES = frozenset({"process_owner"})


def home_of(user: object) -> str:
    """The page a signed-in ``user`` starts on (after sign-in, and from ``/``).

    Staff start on the inbox, a supervisor on the live risk board, a process owner on the
    modeler, and anyone without a staff role (a member's account) on the member area.
    """
    roles = set(getattr(user, "roles", None) or [])
    if not roles:
        return url_for("home.member_area")
    if "supervisor" in roles:
        return url_for("supervision.index")
    if roles <= DEFINITION_ROLES:
        return url_for("modeler.index")
    return url_for("inbox.inbox")
