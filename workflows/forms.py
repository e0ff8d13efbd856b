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
import re
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jsonschema import Draft202012Validator, FormatChecker
from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import NO_SUCH, SEVERAL, InvalidInput, NotFound, error_code
from engine.models import ProcessDefinition, ProcessInstance
from engine.settings import PROJECT_ROOT
from workflows.identity import ascii_digits

if TYPE_CHECKING:
    from engine.context import CaseEngine

#: `FormErrors.code`: ``errors`` maps each field to its problem (the kinds are in ``reasons``).
FORM_ERRORS = error_code("form_errors", "errors")
#: A form file (``form``) that is not JSON or not a JSON Schema (``detail``, technical).
FORM_FILE_INVALID = error_code("form_file_invalid", "form", "detail")
FORMS_DIR = PROJECT_ROOT / "bpmn" / "forms"
#: Arabic decimal and thousands separators (٤٬٥٠٠٫٥ is 4500.5).
_NUMBER_SEPARATORS = str.maketrans({"\u066b": ".", "\u066c": ""})
#: A form without fields, for tasks that name none.
NO_FORM: dict[str, Any] = {"properties": {}, "required": []}

# What an edited form may be refused for (the editor shows each; ``form`` is the form key).
#: The text is not JSON: where (``line``, ``column``) and the parser's ``detail`` (technical).
FORM_NOT_JSON = error_code("form_not_json", "form", "line", "column", "detail")
#: The JSON is not a JSON Schema (draft 2020-12): where (``path``, a JSON pointer) and ``detail`` (technical).
FORM_NOT_SCHEMA = error_code("form_not_schema", "form", "path", "detail")
#: The form is larger than `MAX_FORM_BYTES` (``size_kb``, ``limit_kb``).
FORM_TOO_LARGE = error_code("form_too_large", "form", "size_kb", "limit_kb")
#: The form nests deeper than `MAX_FORM_DEPTH` levels (``limit``).
FORM_TOO_DEEP = error_code("form_too_deep", "form", "limit")
#: The form holds a character no text may hold (a NUL, or half of a surrogate pair), written as an escape.
FORM_BAD_CHARACTER = error_code("form_bad_character", "form")
#: The form is not an object of fields (``properties``) as task pages draw them.
FORM_NO_FIELDS = error_code("form_no_fields", "form")
#: A field's name (``field``) is not a plain ASCII name (letters, digits, ``_``).
FORM_FIELD_NAME = error_code("form_field_name", "form", "field")
#: A field (``field``) has no Arabic label (``x-label`` with ``ar``).
FORM_NO_LABEL = error_code("form_no_label", "form", "field")
#: A field's ``type`` (``value``) is not one a task page draws (``allowed``).
FORM_FIELD_TYPE = error_code("form_field_type", "form", "field", "value", "allowed")
#: ``required`` names a field (``field``) the form does not have.
FORM_REQUIRED_UNKNOWN = error_code("form_required_unknown", "form", "field")
#: A field's ``x-widget`` (``value``) is not one a task page knows (``allowed``).
FORM_WIDGET = error_code("form_widget", "form", "field", "value", "allowed")
#: A choice of the field (``field``, ``value``) has no Arabic label in ``x-enum-labels``.
FORM_CHOICE_LABEL = error_code("form_choice_label", "form", "field", "value")
#: ``x-people-of-lane`` on a field (``field``) that is not a list of names (``type: array``) or names no lane.
FORM_PEOPLE = error_code("form_people", "form", "field")
#: A ``$ref`` (``value``) pointing outside the form: forms are self-contained.
FORM_REMOTE_REF = error_code("form_remote_ref", "form", "value")

#: The largest form accepted from the editor.
MAX_FORM_BYTES = 64 * 1024
#: The deepest nesting of objects and lists a form may have (a task form needs a few levels).
MAX_FORM_DEPTH = 20
#: The field types a task page draws (`web.staff.tasks.form_fields`).
FIELD_TYPES = ("string", "integer", "number", "boolean", "array")
#: The ``x-widget`` values a task page knows.
WIDGETS = ("textarea",)
_FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")
#: The properties of a task naming its form (``formJsonSchemaFilename`` is SpiffArena's name).
FORM_PROPERTIES = ("formKey", "formJsonSchemaFilename")
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False)
#: The forms a diagram is being deployed (or checked) with, by key; None: the files only.
_DEPLOYING: ContextVar[Mapping[str, Any] | None] = ContextVar("tawasul_forms_deploying", default=None)
_CACHE_KEY = "workflows.forms.by_definition"


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


#: The longest form key a file can be named by (bytes of UTF-8; file systems allow 255).
FORM_KEY_BYTES = 200


def form_path(key: str, folder: str | Path = FORMS_DIR) -> Path | None:
    """The file of form ``key`` in ``folder``, if there is one: never a path outside it, never an error.

    A key a diagram gives is untrusted: too long for a file name, a folder in it, a NUL, or any
    error of the file system means there is no such file.
    """
    if not key or len(key.encode("utf-8", "surrogatepass")) > FORM_KEY_BYTES or any(c in key for c in "/\\\x00"):
        return None
    path = Path(folder) / key
    try:
        return path if path.resolve().parent == Path(folder).resolve() and path.is_file() else None
    except (OSError, ValueError):
        return None


@lru_cache(maxsize=128)
def load_form(key: str, folder: str = str(FORMS_DIR)) -> dict[str, Any]:
    """The form ``key`` (a file name in the forms folder), checked against the metaschema.

    Raises:
        NotFound: no such form file.
        InvalidInput: the file is not JSON or not a valid JSON Schema.
    """
    path = form_path(key, folder)
    if path is None:
        shown = key if len(key) <= 100 else key[:100] + "…"
        raise NotFound(f"no form {shown!r} in bpmn/forms", code=NO_SUCH, params={"what": "form", "ident": shown})
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
    """Deploy-time check: a task's ``formKey`` names a form that exists and follows the rules.

    Inside `forms_being_deployed`, a form deployed with the diagram is checked, not the file.
    """
    key = properties.get("formKey") or properties.get("formJsonSchemaFilename")
    if not key:
        return []
    deploying = _DEPLOYING.get()
    try:
        if deploying is not None and str(key) in deploying:
            schema = deploying[str(key)]
            problems = form_problems(str(key), schema) if isinstance(schema, dict) else [
                (FORM_NO_FIELDS, {"form": str(key)})]
        else:
            schema = load_form(str(key))
            problems = rule_problems(str(key), schema)
    except (NotFound, InvalidInput) as exc:
        return [f"formKey: {exc.message}"]
    return [f"formKey: form {key}: {_technical(code, params)}" for code, params in problems]


# -- Forms edited in the modeler and kept with each version --------------------------------------

def _technical(code: str, params: Mapping[str, Any]) -> str:
    """A problem in technical English (for the CLI and the deploy lint; pages word the code)."""
    shown = ", ".join(f"{name}={params[name]!r}" for name in params if name != "form" and params[name] is not None)
    return f"{code.replace('_', ' ')}" + (f" ({shown})" if shown else "")


def rule_problems(key: str, schema: Any) -> list[tuple[str, dict[str, Any]]]:
    """Tawasul's rules for a form (beyond the metaschema): what a task page needs to draw it.

    The form is an object whose ``properties`` are its fields; each field has a plain ASCII name,
    an Arabic label (``x-label.ar``), a type the page draws, a known widget, labelled choices;
    ``required`` names fields it has; a ``$ref`` stays inside the form.
    """
    problems: list[tuple[str, dict[str, Any]]] = []
    fields = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(fields, dict):
        return [(FORM_NO_FIELDS, {"form": key})]
    for name, spec in fields.items():
        if not _FIELD_NAME.match(name):
            problems.append((FORM_FIELD_NAME, {"form": key, "field": name}))
        if not isinstance(spec, dict):
            problems.append((FORM_NO_LABEL, {"form": key, "field": name}))
            continue
        label = spec.get("x-label")
        if not isinstance(label, dict) or not isinstance(label.get("ar"), str) or not label["ar"].strip() \
                or not isinstance(label.get("en", ""), str):
            problems.append((FORM_NO_LABEL, {"form": key, "field": name}))
        if spec.get("type") not in FIELD_TYPES:
            problems.append((FORM_FIELD_TYPE, {"form": key, "field": name, "value": spec.get("type"),
                                               "allowed": list(FIELD_TYPES)}))
        if "x-widget" in spec and spec["x-widget"] not in WIDGETS:
            problems.append((FORM_WIDGET, {"form": key, "field": name, "value": spec["x-widget"],
                                           "allowed": list(WIDGETS)}))
        labels = spec.get("x-enum-labels", {})
        for value in spec.get("enum") or []:
            choice = labels.get(value) if isinstance(labels, dict) and isinstance(value, str) else None
            if not isinstance(choice, dict) or not isinstance(choice.get("ar"), str) or not choice["ar"].strip():
                problems.append((FORM_CHOICE_LABEL, {"form": key, "field": name, "value": value}))
        lane = spec.get("x-people-of-lane")
        if lane is not None and (spec.get("type") != "array" or not isinstance(lane, str) or not lane.strip()):
            problems.append((FORM_PEOPLE, {"form": key, "field": name}))
    for name in schema.get("required") or []:
        if isinstance(name, str) and name not in fields:
            problems.append((FORM_REQUIRED_UNKNOWN, {"form": key, "field": name}))
    for ref in _refs(schema):
        if not ref.startswith("#"):
            problems.append((FORM_REMOTE_REF, {"form": key, "value": ref}))
    return problems


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for name, value in node.items():
            if name in ("$ref", "$dynamicRef") and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


_BAD_CHARACTER = re.compile("[\x00\ud800-\udfff]")


def _shape(node: Any) -> tuple[int, bool]:
    """How deeply ``node`` nests objects and lists, and whether a text in it holds a bad character.

    A bad character is a NUL or a lone surrogate; the walk does not recurse (``node`` may be anything).
    """
    deepest, bad, pending = 0, False, [(node, 1)]
    while pending:
        value, level = pending.pop()
        if isinstance(value, str):
            bad = bad or bool(_BAD_CHARACTER.search(value))
        elif isinstance(value, dict | list):
            deepest = max(deepest, level)
            if level <= MAX_FORM_DEPTH:
                children = [*value, *value.values()] if isinstance(value, dict) else value
                pending.extend((child, level + 1) for child in children)
    return deepest, bad


def form_problems(key: str, schema: Any) -> list[tuple[str, dict[str, Any]]]:
    """Every problem of a form as (code, params): the metaschema's first, then Tawasul's rules."""
    depth, bad = _shape(schema)
    if depth > MAX_FORM_DEPTH:
        return [(FORM_TOO_DEEP, {"form": key, "limit": MAX_FORM_DEPTH})]
    if bad:  # PostgreSQL keeps neither in a JSON column, and no label needs them
        return [(FORM_BAD_CHARACTER, {"form": key})]
    errors = sorted(Draft202012Validator(Draft202012Validator.META_SCHEMA).iter_errors(schema),
                    key=lambda e: (list(map(str, e.absolute_path)), e.message))
    if errors:
        return [(FORM_NOT_SCHEMA, {"form": key, "path": "/" + "/".join(str(p) for p in error.absolute_path),
                                   "detail": error.message[:300]}) for error in errors[:5]]
    return rule_problems(key, schema)


def _refuse(key: str, problems: list[tuple[str, dict[str, Any]]]) -> InvalidInput:
    message = f"form {key}: " + "; ".join(_technical(code, params) for code, params in problems)
    if len(problems) == 1:
        return InvalidInput(message, code=problems[0][0], params=problems[0][1])
    return InvalidInput(message, code=SEVERAL, params={"problems": problems})


def parse_form(key: str, text: str) -> dict[str, Any]:
    """The form ``key`` written as ``text`` (the editor's), checked as a deploy would check it.

    Raises:
        InvalidInput: too large, not JSON (the line and column named), not a JSON Schema, or
            against Tawasul's rules (`rule_problems`); several problems at once as ``several``.
    """
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_FORM_BYTES:
        raise _refuse(key, [(FORM_TOO_LARGE, {"form": key, "size_kb": -(-size // 1024),
                                              "limit_kb": MAX_FORM_BYTES // 1024})])
    try:
        schema = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _refuse(key, [(FORM_NOT_JSON, {"form": key, "line": exc.lineno, "column": exc.colno,
                                             "detail": exc.msg})]) from None
    except RecursionError:
        raise _refuse(key, [(FORM_NOT_JSON, {"form": key, "line": 1, "column": 1,
                                             "detail": "nested too deeply"})]) from None
    problems = form_problems(key, schema)
    if problems:
        raise _refuse(key, problems)
    return schema


def tasks_by_form(xml: bytes | str) -> dict[str, list[tuple[str, str]]]:
    """Each form key the diagram's tasks name (``formKey``), in order, with those tasks (id, name).

    The XML is parsed without entities, DTD or network; a file that is not well-formed, or declares
    a DTD, names none (the deploy refuses it with its own words).
    """
    data = xml.encode("utf-8") if isinstance(xml, str) else xml
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError:
        return {}
    if root.getroottree().docinfo.internalDTD is not None:
        return {}
    found: dict[str, list[tuple[str, str]]] = {}
    for node in root.iter():
        if isinstance(node.tag, str) and etree.QName(node).localname == "property" \
                and node.get("name") in FORM_PROPERTIES and (node.get("value") or "").strip():
            task = next((a for a in node.iterancestors() if a.get("id")), None)
            users = found.setdefault(node.get("value").strip(), [])
            if task is not None and all(task.get("id") != element for element, _ in users):
                users.append((task.get("id"), " ".join((task.get("name") or task.get("id")).split())))
    return found


def form_keys(xml: bytes | str) -> list[str]:
    """The form keys the diagram's tasks name, in the order they appear (see `tasks_by_form`)."""
    return list(tasks_by_form(xml))


def forms_for_deploy(xml: bytes | str, edited: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    """The forms a version is deployed with: each form its tasks name, edited first, else its file.

    A form file that is missing or breaks the rules is left out: the deploy lint (`lint_form_key`,
    inside `forms_being_deployed`) refuses the diagram, naming the task that uses it; so it does an
    edited form that breaks them.
    """
    forms: dict[str, dict[str, Any]] = {}
    for key in form_keys(xml):
        schema = (edited or {}).get(key)
        if schema is None:
            try:
                schema = load_form(key)
            except (NotFound, InvalidInput):
                continue
            if rule_problems(key, schema):
                continue
        forms[key] = json.loads(json.dumps(schema))  # a copy: the version's own (an edited one is
        # kept even if broken, so that the lint inside `forms_being_deployed` refuses it by name)
    return forms


@contextlib.contextmanager
def forms_being_deployed(forms: Mapping[str, Any] | None) -> Iterator[None]:
    """While deploying (or linting) a diagram with ``forms``, `lint_form_key` checks those, not the files."""
    token = _DEPLOYING.set(forms)
    try:
        yield
    finally:
        _DEPLOYING.reset(token)


def forms_of_version(engine: CaseEngine, session: Session, definition_id: int) -> dict[str, Any] | None:
    """The forms version ``definition_id`` was deployed with (None: an older version, it has none).

    Read once per engine: a version never changes.
    """
    cache: dict[int, dict[str, Any] | None] = engine.extensions.setdefault(_CACHE_KEY, {})
    if definition_id not in cache:
        cache[definition_id] = session.scalar(select(ProcessDefinition.forms)
                                              .where(ProcessDefinition.id == definition_id))
    return cache[definition_id]


def form_of_task(engine: CaseEngine, session: Session, task: Any) -> dict[str, Any] | None:
    """The form of a task (a `HumanTask` or an `OpenTask`): as its case's version was deployed with it.

    A version deployed before forms were kept reads the file. None when the task names no form.

    Raises:
        NotFound, InvalidInput: an older version's form file is gone or broken.
    """
    if not task.form_key:
        return None
    definition_id = session.scalar(select(ProcessInstance.definition_id)
                                   .where(ProcessInstance.id == task.instance_id))
    forms = forms_of_version(engine, session, definition_id) if definition_id is not None else None
    if forms is not None and task.form_key in forms:
        return forms[task.form_key]
    return load_form(task.form_key)


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


def labelled_data(data: Mapping[str, Any], language: str, folder: str = str(FORMS_DIR),
                  forms: Mapping[str, Any] | None = None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Case data as labelled fields, from the forms' schemas; the keys no form labels, apart.

    ``forms`` are those the case's version was deployed with (`forms_of_version`): their fields are
    labelled as that version's forms label them, the others as the files do.

    Each field is ``{"name", "label", "kind", "value"}`` with ``kind`` ``boolean``, ``choice``
    (``value`` is then the choice's label), ``list`` or ``text``; the page words booleans itself.
    """
    specs: dict[str, dict[str, Any]] = {}
    for schema in (forms or {}).values():
        properties = schema.get("properties") if isinstance(schema, dict) else None
        for name, spec in (properties if isinstance(properties, dict) else {}).items():
            if isinstance(spec, dict):
                specs.setdefault(name, spec)
    for name, spec in field_specs(folder).items():
        specs.setdefault(name, spec)
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
