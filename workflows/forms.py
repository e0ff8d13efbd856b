"""Task forms: JSON Schema files in ``bpmn/forms/``, checked before the engine sees the data.

The server always validates (design decision 8).

A form is a JSON Schema (draft 2020-12) object with ``x-label: {ar, en}`` on the form and on
each property (``x-enum-labels`` for choices, ``x-widget`` hints, ``x-people-of-lane`` for a
list of people offered as boxes to tick: those who hold that lane). Validation reports every
field that is wrong at once; Eastern Arabic digits in number fields are accepted.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

from engine.errors import NO_SUCH, InvalidInput, NotFound, error_code
from engine.settings import PROJECT_ROOT
from workflows.identity import ascii_digits

#: `FormErrors.code`: ``errors`` maps each field to its problem (the kinds are in ``reasons``).
FORM_ERRORS = error_code("form_errors", "errors")
#: A form file (``form``) that is not JSON or not a JSON Schema (``detail``, technical).
FORM_FILE_INVALID = error_code("form_file_invalid", "form", "detail")
FORMS_DIR = PROJECT_ROOT / "bpmn" / "forms"
#: Arabic decimal and thousands separators (٤٬٥٠٠٫٥ is 4500.5).
_NUMBER_SEPARATORS = str.maketrans({"\u066b": ".", "\u066c": ""})
#: A form without fields, for tasks that name none.
NO_FORM: dict[str, Any] = {"properties": {}, "required": []}


class FormErrors(InvalidInput):
    """Submitted data does not fit the task's form; ``errors`` maps each field to its problem.

    ``reasons`` gives each field's problem as a kind and its limit, for pages to put in their
    own language: ``required``, ``blank``, ``choice``, ``integer``, ``number``, ``minimum``,
    ``maximum``, ``min_length``, ``max_length``, ``date``, ``must_tick`` (a box that must be ticked)
    or ``other``.
    """

    def __init__(self, errors: dict[str, str], reasons: dict[str, tuple[str, Any]] | None = None) -> None:
        self.errors = errors
        self.reasons = reasons or {field: ("other", None) for field in errors}
        super().__init__("; ".join(f"{field}: {problem}" for field, problem in errors.items()), code=FORM_ERRORS,
                         params={"errors": dict(errors)})


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
    if kind in ("const", "enum") and error.validator_value in (True, [True]):
        return "must_tick", None
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
        raise NotFound(f"no form {key!r} in {folder}", code=NO_SUCH, params={"what": "form", "ident": key})
    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"form {key}: not JSON (line {exc.lineno}: {exc.msg})", code=FORM_FILE_INVALID,
                           params={"form": key, "detail": f"line {exc.lineno}: {exc.msg}"}) from None
    errors = sorted(Draft202012Validator(Draft202012Validator.META_SCHEMA).iter_errors(schema), key=str)
    if errors:
        raise InvalidInput(f"form {key}: not a valid JSON Schema: {errors[0].message}", code=FORM_FILE_INVALID,
                           params={"form": key, "detail": errors[0].message})
    return schema


def validate(schema: dict[str, Any], data: Any) -> dict[str, Any]:
    """Check ``data`` against a form; return it with number fields' Arabic digits converted.

    Eastern Arabic and Persian digits are accepted, with the Arabic decimal separator (``٫``) and
    thousands separator (``٬``).

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
            text = ascii_digits(data[name]).translate(_NUMBER_SEPARATORS).strip()
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


def data_from_fields(form: dict[str, Any], fields: Mapping[str, str | list[str]]) -> dict[str, Any]:
    """The data of a submitted HTML form (every value text) in the shapes ``form`` asks for.

    A checkbox is true when sent; a list is written comma-separated (Arabic ``،`` too), or sent as
    one value per ticked box (a list of people); an empty field is left out. Nothing is checked
    here: `validate` does that.
    """
    data: dict[str, Any] = {}
    for name, spec in (form.get("properties") or {}).items():
        raw = fields.get(name, "")
        if spec.get("type") == "boolean":
            data[name] = raw == "on"
        elif spec.get("type") == "array" and isinstance(raw, list):  # boxes ticked, one value each
            data[name] = [part.strip() for part in raw if part.strip()]
        elif spec.get("type") == "array" and spec.get("x-people-of-lane"):  # one box ticked
            data[name] = [raw.strip()] if raw.strip() else []
        elif spec.get("type") == "array":
            data[name] = [part.strip() for part in raw.replace("،", ",").split(",") if part.strip()]
        elif raw != "":
            data[name] = raw
    return data


def field_specs(folder: str = str(FORMS_DIR)) -> dict[str, dict[str, Any]]:
    """Every field the forms in ``folder`` define, by name (the first form to define one wins).

    Case data is the sum of what its tasks' forms collected, so a page can label each value.
    """
    specs: dict[str, dict[str, Any]] = {}
    for path in sorted(Path(folder).glob("*.json")):
        with contextlib.suppress(NotFound, InvalidInput):  # a broken form is refused at deploy, not here
            for name, spec in (load_form(path.name, folder).get("properties") or {}).items():
                specs.setdefault(name, spec)
    return specs


def labelled_data(data: Mapping[str, Any], language: str,
                  folder: str = str(FORMS_DIR)) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Case data as labelled fields, from the forms' schemas; the keys no form labels, apart.

    Each field is ``{"name", "label", "kind", "value"}`` with ``kind`` ``boolean``, ``choice``
    (``value`` is then the choice's label), ``list`` or ``text``; the page words booleans itself.
    """
    specs = field_specs(folder)
    fields, unknown = [], {}
    for name, value in data.items():
        spec = specs.get(name)
        if spec is None or not isinstance(spec.get("x-label"), Mapping):
            unknown[name] = value
            continue
        label = spec["x-label"].get(language) or spec["x-label"].get("ar") or name
        kind = "text"
        if spec.get("type") == "boolean" and isinstance(value, bool):
            kind = "boolean"
        elif "enum" in spec and value in spec["enum"]:
            kind = "choice"
            value = ((spec.get("x-enum-labels") or {}).get(value) or {}).get(language) or value
        elif isinstance(value, list):
            kind = "list"
        fields.append({"name": name, "label": label, "kind": kind, "value": value})
    return fields, unknown
