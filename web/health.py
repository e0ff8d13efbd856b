"""The health check: 200 while the database answers, 503 when it does not."""

from __future__ import annotations

from flask import Blueprint, jsonify
from sqlalchemy import text

from web.current import current_engine

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    try:
        # Read-only: on SQLite a plain transaction begins IMMEDIATE and would wait behind a writer.
        with current_engine().db.execution_options(tawasul_readonly=True).connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure means "not healthy"
        return jsonify(status="error", database=type(exc).__name__), 503
    return jsonify(status="ok")
