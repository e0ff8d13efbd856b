"""The Flask web app. Until the staff app lands it answers /healthz and lists definitions."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, render_template_string


def create_app(test_config: dict[str, Any] | None = None, engine: Any = None) -> Flask:
    """Build the Flask app around a `CaseEngine` (one is made from the settings if not given)."""
    from engine.context import CaseEngine
    from workflows import install

    app = Flask(__name__)
    app.config.update(test_config or {})
    app.extensions["tawasul.engine"] = install(engine or CaseEngine())

    from web.api import bp as api_bp
    from web.home import bp as home_bp

    app.register_blueprint(home_bp)
    app.register_blueprint(api_bp)
    return app


__all__ = ["create_app", "jsonify", "render_template_string"]
