"""Names of tasks in the page's language: one name per task, the same in the inbox, on the task
page and on the case page."""

from __future__ import annotations


def task_title(name: str, english: str | None, lang: str) -> str:
    """A task's name in ``lang``: the diagram's ``name`` in Arabic, its ``tawasul:nameEn`` in English.

    The Arabic name when the diagram gives no English one.
    """
    if lang == "ar" or not english:
        return name
    return english
