"""Error pages: a short bilingual page (JSON under /api/) for every HTTP error, never a traceback."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

log = logging.getLogger(__name__)


def _explain(code: int) -> str:
    return {
        400: _("The request could not be understood. Go back and try again."),
        403: _("You do not have permission to open this page."),
        404: _("There is nothing at this address."),
        405: _("This page cannot be used that way."),
        413: _("The file is larger than %(mb)d MB.", mb=_max_mb()),
    }.get(code, _("Something went wrong on our side. The error was recorded; try again shortly."))


def _max_mb() -> int:
    from flask import current_app

    return int((current_app.config.get("MAX_CONTENT_LENGTH") or 0) // (1024 * 1024)) - 1


def _page(code: int, message: str):
    if request.path.startswith("/api/"):
        return jsonify(error=message), code
    return render_template("error.html", code=code, message=message), code


def register(app: Flask) -> None:
    """Install the handlers on ``app``."""

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        return _page(400, _("The form expired or was sent from elsewhere. Reload the page and send it again."))

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if exc.code is None or exc.code < 400:
            return exc
        return _page(exc.code, _explain(exc.code))

    @app.errorhandler(InternalServerError)
    def server_error(exc: InternalServerError):
        log.error("unhandled error on %s %s", request.method, request.path,
                  exc_info=getattr(exc, "original_exception", None))
        return _page(500, _explain(500))
