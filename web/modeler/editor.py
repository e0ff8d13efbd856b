"""The modeler: processes with their versions and drafts, the editor's endpoints, import and export.

The editor page talks JSON to these routes (CSRF header on every POST): save (revision-checked),
problems (the server's lint, in the page's language) and deploy (with a required note).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response, abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from engine.actors import Actor
from engine.errors import Conflict, DefinitionProblem, EngineError, Forbidden, InvalidDefinition, NotFound
from web.current import current_engine as _engine
from web.current import owner_actor
from web.refusals import definition_problem_message, refusal
from workflows.operations.drafts import (
    DRAFT_CHANGED,
    deploy_draft,
    discard_draft,
    edit_version,
    import_draft,
    new_process,
    save_draft,
)
from workflows.read.drafts import draft, draft_xml, editor_choices, modeler_overview, problems

bp = Blueprint("modeler", __name__, url_prefix="/modeler")

#: What a downloaded file's name keeps of a process id: letters (any script), digits, "-", "_" and ".".
_SAFE_NAME = re.compile(r"[^\w.-]")
#: A version or revision as a form sends it: ASCII digits, and not more than a database integer holds.
_NUMBER = re.compile(r"[0-9]{1,9}")


def _number(text: str) -> int | None:
    """``text`` as a whole number from a form, or None when it is not one (never a 500 on "²" or 10**5000)."""
    text = text.strip()
    return int(text) if _NUMBER.fullmatch(text) else None

#: The largest upload or JSON body the editor sends (a diagram is refused past its own limit first).
MAX_BODY = 8 * 1024 * 1024


def _query(fn: Any, actor: Actor, *args: Any) -> Any:
    try:
        return _engine().query(fn, actor, *args)
    except Forbidden:
        abort(403)
    except NotFound:
        abort(404)


def _version_links(process: dict[str, Any], version: dict[str, Any]) -> list[dict[str, str]]:
    """Links from a version: its changes against the one before, and moving its running cases."""
    links = []
    number = version["version"]
    if number > 1 and "modeler_diff.diff" in current_app.view_functions:
        links.append({"url": url_for("modeler_diff.diff", key=process["key"], **{"from": number - 1, "to": number}),
                      "label": _("Changes from version %(version)s", version=number - 1)})
    newest = process["versions"][0]["version"]
    if version["running"] and number < newest and "modeler_migrate.index" in current_app.view_functions:
        links.append({"url": url_for("modeler_migrate.index", key=process["key"], **{"from": number, "to": newest}),
                      "label": _("Move its cases to version %(version)s", version=newest)})
    return links


def _index(actor: Actor, error: str = "", status: int = 200, form: dict | None = None):
    return render_template("modeler.html", view=_query(modeler_overview, actor), error=error,
                           form=form or {}, version_links=_version_links), status


@bp.get("")
@login_required
def index():
    return _index(owner_actor())


@bp.post("/import")
@login_required
def import_file():
    actor = owner_actor()
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _index(actor, _("Choose a BPMN file to import."), 400)
    content = upload.read(MAX_BODY + 1)
    try:
        draft_id = _engine().run(import_draft, actor, content, upload.filename)
    except Forbidden:
        abort(403)
    except EngineError as exc:
        return _index(actor, refusal(exc), 422)
    flash(_("The file is open as a draft. The problems list says what it needs before it can be deployed."),
          "success")
    return redirect(url_for("modeler.edit", draft_id=draft_id))


@bp.post("/new")
@login_required
def new():
    actor = owner_actor()
    form = {name: request.form.get(name, "") for name in ("key", "name", "name_en")}
    try:
        draft_id = _engine().run(new_process, actor, form["key"], form["name"], form["name_en"])
    except Forbidden:
        abort(403)
    except EngineError as exc:
        return _index(actor, refusal(exc), 422, form)
    return redirect(url_for("modeler.edit", draft_id=draft_id))


@bp.post("/<key>/edit")
@login_required
def edit_process(key: str):
    actor = owner_actor()
    version = request.form.get("version", "")
    if version.strip() and _number(version) is None:
        abort(404)
    try:
        draft_id = _engine().run(edit_version, actor, key, _number(version))
    except Forbidden:
        abort(403)
    except NotFound:
        abort(404)
    return redirect(url_for("modeler.edit", draft_id=draft_id))


@bp.get("/drafts/<int:draft_id>")
@login_required
def edit(draft_id: int):
    actor = owner_actor()
    shown = _query(draft, actor, draft_id)
    choices = _query(editor_choices, actor, draft_id)
    return render_template(
        "modeler_edit.html", draft=shown, handlers=choices["handlers"], forms=choices["forms"],
        lanes=choices["lanes"], xml_url=url_for("modeler.xml", draft_id=draft_id),
        save_url=url_for("modeler.save", draft_id=draft_id),
        problems_url=url_for("modeler.check", draft_id=draft_id),
        deploy_url=url_for("modeler.deploy", draft_id=draft_id),
        export_url=url_for("modeler.export", draft_id=draft_id))


@bp.get("/drafts/<int:draft_id>/xml")
@login_required
def xml(draft_id: int):
    text = _query(draft_xml, owner_actor(), draft_id)
    return Response(text, mimetype="application/xml", headers={"Cache-Control": "no-store"})


@bp.get("/drafts/<int:draft_id>/export")
@login_required
def export(draft_id: int):
    actor = owner_actor()
    shown = _query(draft, actor, draft_id)
    text = _query(draft_xml, actor, draft_id)
    stem = _SAFE_NAME.sub("", shown["key"] or "")[:100] or f"draft-{draft_id}"
    response = Response(text, mimetype="application/xml", headers={"Cache-Control": "no-store"})
    name = f"{stem}.bpmn"
    if name.isascii():
        response.headers.set("Content-Disposition", "attachment", filename=name)
    else:  # RFC 6266/5987: an ASCII name for old clients, the real one percent-encoded in UTF-8
        response.headers["Content-Disposition"] = (f'attachment; filename="draft-{draft_id}.bpmn"; '
                                                   f"filename*=UTF-8''{quote(name)}")
    return response


def _body() -> dict[str, Any]:
    """The JSON body of an editor call; 400 (in the page's language) when it is not an object."""
    if (request.content_length or 0) > MAX_BODY:
        abort(_json_response(_("The diagram is too large to send."), 413))
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(_json_response(_("The editor sent something the server cannot read; reload the page."), 400))
    return body


def _json_response(message: str, status: int) -> Response:
    response = jsonify({"message": message})
    response.status_code = status
    return response


def _xml_of(body: dict[str, Any], required: bool) -> bytes | None:
    value = body.get("xml")
    if value is None and not required:
        return None
    if not isinstance(value, str):
        abort(_json_response(_("The editor sent no diagram; reload the page."), 400))
    return value.encode("utf-8", "surrogatepass")


def _revision_of(body: dict[str, Any]) -> int:
    value = body.get("revision")
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        abort(_json_response(_("The editor sent no revision of the draft; reload the page."), 400))
    return value


def _plain(params: Any) -> dict[str, Any]:
    """A problem's parameters as JSON can carry them (a time or a set as text)."""
    return {key: value if isinstance(value, (str, int, float, bool, list, type(None))) else str(value)
            for key, value in (params or {}).items()}


def _problem_rows(found: list[DefinitionProblem]) -> list[dict[str, Any]]:
    return [{"element_id": p.element_id, "line": p.line, "message": definition_problem_message(p),
             "code": p.code, "params": _plain(p.params),
             "severity": getattr(p, "severity", "error")}
            for p in found]


def _refused(exc: EngineError) -> Response:
    """An engine refusal as the editor's JSON: 409 for a conflict, 422 for the diagram or its input."""
    if isinstance(exc, Forbidden):
        abort(403)
    if isinstance(exc, NotFound):
        abort(404)
    if isinstance(exc, InvalidDefinition):
        response = jsonify({"message": _("The diagram has problems; nothing was deployed. The problems list "
                                         "names each one."), "problems": _problem_rows(exc.problems)})
        response.status_code = 422
        return response
    body: dict[str, Any] = {"message": refusal(exc), "code": exc.code}
    if isinstance(exc, Conflict):
        # Only a save by someone else asks for a reload; any other conflict (another change at the same
        # moment, a busy database) is worth trying again, with the drawing kept on the page.
        body.update(by=exc.params.get("by"), reload=exc.code == DRAFT_CHANGED, retry=exc.code != DRAFT_CHANGED)
    response = jsonify(body)
    response.status_code = 409 if isinstance(exc, Conflict) else 422
    return response


@bp.post("/drafts/<int:draft_id>")
@login_required
def save(draft_id: int):
    actor, body = owner_actor(), _body()
    content, revision = _xml_of(body, required=True), _revision_of(body)
    try:
        saved = _engine().run(save_draft, actor, draft_id, revision, content)
    except EngineError as exc:
        return _refused(exc)
    return jsonify({"revision": saved["revision"], "saved_at": saved["saved_at"].isoformat()})


@bp.post("/drafts/<int:draft_id>/problems")
@login_required
def check(draft_id: int):
    actor, body = owner_actor(), _body()
    content = _xml_of(body, required=True)
    assert content is not None
    found = _query(problems, actor, content, f"draft {draft_id}", draft_id)
    return jsonify({"problems": _problem_rows(found)})


@bp.post("/drafts/<int:draft_id>/deploy")
@login_required
def deploy(draft_id: int):
    actor, body = owner_actor(), _body()
    content, revision = _xml_of(body, required=False), _revision_of(body)
    note = body.get("note")
    if not isinstance(note, str):
        note = ""
    try:
        deployed = _engine().run(deploy_draft, actor, draft_id, revision, note, content)
    except EngineError as exc:
        return _refused(exc)
    shown = [{"key": d.key, "version": d.version, "created": d.created} for d in deployed]
    if any(d.created for d in deployed):
        flash(_("Version %(version)s is deployed.", version=deployed[0].version), "success")
    else:
        flash(_("Nothing changed: version %(version)s already holds this diagram and its forms.",
                version=deployed[0].version), "info")
    return jsonify({"deployed": shown, "redirect": url_for("modeler.index")})


@bp.post("/drafts/<int:draft_id>/delete")
@login_required
def delete(draft_id: int):
    actor = owner_actor()
    try:
        _engine().run(discard_draft, actor, draft_id, _number(request.form.get("revision", "")) or 0)
    except Forbidden:
        abort(403)
    except NotFound:
        abort(404)
    except EngineError as exc:
        return _index(actor, refusal(exc), 409)
    flash(_("The draft is deleted."), "success")
    return redirect(url_for("modeler.index"))
