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
    return body


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
    instance_id = request.args.get("instance", type=int)
    if instance_id is not None and not 0 < instance_id < 2**31:
        raise InvalidInput("'instance' must be an instance id (a whole number from 1)")
    return jsonify(_engine().query(task_list, SYSTEM, instance_id=instance_id, lane=request.args.get("lane")))


@bp.post("/tasks/<task_id>/complete")
def complete(task_id: str):
    body = _body()
    row = _engine().run(complete_task, SYSTEM, task_id, body.get("data") or {})
    return jsonify(instance_id=row.id, status=row.status, open_tasks=row.open_tasks)
