"""Names of tasks in the page's language."""

from __future__ import annotations

from engine.errors import EngineError
from workflows.forms import load_form


def task_title(name: str, form_key: str | None, lang: str) -> str:
    """A task's name in ``lang``: the diagram's name in Arabic, else its form's label in ``lang``."""
    if lang == "ar" or not form_key:
        return name
    try:
        return (load_form(form_key).get("x-label") or {}).get(lang) or name
    except EngineError:  # a form removed since: the name from the diagram still reads
        return name
