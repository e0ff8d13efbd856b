"""The task page: the task's form rendered on the server, validated on the server, with the
member, the request and its checklist beside it."""

from __future__ import annotations

import contextlib
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from flask_login import login_required
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from engine.actors import Actor
from engine.errors import CLAIMED_BY_OTHER, TASK_CLOSED, Conflict, EngineError, Forbidden, InvalidInput, NotFound
from web.current import current_engine as _engine
from web.current import staff_actor
from web.deadlines import deadline
from web.labels import action_label
from web.refusals import refusal
from web.staff.naming import task_title
from web.task_form import form_fields
from workflows.documents import Upload, limits
from workflows.forms import FormErrors, data_from_fields
from workflows.operations.documents import mark_checklist_item
from workflows.operations.tasks import complete_task, save_draft
from workflows.read.tasks import TaskPage, document_file, task_page
from workflows.requests import DOCUMENT_STATES, status_label

bp = Blueprint("tasks", __name__)


def field_errors(exc: FormErrors) -> dict[str, str]:
    """Each field's problem in the page's language (the technical text only when there is no word)."""
    words = {
        "required": _("This field is required."),
        "blank": _("This field must not be blank."),
        "choice": _("Choose one of the options."),
        "integer": _("Enter a whole number."),
        "number": _("Enter a number."),
        "date": _("Enter a date."),
        "must_tick": _("Tick this box to go on."),
    }
    shown = {}
    for field in exc.errors:
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
        else:  # the schema's own words are technical English: say only that the value is refused
            shown[field] = _("This value is not accepted.")
    return shown


def _gone(exc: EngineError):
    flash(refusal(exc), "warning")
    return redirect(url_for("inbox.inbox"))


@bp.route("/tasks/<task_id>", methods=["GET", "POST"])
@login_required
def task(task_id: str):
    actor = staff_actor()
    if request.method == "GET":
        return _render(actor, task_id)
    # One value per name, a list where boxes of one name were ticked (the people of a list).
    fields: dict[str, Any] = {name: values if len(values) > 1 else values[0] for name, values in request.form.lists()}
    drafting = fields.get("action") == "draft"
    # Ticked complete while required documents are not verified: the case goes on to ask for
    # them (the diagram's rule); say so in words after the completion.
    unverified = [] if drafting or "complete" not in fields else _unverified_names(actor, task_id, fields)
    try:
        _engine().run(save_draft if drafting else complete_task, actor, task_id, fields=fields)
    except FormErrors as exc:
        return _render(actor, task_id, fields, field_errors(exc), 422)
    except Forbidden as exc:
        if exc.code != CLAIMED_BY_OTHER:  # held by someone else is not forbidden to see: the page says who
            abort(403)
        return _gone(exc)
    except Conflict as exc:
        return _gone(exc)
    except NotFound:
        abort(404)
    except EngineError as exc:
        return _render(actor, task_id, fields, {"(form)": refusal(exc)}, 422)
    if drafting:
        flash(_("Draft saved. The task stays open."), "success")
        return redirect(url_for("tasks.task", task_id=task_id))
    flash(_("The task is done."), "success")
    if unverified:
        flash(_("The data was marked complete, but these required documents are not verified yet: %(names)s. "
                "The request goes on to ask the member for them.", names=listed(unverified)), "warning")
    return redirect(url_for("inbox.inbox"))


def _unverified_names(actor: Actor, task_id: str, fields: dict[str, str]) -> list[str]:
    """When ``fields`` mark the data complete: the names, in the page's language, of the required
    documents not verified yet."""
    try:
        page = _page(actor, task_id)
        marked = data_from_fields(page.form, fields).get("complete") is True
    except (EngineError, HTTPException):
        return []  # the completion itself will say what is wrong
    return [document_name(page.kinds.get(d.kind), d.kind) for d in page.unverified_documents] if marked else []


def listed(names: list[str]) -> str:
    """Names one after another, with the page language's comma (the catalogue's, as elsewhere)."""
    return _(", ").join(names)


def document_name(kind: Any, fallback: str) -> str:
    """A document kind's name in the page's language."""
    if kind is None:
        return fallback
    return kind.name.get(str(get_locale() or "ar")) or kind.name.get("ar") or fallback


def _page(actor: Actor, task_id: str) -> TaskPage:
    try:
        return _engine().query(task_page, actor, task_id)
    except Forbidden:
        abort(403)
    except NotFound:
        abort(404)


def _render(actor: Actor, task_id: str, submitted: dict[str, str] | None = None, errors: dict[str, str] | None = None,
            status: int = 200):
    try:
        page = _page(actor, task_id)
    except Conflict as exc:  # completed by someone else, or closed by a deadline: it says which
        return _gone(exc)
    task_row, draft = page.task, page.draft
    values = data_from_fields(page.form, submitted) if submitted is not None else dict(draft.data) if draft else {}
    lang = str(get_locale() or "ar")
    engine = _engine()
    calendar = engine.calendars.get()
    folder_types, upload_bytes = limits(engine.settings)[2], limits(engine.settings)[1]
    return render_template(
        "task.html", task=task_row,
        when=deadline(task_row.due_at, task_row.warn_at, engine.clock.now(), calendar),
        case=page.case, promise=page.promise, member=page.member, checklist=page.checklist,
        fields=form_fields(page.form, values, page.people), errors=errors or {}, draft=draft, history=page.history,
        element_names=page.element_names, action_label=action_label,
        contacts=page.contacts, kinds=page.kinds, states=DOCUMENT_STATES, marking=page.keeps_checklist,
        upload_types=folder_types, upload_mb=upload_bytes // (1024 * 1024),
        draft_when=draft.saved_at.astimezone(calendar.tz).strftime("%Y-%m-%d %H:%M") if draft else "",
        form_title=task_title(task_row.name, page.english_name, lang),
        unverified=listed([document_name(page.kinds.get(d.kind), d.kind) for d in page.unverified_documents])
        if "complete" in (page.form.get("properties") or {}) else "",
        case_status=status_label(page.case.status, lang) if page.case else "",
        may_work=page.may_work,
    ), status


@bp.post("/tasks/<task_id>/documents/<kind>")
@login_required
def mark(task_id: str, kind: str):
    """Mark a checklist item from a verification task, attaching its file where the service keeps it."""
    actor = staff_actor()
    back = redirect(url_for("tasks.task", task_id=task_id) + "#docs-heading")
    try:
        upload = request.files.get("file")
        attached = Upload(upload.filename, upload.stream) if upload is not None and upload.filename else None
        _engine().run(mark_checklist_item, actor, task_id, kind, request.form.get("state", ""),
                      request.form.get("note", ""), attached)
    except RequestEntityTooLarge:
        flash(_("The file is larger than %(mb)d MB.", mb=limits(_engine().settings)[1] // (1024 * 1024)), "danger")
        return back
    except Forbidden:
        abort(403)
    except Conflict as exc:
        if exc.code != TASK_CLOSED:
            flash(refusal(exc), "danger")
            return back
        flash(_("This task is no longer open."), "warning")
        return redirect(url_for("inbox.inbox"))
    except NotFound:
        abort(404)
    except InvalidInput as exc:
        flash(refusal(exc), "danger")
        return back
    finally:
        with contextlib.suppress(RequestEntityTooLarge):
            for upload_file in request.files.values():
                upload_file.close()
    flash(_("The checklist is updated."), "success")
    return back


@bp.get("/requests/<int:request_id>/documents/<kind>", endpoint="document_file")
@login_required
def download(request_id: int, kind: str):
    """The stored file of a checklist item, for staff."""
    actor = staff_actor()
    try:
        path = _engine().query(document_file, actor, request_id, kind)
    except NotFound:
        abort(404)
    return send_file(path, as_attachment=True, download_name=f"{kind}{path.suffix}")
