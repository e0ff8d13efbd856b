"""The staff app: inbox, tasks, cases, members, letters, administration, the list of diagrams."""

from __future__ import annotations

from flask import Flask

from web.staff import admin, calendar, cases, home, inbox, letters, members, tasks


def register(app: Flask) -> None:
    """Add the staff pages to ``app``."""
    for module in (home, inbox, tasks, cases, members, letters, admin, calendar):
        app.register_blueprint(module.bp)
