"""The Flask web app: staff pages (Arabic RTL first, English LTR), health check, integration API."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from flask import Flask
from flask_babel import Babel
from flask_login import LoginManager
from flask_wtf import CSRFProtect
from werkzeug.routing import IntegerConverter

from engine.settings import PROJECT_ROOT

csrf = CSRFProtect()
login_manager = LoginManager()
babel = Babel()


def _secret_key(web_settings: dict[str, Any]) -> str:
    """The session-signing key: from the settings, else one kept in instance/secret_key."""
    configured = str(web_settings.get("secret_key") or "")
    if configured:
        return configured
    path = PROJECT_ROOT / "instance" / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32), encoding="ascii")
        os.chmod(path, 0o600)
    return path.read_text(encoding="ascii").strip()


class _Int32Converter(IntegerConverter):
    def __init__(self, url_map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(url_map, *args, **kwargs)


def create_app(test_config: dict[str, Any] | None = None, engine: Any = None) -> Flask:
    """Build the Flask app around a `CaseEngine` (one is made from the settings if not given)."""
    from engine.context import CaseEngine
    from workflows import install

    engine = install(engine or CaseEngine())
    from engine.schema import require_current_schema

    require_current_schema(engine.db)
    web_settings = engine.settings.get("web") or {}
    app = Flask(__name__)
    # Ids in paths fit the database's 32-bit integers: a larger one is a 404, not a database error.
    app.url_map.converters["int"] = _Int32Converter
    app.config.update(
        SECRET_KEY=_secret_key(web_settings),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=bool(web_settings.get("secure_cookies", False)),
        REMEMBER_COOKIE_HTTPONLY=True,
        WTF_CSRF_TIME_LIMIT=None,
        BABEL_DEFAULT_LOCALE="ar",
        BABEL_TRANSLATION_DIRECTORIES=str(Path(__file__).parent / "translations"),
        # The document size limit plus room for the rest of the form; larger bodies get a 413 page.
        MAX_CONTENT_LENGTH=int(float((engine.settings.get("documents") or {}).get("max_mb", 10)) + 1) * 1024 * 1024,
    )
    app.config.update(test_config or {})
    app.extensions["tawasul.engine"] = engine

    from web import admin, assets, auth, cases, errors, home, i18n, inbox, members, tasks
    from web.api import bp as api_bp

    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.unauthorized_handler(auth.unauthorized)
    babel.init_app(app, locale_selector=i18n.select_locale)
    app.context_processor(i18n.template_helpers)
    app.register_blueprint(home.bp)
    app.register_blueprint(api_bp)
    csrf.exempt(api_bp)  # token-authenticated, no browser session
    app.register_blueprint(assets.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(inbox.bp)
    app.register_blueprint(tasks.bp)
    app.register_blueprint(cases.bp)
    app.register_blueprint(members.bp)
    app.register_blueprint(admin.bp)
    errors.register(app)
    return app
