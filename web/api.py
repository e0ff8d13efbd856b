"""A small JSON API for integrations (other systems, the deployment test).

Off unless ``api.token`` is set; every call then needs ``Authorization: Bearer <token>`` and
acts as the built-in ``system`` user. Each route calls one operation or read model, as the pages
do; starting a process that runs member requests opens a request. The full REST API (OpenAPI,
personal tokens) replaces it later.
"""

from __future__ import annotations

import hmac

from flask import Blueprint, abort, jsonify, request

from engine.actors import SYSTEM
from engine.errors import EngineError, InvalidInput
from web.current import current_engine as _engine
from workflows.forms import FormErrors
from workflows.operations.cases import start_process
from workflows.operations.tasks import complete_task
from workflows.read.cases import case_detail
from workflows.read.tasks import task_list

bp = Blueprint("api", __name__, url_prefix="/api/v1")

_STATUS = {"invalid": 422, "invalid_definition": 422, "script": 422, "not_found": 404, "conflict": 409,
           "forbidden": 403, "config": 500}


@bp.before_request
def _authenticate():
    token = str((_engine().settings.get("api") or {}).get("token") or "")
    if not token:
        abort(404)
    given = request.headers.get("Authorization", "")
    # Compared as bytes: compare_digest refuses str with characters beyond ASCII.
    if not given.startswith("Bearer ") or not hmac.compare_digest(given[len("Bearer "):].encode(), token.encode()):
        return jsonify(error="a valid 'Authorization: Bearer <token>' header is required"), 401
    return None


@bp.errorhandler(EngineError)
def _engine_error(exc: EngineError):
    if isinstance(exc, FormErrors):
        return jsonify(error=exc.message, kind=exc.kind, fields=exc.errors), 422
    return jsonify(error=exc.message, kind=exc.kind), _STATUS.get(exc.kind, 400)


def _body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidInput("the request body must be a JSON object")
    problem = _unencodable_text(body)
    if problem is not None:
        raise InvalidInput(f"{problem}: a lone surrogate can be neither stored nor shown")
    return body


def _unencodable_text(body: dict) -> str | None:
    """Which text in ``body`` (a value or a key) cannot be encoded, and where; None when all can.

    JSON may escape a lone surrogate (``"\\ud800"``): valid JSON, but text that no database and no
    page can encode, so it is refused here for every field, before a lookup or a write meets it.
    """
    stack: list[tuple[object, str, bool]] = [(name, repr(name), True) for name in body]
    stack += [(value, name if name.isidentifier() else repr(name), False) for name, value in body.items()]
    while stack:
        item, where, is_key = stack.pop()
        if isinstance(item, str):
            if not item.isascii():
                try:
                    item.encode("utf-8")
                except UnicodeEncodeError as exc:
                    what = f"the name {where}" if is_key else f"field {where}"
                    return (f"{what} holds text that is not valid Unicode ({item[exc.start]!r} at character "
                            f"{exc.start + 1})")
        elif isinstance(item, dict):
            stack += [(key, f"{key!r} in {where}", True) for key in item]
            stack += [(inner, f"{where}[{key!r}]", False) for key, inner in item.items()]
        elif isinstance(item, list):
            stack += [(inner, f"{where}[{n}]", False) for n, inner in enumerate(item)]
    return None


@bp.post("/instances")
def start_instance():
    body = _body()
    key = body.get("key")
    if not isinstance(key, str) or not key:
        raise InvalidInput("'key' (the process key) is required")
    version = body.get("version")
    if version is not None and (not isinstance(version, int) or isinstance(version, bool)
                                or not 0 < version < 2**31):
        raise InvalidInput("'version' must be a whole number from 1")
    started = _engine().run(start_process, SYSTEM, key, version, body.get("data") or {}, body.get("business_key"))
    return jsonify(started.as_dict()), 201


@bp.get("/instances/<int:instance_id>")
def instance(instance_id: int):
    return jsonify(_engine().query(case_detail, SYSTEM, instance_id))


@bp.get("/tasks")
def tasks():
    unknown = sorted(set(request.args) - {"instance", "lane"})
    if unknown:
        return _bad_query(f"unknown query parameter {unknown[0]!r}; this list takes 'instance' and 'lane'")
    instance_id = None
    if "instance" in request.args:
        text = request.args["instance"]
        # int() would also take " 7", "+7", "7_0" and Arabic-Indic digits; an id is plain digits.
        if not (text.isascii() and text.isdigit() and 0 < int(text) < 2**31):
            return _bad_query(f"query parameter 'instance' must be an instance id (a whole number from 1), "
                              f"not {text[:40]!r}")
        instance_id = int(text)
    lane = request.args.get("lane")
    if lane is not None and not lane.strip():
        return _bad_query("query parameter 'lane' must name a lane")
    return jsonify(_engine().query(task_list, SYSTEM, instance_id=instance_id, lane=lane))


def _bad_query(message: str):
    return jsonify(error=message, kind="invalid"), 400


@bp.post("/tasks/<task_id>/complete")
def complete(task_id: str):
    body = _body()
    row = _engine().run(complete_task, SYSTEM, task_id, body.get("data") or {})
    return jsonify(instance_id=row.id, status=row.status, open_tasks=row.open_tasks)
