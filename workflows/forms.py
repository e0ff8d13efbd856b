"""Task forms: JSON Schema files in ``bpmn/forms/``, checked before the engine sees the data.

The server always validates (design decision 8).

A form is a JSON Schema (draft 2020-12) object with ``x-label: {ar, en}`` on the form and on
each property (``x-enum-labels`` for choices, ``x-widget`` hints). Validation reports every
field that is wrong at once; Eastern Arabic digits in number fields are accepted.
"""

from __future__ import annotations

import contextlib
import json
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jsonschema import Draft202012Validator, FormatChecker

from engine.actors import Actor
from engine.commands import InstanceState, complete_task
from engine.errors import InvalidInput, NotFound
from engine.models import HumanTask
from engine.settings import PROJECT_ROOT
from workflows.identity import ascii_digits
from workflows.models import TaskDraft

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from engine.context import CaseEngine

FORMS_DIR = PROJECT_ROOT / "bpmn" / "forms"


class FormErrors(InvalidInput):
    """Submitted data does not fit the task's form; ``errors`` maps each field to its problem.

    ``reasons`` gives each field's problem as a kind and its limit, for pages to put in their
    own language: ``required``, ``blank``, ``choice``, ``integer``, ``number``, ``minimum``,
    ``maximum``, ``min_length``, ``max_length``, ``date`` or ``other``.
    """

    def __init__(self, errors: dict[str, str], reasons: dict[str, tuple[str, Any]] | None = None) -> None:
        self.errors = errors
        self.reasons = reasons or {field: ("other", None) for field in errors}
        super().__init__("; ".join(f"{field}: {problem}" for field, problem in errors.items()))


def _reason(error: Any) -> tuple[str, Any]:
    """The kind of a jsonschema error and its limit (see `FormErrors`)."""
    kind = error.validator
    if kind == "type":
        wanted = error.validator_value if isinstance(error.validator_value, str) else ""
        return (wanted if wanted in ("integer", "number") else "other"), None
    names = {"pattern": "blank", "enum": "choice", "minimum": "minimum", "maximum": "maximum",
             "minLength": "min_length", "maxLength": "max_length", "minItems": "required"}
    if kind == "format" and error.validator_value == "date":
        return "date", None
    return names.get(kind, "other"), error.validator_value


@lru_cache(maxsize=128)
def load_form(key: str, folder: str = str(FORMS_DIR)) -> dict[str, Any]:
    """The form ``key`` (a file name in the forms folder), checked against the metaschema.

    Raises:
        NotFound: no such form file.
        InvalidInput: the file is not JSON or not a valid JSON Schema.
    """
    path = Path(folder) / key
    if path.resolve().parent != Path(folder).resolve() or not path.is_file():
        raise NotFound(f"no form {key!r} in {folder}")
    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"form {key}: not JSON (line {exc.lineno}: {exc.msg})") from None
    errors = sorted(Draft202012Validator(Draft202012Validator.META_SCHEMA).iter_errors(schema), key=str)
    if errors:
        raise InvalidInput(f"form {key}: not a valid JSON Schema: {errors[0].message}")
    return schema


def validate(schema: dict[str, Any], data: Any) -> dict[str, Any]:
    """Check ``data`` against a form; return it with number fields' Arabic digits converted.

    Raises:
        FormErrors: naming each field that is wrong.
    """
    if not isinstance(data, dict):
        raise FormErrors({"(form)": "the data must be an object of fields"})
    data = dict(data)
    for name, spec in (schema.get("properties") or {}).items():
        if spec.get("format") == "date" and isinstance(data.get(name), str):
            data[name] = ascii_digits(data[name]).strip()
        if spec.get("type") in ("integer", "number") and isinstance(data.get(name), str):
            text = ascii_digits(data[name]).strip()
            with contextlib.suppress(ValueError):  # a wrong value is reported by the schema below
                data[name] = int(text) if spec["type"] == "integer" else float(text)
    errors: dict[str, str] = {}
    reasons: dict[str, tuple[str, Any]] = {}
    for error in Draft202012Validator(schema, format_checker=FormatChecker()).iter_errors(data):
        if error.validator == "required":
            field = error.message.split("'")[1]
            errors.setdefault(field, "is required")
            reasons.setdefault(field, ("required", None))
        elif error.validator == "additionalProperties":
            errors.setdefault("(form)", error.message)
            reasons.setdefault("(form)", ("other", None))
        else:
            field = ".".join(str(p) for p in error.absolute_path) or "(form)"
            message = "must not be blank" if error.validator == "pattern" else error.message
            errors.setdefault(field, message)
            reasons.setdefault(field, _reason(error))
    if errors:
        raise FormErrors(errors, reasons)
    return data


def lint_form_key(properties: Any) -> list[str]:
    """Deploy-time check: a task's ``formKey`` names a form file that exists and is valid."""
    key = properties.get("formKey") or properties.get("formJsonSchemaFilename")
    if not key:
        return []
    try:
        load_form(str(key))
    except (NotFound, InvalidInput) as exc:
        return [f"formKey: {exc.message}"]
    return []


def complete_task_with_form(
    engine: CaseEngine, session: Session, actor: Actor, task_id: str, data: dict[str, Any] | None = None
) -> InstanceState:
    """Complete a task after checking ``data`` against its form (when it has one).

    Raises:
        FormErrors: the data does not fit the form (nothing is changed).
        NotFound, Conflict, Forbidden: as `engine.commands.complete_task`.
    """
    task = session.get(HumanTask, task_id)
    data = data or {}
    if task is not None and task.form_key:
        data = validate(load_form(task.form_key), data)
    state = complete_task(engine, session, actor, task_id, data)
    draft = session.get(TaskDraft, task_id)
    if draft is not None:
        session.delete(draft)
    return state


def save_draft(engine: CaseEngine, session: Session, actor: Actor, task_id: str, data: dict[str, Any]) -> None:
    """Keep form values for an open task without checking or completing it.

    Raises:
        NotFound: the task is not open (completed, cancelled or never existed).
    """
    if session.get(HumanTask, task_id) is None:
        raise NotFound(f"Task {task_id} is not open.")
    draft = session.get(TaskDraft, task_id)
    if draft is None:
        draft = TaskDraft(task_id=task_id)
        session.add(draft)
    draft.data = data
    draft.saved_by = actor.name
    draft.saved_at = engine.now()


def load_draft(session: Session, task_id: str) -> TaskDraft | None:
    """The draft saved for an open task, if any."""
    return session.get(TaskDraft, task_id)
