"""The supervisors' reports (`/supervision/reports`): each figure as a chart beside its table, with
the same numbers, and every table as CSV or XLSX.

The tables are built once here, in the page's language, from `workflows.read.reports`; the page,
the chart data and both downloads read the same table, so they cannot disagree.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask import Blueprint, Response, abort, current_app, render_template, request, url_for
from flask_babel import get_locale, pgettext
from flask_babel import gettext as _
from flask_login import login_required
from openpyxl import Workbook

from engine.errors import Forbidden
from web.current import current_engine as _engine
from web.current import supervisor_actor
from web.deadlines import hijri
from web.labels import process_name
from workflows.read.reports import AGING_BUCKETS, CHANNELS, PERIOD_KINDS, BadPeriod, Period, Report, parse_period
from workflows.read.reports import supervision_report as _report

bp = Blueprint("reports", __name__)


def _p(text: str, **values: Any) -> str:
    """The reports' own words (context "reports", so no other page's msgid is touched)."""
    return pgettext("reports", text, **values)


@dataclass
class Table:
    """One figure's table (caption, column headings, rows) and the chart drawn from it."""

    key: str
    caption: str
    headers: list[str]
    rows: list[list[Any]]
    chart: dict[str, Any] = field(default_factory=dict)
    note: str = ""

    @property
    def chart_json(self) -> str:
        """The chart's configuration for web/static/reports.js."""
        return json.dumps(self.chart, ensure_ascii=False)


def _language() -> str:
    return str(get_locale() or "ar")


def _lane(lane: str) -> str:
    return _(lane) if lane else _p("No lane")


def _pct(value: float | None) -> float | str:
    return "" if value is None else value


def _number(value: float | None) -> float | str:
    return "" if value is None else value


def _datasets(*pairs: tuple[str, list[Any]], kind: str | None = None, stack: bool = False) -> list[dict[str, Any]]:
    sets = []
    for label, data in pairs:
        item: dict[str, Any] = {"label": label, "data": [None if v == "" else v for v in data]}
        if kind:
            item["type"] = kind
        if stack:
            item["stack"] = "all"
        sets.append(item)
    return sets


def _now_and_before(rows: list[list[Any]], now: int, before: int) -> list[dict[str, Any]]:
    return _datasets((_p("This period"), [r[now] for r in rows]), (_p("Previous period"), [r[before] for r in rows]))


def _compliance_table(key: str, caption: str, first: str, items: list[Any], label: Callable[[str], str],
                      previous_heading: str) -> Table:
    headers = [first, _p("Met"), _p("With a deadline"), _p("Met (%)"), _p("%(period)s: met", period=previous_heading),
               _p("%(period)s: with a deadline", period=previous_heading),
               _p("%(period)s: met (%%)", period=previous_heading)]
    rows = [[label(c.key), c.met, c.total, _pct(c.percent), c.previous_met, c.previous_total,
             _pct(c.previous_percent)] for c in items]
    chart = {"type": "bar", "labels": [r[0] for r in rows], "percent": True,
             "datasets": _datasets((_p("This period"), [r[3] for r in rows]), (previous_heading, [r[6] for r in rows]))}
    return Table(key, caption, headers, rows, chart)


def build_tables(report: Report) -> list[Table]:
    """Every table of the page for ``report``, in the page's language."""
    lang = _language()
    tables = [
        _compliance_table("sla_lane", _p("Deadlines met per lane"), _p("Lane"), report.by_lane, _lane,
                          _p("Previous period")),
        _compliance_table("sla_process", _p("Deadlines met per process"), _p("Process"), report.by_process,
                          lambda key: process_name(report.process_names, key, lang), _p("Previous period")),
    ]
    month = _compliance_table("sla_month", _p("Deadlines met per month (the six months to the period's end)"),
                              _p("Month"), report.by_month, str, _p("Month before"))
    month.chart["type"] = "line"
    month.chart["datasets"] = month.chart["datasets"][:1]
    month.chart["datasets"][0]["label"] = _p("Met (%)")
    tables.append(month)
    clocks = {"task_deadline": _p("Task deadline"), "promised_date": _p("Decision date promised to the member")}
    rows = [[clocks[b.clock], b.breached, b.total, _pct(b.percent), b.previous_breached, b.previous_total,
             _pct(b.previous_percent)] for b in report.breaches]
    tables.append(Table(
        "breaches", _p("Which clock was breached"),
        [_p("Clock"), _p("Breached"), _p("Ran on this clock"), _p("Breached (%)"), _p("Previous period: breached"),
         _p("Previous period: ran on this clock"), _p("Previous period: breached (%)")], rows,
        {"type": "bar", "labels": [r[0] for r in rows],
         "datasets": _now_and_before(rows, 1, 4)},
        _p("A task deadline is breached when its task closed after it; the promised date when the committee "
           "decided after the day promised to the member.")))
    buckets = [key.replace("-", "–") for key, _low, _high in AGING_BUCKETS]
    rows = [[_lane(lane), *[counts[key] for key, _l, _h in AGING_BUCKETS], sum(counts.values())]
            for lane, counts in report.aging.items()]
    tables.append(Table(
        "aging", _p("Open work by working days since it opened, per lane"),
        [_p("Lane"), *[_p("%(days)s working days", days=b) for b in buckets], _p("Total")], rows,
        {"type": "bar", "stacked": True, "labels": [_p("%(days)s working days", days=b) for b in buckets],
         "datasets": _datasets(*[(r[0], r[1:-1]) for r in rows], stack=True)},
        _p("Open now, whatever the period.")))
    rows = [[d.isoformat(), created, completed] for d, created, completed in report.flow]
    tables.append(Table(
        "flow", _p("Tasks created and completed per day"), [_p("Day"), _p("Created"), _p("Completed")], rows,
        {"type": "line", "labels": [r[0] for r in rows],
         "datasets": _datasets((_p("Created"), [r[1] for r in rows]), (_p("Completed"), [r[2] for r in rows]))}))
    rows = [[w.display_name, _lane(w.lane), w.open_tasks, w.team_average] for w in report.work_in_progress]
    tables.append(Table(
        "wip", _p("Work in progress per person, beside the team's average"),
        [_p("Person"), _p("Team (lane)"), _p("Open tasks held"), _p("Team's average per person")], rows,
        {"type": "bar", "labels": [f"{r[0]} — {r[1]}" for r in rows],
         "datasets": _datasets((_p("Open tasks held"), [r[2] for r in rows]),
                               (_p("Team's average per person"), [r[3] for r in rows]))},
        _p("Listed by team, then by name: this is not a ranking. Shown to supervisors and administrators only.")))
    step = _p("Day") if report.channel_step == "day" else _p("Month")
    rows = [[key, *[counts[c] for c in CHANNELS], sum(counts.values())] for key, counts in report.channels]
    tables.append(Table(
        "channels", _p("Requests per channel"), [step, *[_(c) for c in CHANNELS], _p("Total")], rows,
        {"type": "bar", "stacked": True, "labels": [r[0] for r in rows],
         "datasets": _datasets(*[(_(c), [r[1 + i] for r in rows]) for i, c in enumerate(CHANNELS)], stack=True)}))
    rows = [[t.names.get(lang) or t.names.get("ar") or t.service_type, t.closed, _number(t.median), _number(t.p90)]
            for t in report.turnaround]
    tables.append(Table(
        "turnaround", _p("Working days from request to service, per service type"),
        [_p("Service"), _p("Requests closed"), _p("Median (working days)"), _p("90th percentile (working days)")],
        rows,
        {"type": "bar", "labels": [r[0] for r in rows],
         "datasets": _datasets((_p("Median (working days)"), [r[2] for r in rows]),
                               (_p("90th percentile (working days)"), [r[3] for r in rows]))}))
    outcomes = {"accepted": _p("Accepted"), "rejected": _p("Rejected")}
    rows = [[outcomes[o], now, before] for o, (now, before) in report.decisions.items()]
    tables.append(Table(
        "decisions", _p("The committee's decisions"), [_p("Decision"), _p("This period"), _p("Previous period")], rows,
        {"type": "bar", "labels": [r[0] for r in rows],
         "datasets": _now_and_before(rows, 1, 2)}))
    return tables


TABLE_KEYS = ("sla_lane", "sla_process", "sla_month", "breaches", "aging", "flow", "wip", "channels", "turnaround",
              "decisions")


def _period_error(exc: BadPeriod) -> str:
    words = {
        "kind": _p("Choose a period from the list."),
        "missing": _p("A custom period needs both its first and its last day."),
        "not_a_date": _p("«%(value)s» is not a date; write it as year-month-day, e.g. 2026-12-01.", value=exc.value),
        "reversed": _p("The period's last day comes before its first day; swap them."),
        "too_long": _p("A custom period may be at most five years long."),
    }
    return words.get(exc.reason, words["kind"])


def _asked() -> tuple[Period, str | None, dict[str, str]]:
    """The period asked for (this month when the asking is refused, with the refusal's words)."""
    engine = _engine()
    today = engine.clock.now().astimezone(engine.calendars.get().tz).date()
    args = {name: request.args.get(name, "")[:40] for name in ("period", "from", "to")}
    try:
        return parse_period(args["period"] or None, args["from"], args["to"], today), None, args
    except BadPeriod as exc:
        return parse_period(None, None, None, today), _period_error(exc), args


def _day(day: date) -> dict[str, str]:
    return {"day": day.isoformat(), "hijri": hijri(day)}


def _query(period: Period) -> dict[str, str]:
    if period.kind == "custom":
        return {"period": "custom", "from": period.start.isoformat(), "to": period.end.isoformat()}
    return {"period": period.kind}


def _board_url() -> str | None:
    """The deadline board's address, when the app has it (another module of this package)."""
    for rule in current_app.url_map.iter_rules():
        if rule.rule == "/supervision" and "GET" in (rule.methods or ()):
            return url_for(rule.endpoint)
    return None


@bp.get("/supervision/reports")
@login_required
def reports():
    actor = supervisor_actor()
    period, error, args = _asked()
    try:
        report = _engine().query(_report, actor, period)
    except Forbidden:
        abort(403)
    kinds = {"this_week": _p("This week"), "this_month": _p("This month"), "last_month": _p("Last month"),
             "custom": _p("Custom")}
    return render_template(
        "supervision_reports.html", report=report, tables=build_tables(report), error=error, kinds=kinds,
        order=PERIOD_KINDS, asked=args, period=period, start=_day(period.start), end=_day(period.end),
        previous_start=_day(report.previous.start), previous_end=_day(report.previous.end),
        query=_query(period), board_url=_board_url(),
    ), (400 if error else 200)


@bp.get("/supervision/reports/<key>.<fmt>")
@login_required
def export(key: str, fmt: str):
    actor = supervisor_actor()
    if key not in TABLE_KEYS or fmt not in ("csv", "xlsx"):
        abort(404)
    period, error, _args = _asked()
    if error:
        abort(400, description=error)
    try:
        report = _engine().query(_report, actor, period)
    except Forbidden:
        abort(403)
    table = next(t for t in build_tables(report) if t.key == key)
    name = f"tawasul-{key}-{period.start.isoformat()}-{period.end.isoformat()}.{fmt}"
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(table.headers)
        writer.writerows(table.rows)
        body = "\ufeff" + buffer.getvalue()  # Excel reads UTF-8 (the Arabic) only after a BOM
        return Response(body.encode("utf-8"), mimetype="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})
    book = Workbook()
    sheet = book.active
    sheet.title = key
    sheet.sheet_view.rightToLeft = _language() == "ar"
    sheet.append([table.caption])
    sheet.append(table.headers)
    for row in table.rows:
        sheet.append(row)
    data = io.BytesIO()
    book.save(data)
    return Response(data.getvalue(), mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
