"""The working calendar (administrators): holidays, closures and Eid corrections, previewed then saved."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from flask_login import login_required

from engine.actors import Actor
from engine.errors import EngineError, Forbidden
from web.current import current_engine as _engine
from web.current import staff_actor
from web.refusals import refusal
from web.staff.naming import task_title
from workflows.hijri import hijri
from workflows.identity import ascii_digits
from workflows.operations.calendar import change_calendar
from workflows.read.calendar import calendar_page
from workflows.read.definitions import english_element_names

bp = Blueprint("calendar", __name__, url_prefix="/admin/calendar")

WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _lang() -> str:
    return str(get_locale() or "ar")


def _this_year() -> int:
    return _engine().clock.now().astimezone(_engine().calendars.get().tz).year


def _when(value: datetime | None) -> dict[str, Any] | None:
    if value is None:
        return None
    local = value.astimezone(_engine().calendars.get().tz)
    return {"at": local, "hijri": hijri(local)}


def shift_words(days: int) -> str:
    """How far a deadline moves, in working days, in words."""
    if days > 0:
        return ngettext("%(num)s working day later", "%(num)s working days later", days)
    if days < 0:
        return ngettext("%(num)s working day earlier", "%(num)s working days earlier", -days)
    return _("the same day, another time")


def preview_sentence(result: dict[str, Any]) -> str:
    """"3 open deadlines move: 2 deadlines (1 working day later), 1 deadline (2 working days later)." (or none)."""
    total = result["deadlines"]
    if not total:
        return _("No open deadline moves.")
    parts = [_("%(deadlines)s (%(shift)s)", deadlines=ngettext("%(num)s deadline", "%(num)s deadlines", count),
               shift=shift_words(days))
             for days, count in sorted(result["by_days"].items(), key=lambda item: (abs(item[0]), item[0]))]
    return _("%(head)s: %(parts)s.", head=ngettext("%(num)s open deadline moves", "%(num)s open deadlines move", total),
             parts=_(", ").join(parts))


def _preview_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    lang = _lang()
    english = _engine().query(english_element_names) if lang != "ar" else {}
    rows = []
    for task in result["tasks"]:
        rows.append({
            "title": task_title(task["name"], english.get(task["process_key"], {}).get(task["element_id"]), lang),
            "instance_id": task["instance_id"], "task_id": task["task_id"],
            "due_before": _when(task["due_before"]), "due_after": _when(task["due_after"]),
            "warn_before": _when(task["warn_before"]), "warn_after": _when(task["warn_after"]),
            "shift": shift_words(task["working_days"]), "jobs": task["jobs"],
        })
    return rows


def _page(actor: Actor, year: int | str | None = None, error: str = "", status: int = 200,
          preview: dict | None = None, form: dict | None = None, strict: bool = False):
    """The page for ``year`` (this year when it is not one of the years shown; with ``strict``, say so)."""
    this_year = _this_year()
    try:
        view = _engine().query(calendar_page, actor, this_year, _lang())
    except Forbidden:
        abort(403)
    text = ascii_digits(str(year or "")).strip()
    if text and (not text.isdigit() or int(text) not in view["years"]):
        if strict:
            error = error or _("The calendar can be shown for the years %(first)s to %(last)s.",
                               first=view["years"][0], last=view["years"][-1])
            status = 400 if status == 200 else status
    elif text and int(text) != this_year:
        view = _engine().query(calendar_page, actor, int(text), _lang())
    for day in view["days"]:
        day["weekday"] = _(WEEKDAY_NAMES[day["date"].weekday()])
    weekend = [_(WEEKDAY_NAMES[number]) for number in view["weekend"]]
    return render_template(
        "admin_calendar.html", view=view, weekend=_(", ").join(weekend), error=error, preview=preview,
        form=form or {}, kinds={"public_holiday": _("Public holiday"), "closure": _("The society's closure"),
                                "opened": _("Reopened (a correction)")},
    ), status


def _form() -> dict[str, str]:
    form = request.form
    return {"change": form.get("change", ""), "day": form.get("day", ""), "to_day": form.get("to_day", ""),
            "reason": form.get("reason", "")}


def _refused_page(actor: Actor, form: dict[str, str], error: str):
    """The page again (the year of the day asked about, when shown) with the refusal; nothing saved."""
    return _page(actor, ascii_digits(form.get("day", "")).strip()[:4], error, 422, form=form)


def _run(actor: Actor, form: dict[str, str], *, dry_run: bool) -> tuple[dict[str, Any] | None, str]:
    run = _engine().query if dry_run else _engine().run
    try:
        return run(change_calendar, actor, form["change"], form["day"], form["reason"], form["to_day"] or None,
                   dry_run=dry_run), ""
    except Forbidden:
        abort(403)
    except EngineError as exc:
        return None, refusal(exc)


@bp.get("")
@login_required
def index():
    return _page(staff_actor(), request.args.get("year", ""), strict=True)


@bp.post("/preview")
@login_required
def preview():
    actor, form = staff_actor(), _form()
    result, error = _run(actor, form, dry_run=True)
    if result is None:
        return _refused_page(actor, form, error)
    shown = {"sentence": preview_sentence(result), "rows": _preview_rows(result), "result": result,
             "changes": [{"day": c["day"], "hijri": hijri(c["day"]), "is_working": c["is_working"]}
                         for c in result["changes"]],
             "promises_kept": result["promises_kept"],
             "promises": [{**p, "hijri_before": hijri(p["before"]), "hijri_after": hijri(p["after"]),
                           "shift": shift_words(p["working_days"])} for p in result["promises"]]}
    return _page(actor, result["changes"][0]["day"].year, preview=shown, form=form)


@bp.post("")
@login_required
def save():
    actor, form = staff_actor(), _form()
    result, error = _run(actor, form, dry_run=False)
    if result is None:
        return _refused_page(actor, form, error)
    flash(_("The calendar is changed.") + " " + preview_sentence(result), "success")
    return redirect(url_for("calendar.index", year=result["changes"][0]["day"].year))
