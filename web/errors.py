"""Error pages: a short page in the page's language (JSON under /api/) for every HTTP error and every
refusal from below web/ that no view caught, never a traceback."""

from __future__ import annotations

import logging
import re

from flask import Flask, current_app, jsonify, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from engine.errors import EngineError
from web.refusals import refusal

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
    return int((current_app.config.get("MAX_CONTENT_LENGTH") or 0) // (1024 * 1024)) - 1


def _page(code: int, message: str):
    if request.path.startswith("/api/"):
        return jsonify(error=message), code
    if request.is_json:  # a page's script (the modeler's editor) reads the reason, never an HTML page
        return jsonify(message=message), code
    return render_template("error.html", code=code, message=message), code


#: Half of a UTF-16 surrogate pair (JSON may carry one as ``\ud800``): no database or page can hold it.
_SURROGATE = re.compile("[\ud800-\udfff]")


def _has_nul(value: object, pattern: re.Pattern[str] | None = None) -> bool:
    """True when a NUL (or a match of ``pattern``) is in ``value`` or in any string inside it (no recursion)."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if ("\x00" in item) if pattern is None else bool(pattern.search(item)):
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def register(app: Flask) -> None:
    """Install the handlers on ``app``."""

    @app.before_request
    def refuse_nul_characters():
        # PostgreSQL cannot store or compare text holding a NUL; say so rather than fail later.
        values: list[object] = [request.path, *(v for _, v in request.args.items(multi=True))]
        values += [v for _, v in request.form.items(multi=True)]
        values += [f.filename or "" for _, f in request.files.items(multi=True)]
        if request.is_json:
            try:
                values.append(request.get_json(silent=True))
            except RecursionError:  # nested deeper than Python's parser goes
                return _page(400, _("The request could not be understood. Go back and try again."))
        if _has_nul(values):
            return _page(400, _("The request holds a NUL character (\\0), which no field may contain."))
        # The API names the field holding one itself (web/api.py); the pages' scripts get this sentence.
        if request.is_json and not request.path.startswith("/api/") and _has_nul(values[-1], _SURROGATE):
            return _page(400, _("The request holds a character that is not valid text (half of a surrogate pair), "
                                "which no field may contain."))
        return None

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        return _page(400, _("The form expired or was sent from elsewhere. Reload the page and send it again."))

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if exc.code is None or exc.code < 400:
            return exc
        return _page(exc.code, _explain(exc.code))

    @app.errorhandler(EngineError)
    def engine_error(exc: EngineError):
        # A refusal no view caught: worded for the page from its code (the API keeps the English message).
        status = {"invalid": 422, "not_found": 404, "forbidden": 403, "conflict": 409}.get(exc.kind)
        if status is None:
            log.error("unhandled engine error on %s %s", request.method, request.path, exc_info=exc)
            return _page(500, _explain(500))
        if request.path.startswith("/api/"):
            return jsonify(error=exc.message), status
        return render_template("error.html", code=status, message=refusal(exc)), status

    @app.errorhandler(InternalServerError)
    def server_error(exc: InternalServerError):
        log.error("unhandled error on %s %s", request.method, request.path,
                  exc_info=getattr(exc, "original_exception", None))
        return _page(500, _explain(500))
