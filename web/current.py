"""What a request runs with: the app's engine, and the signed-in person as an engine actor."""

from __future__ import annotations

from flask import abort, current_app
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
