"""Health check and the list of deployed process definitions."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, render_template_string, request
from sqlalchemy import text

from engine.definitions import list_definitions

bp = Blueprint("home", __name__)

_PAGE = """<!doctype html>
<html lang="ar" dir="rtl">
<head><meta charset="utf-8"><title>تواصل — التعريفات المنشورة</title></head>
<body>
<h1>تواصل</h1>
<h2>تعريفات العمليات المنشورة</h2>
{% if definitions %}
<table>
<thead><tr><th>المفتاح</th><th>الاسم</th><th>الإصدار</th><th>نُشر في</th><th>بواسطة</th></tr></thead>
<tbody>
{% for d in definitions %}<tr><td>{{ d.key }}</td><td>{{ d.name }}</td><td>{{ d.version }}</td>
<td>{{ d.deployed_at.isoformat(timespec='seconds') }}</td><td>{{ d.deployed_by }}</td></tr>{% endfor %}
</tbody></table>
{% else %}<p>لا توجد تعريفات منشورة بعد.</p>{% endif %}
</body></html>"""


def _engine():
    return current_app.extensions["tawasul.engine"]


@bp.get("/healthz")
def healthz():
    engine = _engine()
    try:
        with engine.db.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure means "not healthy"
        return jsonify(status="error", database=type(exc).__name__), 503
    return jsonify(status="ok")


@bp.get("/")
def definitions():
    rows = _engine().query(list_definitions)
    if request.accept_mimetypes.best == "application/json" or request.args.get("format") == "json":
        return jsonify([
            {"key": d.key, "version": d.version, "name": d.name, "deployed_at": d.deployed_at.isoformat()}
            for d in rows
        ])
    return render_template_string(_PAGE, definitions=rows)
