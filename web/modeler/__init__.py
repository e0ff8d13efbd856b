"""The process owner's pages: the modeler, drafts and deploy, the diff of two versions, forms, migration.

Each module holds one blueprint; every route in them is for process owners and administrators
(`web.current.owner_actor`), and reads or writes only through the operations layer.
"""

from __future__ import annotations

from flask import Flask

from web.modeler import diff, editor, forms, migrate

MODULES: tuple = (editor, diff, forms, migrate)


def register(app: Flask) -> None:
    """Add the process owner's pages to ``app``."""
    for module in MODULES:
        app.register_blueprint(module.bp)
