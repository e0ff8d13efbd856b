"""The list of deployed process definitions (Arabic by default, English on request)."""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template_string, request

from web.current import current_engine as _engine
from workflows.read.definitions import definitions as deployed

bp = Blueprint("home", __name__)

#: The few words of this page; the staff app brings Flask-Babel catalogues.
_WORDS = {
    "ar": {"dir": "rtl", "title": "تواصل — التعريفات المنشورة", "app": "تواصل",
           "heading": "تعريفات العمليات المنشورة", "key": "المفتاح", "name": "الاسم", "version": "الإصدار",
           "deployed_at": "نُشر في", "deployed_by": "بواسطة", "empty": "لا توجد تعريفات منشورة بعد.",
           "other": "English", "other_lang": "en"},
    "en": {"dir": "ltr", "title": "Tawasul — deployed definitions", "app": "Tawasul",
           "heading": "Deployed process definitions", "key": "Key", "name": "Name", "version": "Version",
           "deployed_at": "Deployed at", "deployed_by": "By", "empty": "No definition is deployed yet.",
           "other": "العربية", "other_lang": "ar"},
}

_PAGE = """<!doctype html>
<html lang="{{ lang }}" dir="{{ w.dir }}">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ w.title }}</title>
<link rel="stylesheet" href="{{ url_for('static', filename='definitions.css') }}"></head>
<body>
<header><a href="?lang={{ w.other_lang }}" lang="{{ w.other_lang }}">{{ w.other }}</a></header>
<main>
<h1>{{ w.app }}</h1>
<h2>{{ w.heading }}</h2>
{% if definitions %}
<div class="scroll-x" tabindex="0" role="region" aria-label="{{ w.heading }}">
<table>
<thead><tr><th scope="col">{{ w.key }}</th><th scope="col">{{ w.name }}</th><th scope="col">{{ w.version }}</th>
<th scope="col">{{ w.deployed_at }}</th><th scope="col">{{ w.deployed_by }}</th></tr></thead>
<tbody>
{% for d in definitions %}<tr><td dir="ltr">{{ d.key }}</td><td>{{ d.name }}</td><td>{{ d.version }}</td>
<td dir="ltr">{{ d.deployed_at.isoformat(timespec='seconds') }}</td><td>{{ d.deployed_by }}</td></tr>{% endfor %}
</tbody></table>
</div>
{% else %}<p>{{ w.empty }}</p>{% endif %}
</main>
</body></html>"""


@bp.get("/")
def definitions():
    rows = _engine().query(deployed)
    if request.accept_mimetypes.best == "application/json" or request.args.get("format") == "json":
        return jsonify([
            {"key": d["key"], "version": d["version"], "name": d["name"], "deployed_at": d["deployed_at"].isoformat()}
            for d in rows
        ])
    lang = request.args.get("lang") if request.args.get("lang") in _WORDS else "ar"
    return render_template_string(_PAGE, definitions=rows, lang=lang, w=_WORDS[lang])
