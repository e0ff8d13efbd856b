"""The app factory: the Flask app around the application's engine, every audience's pages in it."""

from __future__ import annotations

import os
import secrets
from typing import Any

from flask import Flask
from werkzeug.routing import IntegerConverter

from web.api import bp as api_bp
from web.assets import PROJECT_ROOT
from web.assets import bp as assets_bp
from web.auth import bp as auth_bp
from web.auth import unauthorized
from web.current import ENGINE_KEY
from web.errors import register as register_errors
from web.extensions import babel, csrf, login_manager
from web.health import bp as health_bp
from web.i18n import select_locale, template_helpers
from web.modeler import register as register_modeler
from web.security import register as register_security
from web.security import secure_cookies
from web.staff import register as register_staff
from web.supervision import register as register_supervision
from workflows.bootstrap import CaseEngine, build, install
from workflows.schema import require_current_schema

_TRANSLATIONS = PROJECT_ROOT / "web" / "translations"


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


def create_app(test_config: dict[str, Any] | None = None, engine: CaseEngine | None = None) -> Flask:
    """Build the Flask app around the application's engine (one is built from the settings if not given)."""
    engine = install(engine) if engine is not None else build()
    require_current_schema(engine.db)
    web_settings = engine.settings.get("web") or {}
    app = Flask(__name__)
    # Ids in paths fit the database's 32-bit integers: a larger one is a 404, not a database error.
    app.url_map.converters["int"] = _Int32Converter
    app.config.update(
        SECRET_KEY=_secret_key(web_settings),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # Secure unless web.secure_cookies says otherwise; `tawasul serve` on localhost turns it off.
        SESSION_COOKIE_SECURE=secure_cookies(web_settings),
        REMEMBER_COOKIE_SECURE=secure_cookies(web_settings),
        REMEMBER_COOKIE_HTTPONLY=True,
        WTF_CSRF_TIME_LIMIT=None,
        BABEL_DEFAULT_LOCALE="ar",
        BABEL_TRANSLATION_DIRECTORIES=str(_TRANSLATIONS),
        # The document size limit plus room for the rest of the form; larger bodies get a 413 page.
        MAX_CONTENT_LENGTH=int(float((engine.settings.get("documents") or {}).get("max_mb", 10)) + 1) * 1024 * 1024,
    )
    app.config.update(test_config or {})
    app.extensions[ENGINE_KEY] = engine

    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.unauthorized_handler(unauthorized)
    babel.init_app(app, locale_selector=select_locale)
    app.context_processor(template_helpers)
    app.register_blueprint(health_bp)
    app.register_blueprint(api_bp)
    csrf.exempt(api_bp)  # token-authenticated, no browser session
    app.register_blueprint(assets_bp)
    app.register_blueprint(auth_bp)
    register_staff(app)
    register_supervision(app)
    register_modeler(app)
    register_errors(app)
    register_security(app)
    return app
