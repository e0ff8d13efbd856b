"""What every blueprint needs: the engine of the app, and the signed-in staff member as an actor."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import abort, current_app
from flask_login import current_user

if TYPE_CHECKING:
    from engine.actors import Actor
    from engine.context import CaseEngine


def current_engine() -> CaseEngine:
    """The `CaseEngine` the app was built around."""
    return current_app.extensions["tawasul.engine"]


def staff_actor() -> Actor:
    """The signed-in staff member as an engine actor; 403 for anyone else (a member's account)."""
    if not current_user.is_staff:
        abort(403)
    return current_user.actor()
