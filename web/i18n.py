"""Language: Arabic (RTL) by default, English (LTR) on request; the choice is remembered."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from flask import request, session
from flask_babel import get_locale
from flask_login import current_user

from web.current import current_engine
from web.deadlines import hijri
from workflows.operations.accounts import LANGUAGES, set_language


def select_locale() -> str:
    """?lang= (remembered in the session and for the signed-in user), else the user's, else Arabic."""
    asked = request.args.get("lang")
    if asked in LANGUAGES:
        session["lang"] = asked
        if current_user.is_authenticated and current_user.language != asked:
            current_engine().run(set_language, current_user.actor(), asked)
        return asked
    if session.get("lang") in LANGUAGES:
        return session["lang"]
    if current_user.is_authenticated and current_user.language in LANGUAGES:
        return current_user.language
    return "ar"


def template_helpers() -> dict[str, Any]:
    """lang, dir and the other language for every template, ``local`` for times, ``hijri`` for days,
    ``isolate`` for a name or a time put inside a sentence."""
    lang = str(get_locale() or "ar")
    return {"lang": lang, "dir": "rtl" if lang == "ar" else "ltr", "other_lang": "en" if lang == "ar" else "ar",
            "local": local_time, "hijri": hijri, "isolate": isolate}


def local_time(moment: Any, with_time: bool = True) -> str:
    """A stored (UTC) time shown in the society's time zone, digits left to right."""
    if not moment:
        return ""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    tz = current_engine().calendars.get().tz
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M" if with_time else "%Y-%m-%d")


#: First-strong isolate and pop directional isolate (Unicode bidi): the text between them is laid
#: out on its own, so a reference, a phone number or a date inside an Arabic sentence keeps its
#: order (without, "2026-12-02 00:05" in an Arabic sentence reads "00:05 2026-12-02").
_ISOLATE, _POP = "\u2068", "\u2069"
#: What may be misordered: Latin letters, or digits with something between them (a date, a time,
#: a phone number). A number alone, or Arabic text, keeps its order without help.
_LEFT_TO_RIGHT = re.compile(r"[A-Za-z]|[0-9][^0-9]+[0-9]")


def isolate(value: Any) -> Any:
    """``value`` (text) isolated for bidi when its order could be lost; as it is otherwise."""
    if isinstance(value, str) and _LEFT_TO_RIGHT.search(value) and not value.startswith(_ISOLATE):
        return f"{_ISOLATE}{value}{_POP}"
    return value
