"""The supervisors' pages: the live deadline board, the reports, the heat map and the incidents.

Each module holds one blueprint; every route in them is for supervisors and administrators
(`web.current.supervisor_actor`), and reads or writes only through the operations layer.
"""

from __future__ import annotations

from flask import Flask

from web.supervision import board, heatmap, incidents, reports

MODULES: tuple = (heatmap, incidents, reports, board)


def register(app: Flask) -> None:
    """Add the supervisors' pages to ``app``."""
    for module in MODULES:
        app.register_blueprint(module.bp)
