"""The form editor of a draft: a task form's JSON Schema beside a live preview.

The preview is drawn by the task page's own renderer (`web.task_form.form_fields` and
``_task_fields.html``), in Arabic (right to left) or English, as the owner types. A save is
checked first (JSON, the metaschema, Tawasul's rules: `workflows.forms.parse_form`) and names the
draft's revision it started from; a stale one is refused with who saved since. The form is kept
with the draft and deployed with its diagram, as part of the new version.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _
from flask_login import login_required

from engine.errors import SEVERAL, Conflict, EngineError, Forbidden, InvalidInput, NotFound
from web.current import current_engine as _engine
from web.current import owner_actor
from web.refusals import refusal, wording
from web.task_form import form_fields
from workflows.operations.draft_forms import discard_draft_form, save_draft_form
from workflows.read.draft_forms import draft_form, draft_forms, preview_form

bp = Blueprint("modeler_forms", __name__, url_prefix="/modeler")

#: The longest form key a path may name (a file name in ``bpmn/forms``).
KEY_LIMIT = 200
#: The languages the preview draws a form in.
PREVIEW_LANGUAGES = ("ar", "en")


def _key(form_key: str) -> str:
    if len(form_key) > KEY_LIMIT:
        abort(404)
    return form_key


def _query(fn: Any, *args: Any) -> Any:
    try:
        return _engine().query(fn, owner_actor(), *args)
    except Forbidden:
        abort(403)
    except NotFound:
        abort(404)


def _problems(exc: EngineError) -> list[str]:
    """Each problem of a refused form as a sentence in the page's language."""
    if exc.code == SEVERAL:
        return [wording(code, params) for code, params in exc.params.get("problems") or []]
    return [refusal(exc)]


def _draft_url(draft_id: int) -> str | None:
    return url_for("modeler.edit", draft_id=draft_id) if "modeler.edit" in current_app.view_functions else None


@bp.get("/drafts/<int:draft_id>/forms")
@login_required
def index(draft_id: int):
    return render_template("modeler_form.html", shown=None, entries=_query(draft_forms, draft_id),
                           draft_id=draft_id, draft_url=_draft_url(draft_id), problems=[], conflict="")


def _render_page(draft_id: int, form_key: str, text: str | None, problems: list[str], status: int,
                 conflict: str = "", revision: int | None = None):
    shown = _query(draft_form, draft_id, form_key)
    return render_template(
        "modeler_form.html", shown=shown, draft_id=draft_id, draft_url=_draft_url(draft_id), problems=problems,
        conflict=conflict, text=shown.text if text is None else text,
        revision=shown.revision if revision is None else revision, languages=PREVIEW_LANGUAGES,
        preview_html=_preview_html(form_key, shown.text if text is None else text, "ar"),
    ), status


@bp.get("/drafts/<int:draft_id>/forms/<form_key>")
@login_required
def editor(draft_id: int, form_key: str):
    return _render_page(draft_id, _key(form_key), None, [], 200)


@bp.post("/drafts/<int:draft_id>/forms/<form_key>")
@login_required
def save(draft_id: int, form_key: str):
    actor = owner_actor()
    key = _key(form_key)
    text = request.form.get("schema", "")
    raw_revision = request.form.get("revision", "")
    if not re.fullmatch(r"[0-9]{1,9}", raw_revision) or int(raw_revision) == 0:
        return _render_page(draft_id, key, text, [_("The page sent no revision of the draft; reload it.")], 400)
    revision = int(raw_revision)
    try:
        _engine().run(save_draft_form, actor, draft_id, revision, key, text)
    except Forbidden:
        abort(403)
    except NotFound:
        abort(404)
    except Conflict as exc:
        return _render_page(draft_id, key, text, [], 409, conflict=refusal(exc), revision=revision)
    except InvalidInput as exc:
        return _render_page(draft_id, key, text, _problems(exc), 422, revision=revision)
    flash(_("The form is saved with the draft. It is deployed with the diagram, as part of its next version."),
          "success")
    return redirect(url_for("modeler_forms.editor", draft_id=draft_id, form_key=key))


@bp.post("/drafts/<int:draft_id>/forms/<form_key>/discard")
@login_required
def discard(draft_id: int, form_key: str):
    actor = owner_actor()
    key = _key(form_key)
    raw_revision = request.form.get("revision", "")
    if not re.fullmatch(r"[0-9]{1,9}", raw_revision) or int(raw_revision) == 0:
        return _render_page(draft_id, key, None, [_("The page sent no revision of the draft; reload it.")], 400)
    try:
        _engine().run(discard_draft_form, actor, draft_id, int(raw_revision), key)
    except Forbidden:
        abort(403)
    except NotFound:
        abort(404)
    except Conflict as exc:
        return _render_page(draft_id, key, None, [], 409, conflict=refusal(exc), revision=int(raw_revision))
    flash(_("The draft's edit of the form is dropped: the form is as it was before it was edited."), "success")
    return redirect(url_for("modeler_forms.editor", draft_id=draft_id, form_key=key))


def _preview_html(key: str, text: str, language: str) -> str:
    """The preview: the form's fields drawn by the task page's macro in ``language`` (its labels, its
    direction), or the problems of the text, worded in the page's language."""
    heading = _("The form cannot be drawn until these are corrected:")
    try:
        shown = _engine().query(preview_form, owner_actor(), key, text)
    except Forbidden:
        abort(403)
    except InvalidInput as exc:
        problems, fields = _problems(exc), []
    else:
        problems = []
        with force_locale(language):
            fields = form_fields(shown.schema, {}, shown.people)
    page_language = str(get_locale() or "ar")
    with force_locale(language):  # the task page's own words in the fragment, as staff will read them
        return render_template("_form_preview.html", problems=problems, heading=heading, fields=fields,
                               language=language, page_language=page_language)


@bp.post("/drafts/<int:draft_id>/forms/<form_key>/preview")
@login_required
def preview(draft_id: int, form_key: str):
    owner_actor()
    key = _key(form_key)
    language = request.form.get("preview_lang", "ar")
    return _preview_html(key, request.form.get("schema", ""), language if language in PREVIEW_LANGUAGES else "ar")
