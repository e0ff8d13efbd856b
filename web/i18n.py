"""Language: Arabic (RTL) by default, English (LTR) on request; the choice is remembered."""

from __future__ import annotations

from typing import Any

from flask import request, session
from flask_babel import get_locale
from flask_login import current_user

LANGUAGES = ("ar", "en")


def select_locale() -> str:
    """?lang= (remembered in the session and for the signed-in user), else the user's, else Arabic."""
    asked = request.args.get("lang")
    if asked in LANGUAGES:
        session["lang"] = asked
        if current_user.is_authenticated and current_user.language != asked:
            from web.auth import remember_language

            remember_language(current_user.id, asked)
        return asked
    if session.get("lang") in LANGUAGES:
        return session["lang"]
    if current_user.is_authenticated and current_user.language in LANGUAGES:
        return current_user.language
    return "ar"


def template_helpers() -> dict[str, Any]:
    """lang, dir and the other language for every template."""
    lang = str(get_locale() or "ar")
    return {"lang": lang, "dir": "rtl" if lang == "ar" else "ltr", "other_lang": "en" if lang == "ar" else "ar"}
