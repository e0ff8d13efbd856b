"""The forms of a draft as the modeler's form editor shows them.

Each form its tasks name, the JSON text to edit, and the live preview's schema (checked as a save
would check it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from engine import drafts as store
from engine.actors import Actor
from engine.errors import NO_SUCH, InvalidInput, NotFound
from engine.models import DefinitionDraft
from workflows.accounts import require_role, users_with_lane
from workflows.forms import FORMS_DIR, MAX_FORM_BYTES, form_path, load_form, parse_form, tasks_by_form

if TYPE_CHECKING:
    from engine.context import CaseEngine

OWNERS = ("process_owner", "administrator")
#: What a form no task had before starts as: one labelled field, ready to change.
NEW_FORM: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {
        "note": {"type": "string", "x-label": {"ar": "ملاحظة", "en": "Note"}, "x-widget": "textarea"},
    },
    "required": [],
    "additionalProperties": False,
}


@dataclass(frozen=True)
class DraftFormEntry:
    """One form of a draft: its key, where its text comes from, and the tasks naming it."""

    key: str
    #: ``draft`` (edited with the draft), ``file`` (``bpmn/forms``) or ``new`` (neither yet).
    source: str
    #: (element id, name) of each task of the draft naming the form.
    tasks: list[tuple[str, str]]


@dataclass(frozen=True)
class DraftForm:
    """A form of a draft as the editor opens it."""

    draft_id: int
    #: The draft's revision the editor starts from (a save names it).
    revision: int
    draft_name: str
    entry: DraftFormEntry
    #: The JSON Schema as text, to edit.
    text: str
    #: Every form of the draft, for the editor's list.
    forms: list[DraftFormEntry]


@dataclass(frozen=True)
class FormPreview:
    """A form checked as a save checks it, ready to draw: its schema and the people its fields offer."""

    schema: dict[str, Any]
    #: For each field naming people (``x-people-of-lane``), the names of those who hold that lane.
    people: dict[str, list[str]]


def _form_file(key: str) -> Path | None:
    """The file of form ``key`` in ``bpmn/forms`` (never a path outside it), if there is one."""
    return form_path(key)


def _entries(found: DefinitionDraft) -> list[DraftFormEntry]:
    named = tasks_by_form(found.xml)
    keys = [*named, *(key for key in sorted(found.forms or {}) if key not in named)]
    return [DraftFormEntry(key, "draft" if key in (found.forms or {}) else
                           "file" if _form_file(key) is not None else "new", named.get(key, []))
            for key in keys]


def draft_forms(engine: CaseEngine, session: Session, actor: Actor, draft_id: int) -> list[DraftFormEntry]:
    """The forms of a draft: those its tasks name, in order, then those edited with it that no task names.

    Raises:
        Forbidden: not a process owner or administrator. NotFound: no such draft.
    """
    require_role(actor, *OWNERS)
    return _entries(store.get_draft(session, draft_id))


def draft_form(engine: CaseEngine, session: Session, actor: Actor, draft_id: int, key: str) -> DraftForm:
    """The form ``key`` of a draft, to edit: as edited with the draft, else its file, else a new one.

    Raises:
        Forbidden: not a process owner or administrator.
        NotFound: no such draft, or neither a task of the draft nor its edited forms name ``key``.
    """
    require_role(actor, *OWNERS)
    found = store.get_draft(session, draft_id)
    entries = _entries(found)
    entry = next((e for e in entries if e.key == key), None)
    if entry is None:
        raise NotFound(f"draft {draft_id} names no form {key!r}", code=NO_SUCH, params={"what": "form", "ident": key})
    if entry.source == "draft":
        text = json.dumps(found.forms[key], ensure_ascii=False, indent=2)
    elif entry.source == "file":
        try:
            text = json.dumps(load_form(key), ensure_ascii=False, indent=2)
        except InvalidInput:  # a broken file is shown as it is, to be mended here
            text = (FORMS_DIR / key).read_text(encoding="utf-8", errors="replace")[:MAX_FORM_BYTES]
    else:
        text = json.dumps(NEW_FORM, ensure_ascii=False, indent=2)
    return DraftForm(found.id, found.revision, found.name, entry, text, entries)


def preview_form(engine: CaseEngine, session: Session, actor: Actor, key: str, text: str) -> FormPreview:
    """The form written as ``text``, checked as a save checks it, with the people its fields offer.

    Raises:
        Forbidden: not a process owner or administrator.
        InvalidInput: the text is not a form that may be saved (`workflows.forms.parse_form`).
    """
    require_role(actor, *OWNERS)
    schema = parse_form(key, text)
    people = {name: sorted(u.display_name for u in users_with_lane(session, spec["x-people-of-lane"]))
              for name, spec in schema["properties"].items() if spec.get("x-people-of-lane")}
    return FormPreview(schema, people)
