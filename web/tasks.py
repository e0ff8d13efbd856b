"""The task page: the task's form rendered on the server, validated on the server, with the
member, the request and its checklist beside it."""

from __future__ import annotations

import contextlib
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from flask_login import login_required
from werkzeug.exceptions import RequestEntityTooLarge

from engine.errors import Conflict, EngineError, Forbidden, InvalidInput, NotFound
from engine.models import HumanTask
from web.common import current_engine as _engine
from web.common import deadline, staff_actor
from workflows.documents import discard_upload, limits, store_upload, upload_path
from workflows.forms import FormErrors, complete_task_with_form, load_form, save_draft
from workflows.letters import status_label
from workflows.requests import DOCUMENT_STATES, mark_document
from workflows.tasks import stored_file, task_context

bp = Blueprint("tasks", __name__)


def _context(task_id: str) -> dict[str, Any] | None:
    return _engine().query(task_context, task_id)


def _form_fields(form: dict[str, Any], values: dict[str, Any]) -> list[dict[str, Any]]:
    lang = str(get_locale() or "ar")
    required = set(form.get("required") or [])
    fields = []
    for name, spec in form["properties"].items():
        kind = "text"
        if spec.get("type") == "boolean":
            kind = "checkbox"
        elif "enum" in spec:
            kind = "select"
        elif spec.get("format") == "date":
            kind = "date"
        elif spec.get("type") == "array":
            kind = "list"
        elif spec.get("x-widget") == "textarea":
            kind = "textarea"
        elif spec.get("type") in ("integer", "number"):
            # A text box, not type=number: the browser would refuse Eastern Arabic digits.
            kind = spec["type"]
        value = values.get(name, "")
        if kind == "list" and isinstance(value, list):
            value = "، ".join(value)
        fields.append({
            "name": name, "kind": kind, "label": spec["x-label"].get(lang) or spec["x-label"]["ar"],
            "required": name in required, "value": value,
            "options": [(v, spec.get("x-enum-labels", {}).get(v, {}).get(lang, v)) for v in spec.get("enum", [])],
        })
    return fields


def _submitted(form: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name, spec in form["properties"].items():
        if spec.get("type") == "boolean":
            data[name] = request.form.get(name) == "on"
        elif spec.get("type") == "array":
            raw = request.form.get(name, "")
            data[name] = [p.strip() for p in raw.replace("،", ",").split(",") if p.strip()]
        elif request.form.get(name, "") != "":
            data[name] = request.form.get(name, "")
    return data


def field_errors(exc: FormErrors) -> dict[str, str]:
    """Each field's problem in the page's language (the technical text only when there is no word)."""
    words = {
        "required": _("This field is required."),
        "blank": _("This field must not be blank."),
        "choice": _("Choose one of the options."),
        "integer": _("Enter a whole number."),
        "number": _("Enter a number."),
        "date": _("Enter a date."),
    }
    shown = {}
    for field, problem in exc.errors.items():
        kind, limit = exc.reasons.get(field, ("other", None))
        if kind in words:
            shown[field] = words[kind]
        elif kind == "minimum":
            shown[field] = _("Enter %(n)s or more.", n=limit)
        elif kind == "maximum":
            shown[field] = _("Enter %(n)s or less.", n=limit)
        elif kind == "min_length" and isinstance(limit, int):
            shown[field] = ngettext("Write at least %(num)s character.", "Write at least %(num)s characters.", limit)
        elif kind == "max_length" and isinstance(limit, int):
            shown[field] = ngettext("Write at most %(num)s character.", "Write at most %(num)s characters.", limit)
        else:
            shown[field] = _("This value is not accepted (%(detail)s).", detail=problem)
    return shown


def _may_work(actor, task_row: HumanTask) -> None:
    if not (actor.holds(task_row.lane) or task_row.assignee == actor.name or actor.holds(task_row.candidate_group)):
        abort(403)


@bp.route("/tasks/<task_id>", methods=["GET", "POST"])
@login_required
def task(task_id: str):
    actor = staff_actor()
    ctx = _context(task_id)
    if ctx is None:
        # Gone: completed by someone else, or closed by a deadline. The command knows which.
        try:
            _engine().run(complete_task_with_form, actor, task_id, {})
        except (Conflict, Forbidden) as exc:
            flash(exc.message, "warning")
            return redirect(url_for("inbox.inbox"))
        except NotFound:
            abort(404)
        abort(404)
    task_row = ctx["task"]
    _may_work(actor, task_row)
    form = load_form(task_row.form_key) if task_row.form_key else {"properties": {}, "required": []}
    draft = ctx["draft"]
    values: dict[str, Any] = dict(draft.data) if draft else {}
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST" and request.form.get("action") == "draft":
        try:
            _engine().run(save_draft, actor, task_id, _submitted(form))
        except NotFound:
            flash(_("This task is no longer open."), "warning")
            return redirect(url_for("inbox.inbox"))
        flash(_("Draft saved. The task stays open."), "success")
        return redirect(url_for("tasks.task", task_id=task_id))
    if request.method == "POST":
        values = _submitted(form)
        try:
            _engine().run(complete_task_with_form, actor, task_id, values)
        except FormErrors as exc:
            errors, status = field_errors(exc), 422
        except (Conflict, Forbidden) as exc:
            flash(exc.message, "warning")
            return redirect(url_for("inbox.inbox"))
        except EngineError as exc:
            errors, status = {"(form)": exc.message}, 422
        else:
            flash(_("The task is done."), "success")
            return redirect(url_for("inbox.inbox"))
    lang = str(get_locale() or "ar")
    engine = _engine()
    return render_template(
        "task.html", task=task_row,
        when=deadline(task_row.due_at, task_row.warn_at, engine.clock.now(), engine.calendars.get()),
        case=ctx["case"], member=ctx["member"], checklist=ctx["checklist"],
        fields=_form_fields(form, values), errors=errors, draft=draft, history=ctx["history"],
        element_names=ctx["element_names"],
        contacts=ctx["contacts"], kinds=ctx["kinds"], states=DOCUMENT_STATES, marking=bool(form.get("x-checklist")),
        upload_types=limits(_engine().settings)[2], upload_mb=limits(_engine().settings)[1] // (1024 * 1024),
        draft_when=(draft.saved_at.astimezone(_engine().calendars.get().tz).strftime("%Y-%m-%d %H:%M")
                    if draft else ""),
        form_title=(form.get("x-label") or {}).get(lang) or task_row.name,
        case_status=status_label(ctx["case"].status, lang) if ctx["case"] else "",
    ), status


@bp.post("/tasks/<task_id>/documents/<kind>")
@login_required
def mark(task_id: str, kind: str):
    """Mark a checklist item from a verification task, attaching its file where the service keeps it."""
    actor = staff_actor()
    ctx = _context(task_id)
    if ctx is None:
        flash(_("This task is no longer open."), "warning")
        return redirect(url_for("inbox.inbox"))
    _may_work(actor, ctx["task"])
    form = load_form(ctx["task"].form_key) if ctx["task"].form_key else {}
    if ctx["case"] is None or not form.get("x-checklist") or kind not in {d.kind for d in ctx["checklist"]}:
        abort(404)
    back = redirect(url_for("tasks.task", task_id=task_id) + "#docs-heading")
    stored = None
    try:
        upload = request.files.get("file")
        if upload is not None and upload.filename:
            stored = store_upload(_engine(), ctx["case"].id, kind, upload.filename, upload.stream)
        _engine().run(mark_document, actor, ctx["case"].id, kind, request.form.get("state", ""),
                      request.form.get("note", ""), stored)
    except RequestEntityTooLarge:
        flash(_("The file is larger than %(mb)d MB.", mb=limits(_engine().settings)[1] // (1024 * 1024)), "danger")
        return back
    except (InvalidInput, NotFound) as exc:
        flash(exc.message, "danger")
        return back
    finally:
        with contextlib.suppress(RequestEntityTooLarge):
            for upload_file in request.files.values():
                upload_file.close()
        if stored and not _recorded(ctx["case"].id, kind, stored):
            discard_upload(_engine(), stored)
    flash(_("The checklist is updated."), "success")
    return back


def _recorded(request_id: int, kind: str, stored: str) -> bool:
    return _engine().query(lambda e, s: stored_file(s, request_id, kind)) == stored


@bp.get("/requests/<int:request_id>/documents/<kind>")
@login_required
def document_file(request_id: int, kind: str):
    """The stored file of a checklist item, for staff."""
    staff_actor()
    try:
        stored = _engine().query(lambda e, s: stored_file(s, request_id, kind))
        if not stored:
            abort(404)
        path = upload_path(_engine(), stored)
    except NotFound:
        abort(404)
    return send_file(path, as_attachment=True, download_name=f"{kind}{path.suffix}")
