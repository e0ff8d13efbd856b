"""A task's form as its page draws it: the fields of a JSON Schema form, in the page's language."""

from __future__ import annotations

from typing import Any

from flask_babel import get_locale


def form_fields(form: dict[str, Any], values: dict[str, Any],
                people: dict[str, list[str]] | None = None) -> list[dict[str, Any]]:
    """The fields of a task form as ``_task_fields.html`` draws them, in the page's language.

    ``values`` fill them (a draft, or what was submitted); ``people`` are the names offered to a
    field naming the people of a lane (``x-people-of-lane``). The task page and the modeler's
    form preview both draw a form with this and that template: an owner sees what staff will see.
    """
    lang = str(get_locale() or "ar")
    people = people or {}
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
        choices: list[str] = []
        if kind == "list" and name in people:  # boxes to tick, one per person (and any named before)
            kind, value = "people", value if isinstance(value, list) else [value] if value else []
            choices = [*people[name], *(v for v in value if v not in people[name])]
        elif kind == "list" and isinstance(value, list):
            value = "، ".join(value)
        fields.append({
            "name": name, "kind": kind, "label": spec["x-label"].get(lang) or spec["x-label"]["ar"],
            "required": name in required, "value": value,
            "options": [(v, spec.get("x-enum-labels", {}).get(v, {}).get(lang, v)) for v in spec.get("enum", [])]
            or [(v, v) for v in choices],
        })
    return fields
