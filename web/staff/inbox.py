"""The task inbox: search, filters, counts, sort and paging; claim, release and (supervisors) reassign."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required

from engine.errors import EngineError, Forbidden, InvalidInput, NotFound
from web.current import current_engine as _engine
from web.current import staff_actor as _staff
from web.deadlines import deadline
from web.labels import process_name
from web.refusals import refusal
from web.staff.naming import task_title
from workflows.identity import ascii_digits
from workflows.operations.tasks import assign_task, claim_task, release_task
from workflows.operations.views import delete_view, save_view
from workflows.read.definitions import english_element_names, process_names
from workflows.read.inbox import SLA_FILTERS, SORTS, inbox_view, refresh_seconds
from workflows.saved_filters import FILTER_KEYS

bp = Blueprint("inbox", __name__)


def _page_number(text: str) -> int:
    """The page asked for (Eastern Arabic digits too); 1 for anything that is not a page number."""
    digits = ascii_digits(text).strip()
    if digits.isascii() and digits.isdecimal() and len(digits) <= 6:
        return max(1, int(digits))
    return 1


def _assignee_filter(args) -> str:
    """``me``, ``none``, or (for a supervisor, from the board's counts) one person's user name."""
    value = args.get("assignee", "").strip()
    if value in ("me", "none"):
        return value
    return value if value and current_user.is_authenticated and current_user.actor().may_assign else ""


def _filters() -> dict:
    args = request.values
    sla = args.get("sla", "")
    sort = args.get("sort", "due")
    page = args.get("page", "1")
    return {
        "text": args.get("q", "").strip(),
        "process": args.get("process", ""),
        "lane": args.get("lane", ""),
        "sla": sla if sla in SLA_FILTERS else "",
        "high_priority": args.get("priority") == "high",
        "assignee": _assignee_filter(args),
        "group": args.get("group", "").strip(),
        "sort": sort if sort in SORTS else "due",
        "page": _page_number(page),
    }


def page_numbers(current: int, pages: int) -> list[int | None]:
    """The page links to show: the first and last pages and those around ``current``; None marks a gap."""
    shown = sorted({p for p in (1, 2, 3, pages - 1, pages, *range(current - 2, current + 3)) if 1 <= p <= pages})
    numbers: list[int | None] = []
    for p in shown:
        if numbers and p - numbers[-1] > 1:
            numbers.append(None)
        numbers.append(p)
    return numbers


def _render(actor, filters: dict, template: str, error: str = ""):
    engine = _engine()
    now = engine.clock.now()
    calendar = engine.calendars.get()
    view = engine.query(inbox_view, actor, **filters)
    names = engine.query(process_names)
    result = view.page
    lang = str(get_locale() or "ar")
    rows = []
    english = _engine().query(english_element_names) if lang != "ar" else {}
    for task, case, member, key in result.rows:
        rows.append({"task": task, "case": case, "member": member, "process": key,
                     "title": task_title(task.name, english.get(key, {}).get(task.element_id), lang),
                     **deadline(task.due_at, task.warn_at, now, calendar)})
    # Labels and links once per page, not once per row: rendering 25 rows stays cheap.
    words = {key: _(key) for key in (*SLA_FILTERS, "reception", "social_researcher", "committee", "service_delivery",
                                     "supervisor", "Claim", "Release", "AH", "High priority", "Assign", "Assign to")}
    links = {name: url_for(endpoint, task_id="TASKID") for name, endpoint in (
        ("task", "tasks.task"), ("claim", "inbox.claim"), ("unclaim", "inbox.unclaim"), ("assign", "inbox.assign"))}
    links["case"] = url_for("cases.case", instance_id=0)[:-1] + "CASEID"
    view_query = {key: request.values[key] for key in FILTER_KEYS if request.values.get(key)}
    return render_template(template, rows=rows, result=result, filters=filters, error=error,
                           saved=view.saved, view_query=view_query,
                           page_numbers=page_numbers(result.page, result.pages),
                           page_link=url_for("inbox.inbox", page=0)[:-1],
                           process_names={key: process_name(names, key, lang) for key in view.processes},
                           lanes=view.lanes, sla_states=SLA_FILTERS, processes=view.processes,
                           sorts=SORTS, assignable=view.assignable, may_assign=actor.may_assign,
                           words=words, links=links, refresh_seconds=refresh_seconds(engine))


@bp.get("/inbox")
@login_required
def inbox():
    actor = _staff()
    template = "_inbox_table.html" if request.headers.get("HX-Request") else "inbox.html"
    return _render(actor, _filters(), template)


@bp.post("/inbox/filters")
@login_required
def save_filter():
    """Save the inbox's current filters under a name, private or shared with one of the user's roles."""
    actor = _staff()
    query = {key: request.form.get(key, "") for key in FILTER_KEYS}
    try:
        _engine().run(save_view, actor, request.form.get("name", ""), query, request.form.get("role", ""))
    except InvalidInput as exc:
        flash(refusal(exc), "danger")
    else:
        flash(_("The view is saved."), "success")
    return redirect(url_for("inbox.inbox", **{k: v for k, v in query.items() if v}))


@bp.post("/inbox/filters/<int:filter_id>/delete")
@login_required
def delete_filter_route(filter_id: int):
    """Delete one of the user's saved views."""
    actor = _staff()
    try:
        _engine().run(delete_view, actor, filter_id)
    except (NotFound, Forbidden) as exc:
        flash(refusal(exc), "danger")
    else:
        flash(_("The view is deleted."), "success")
    return redirect(url_for("inbox.inbox"))


@bp.post("/tasks/<task_id>/claim")
@login_required
def claim(task_id: str):
    return _assignment(claim_task, task_id)


@bp.post("/tasks/<task_id>/unclaim")
@login_required
def unclaim(task_id: str):
    return _assignment(release_task, task_id)


@bp.post("/tasks/<task_id>/assign")
@login_required
def assign(task_id: str):
    # Not "assignee": that is the inbox filter, sent along with the assignment (hx-include).
    return _assignment(assign_task, task_id, extra=(request.form.get("assign_to", ""),))


def _assignment(operation, task_id: str, extra: tuple = ()):
    actor = _staff()
    message = None
    refused = 409
    try:
        _engine().run(operation, actor, task_id, *extra)
    except EngineError as exc:
        message = refusal(exc)
        # Not allowed is not a conflict: a lane one does not hold, or assigning without the right.
        refused = 403 if isinstance(exc, Forbidden) else 409
    if request.form.get("next") == "task" and not request.headers.get("HX-Request"):
        # From the task page: after a claim (or a failed release) back to the task; after a release
        # to the inbox, as the task may be one the user saw only because it was theirs.
        if message:
            flash(message, "warning")
        elif operation is release_task:
            flash(_("Task released."), "success")
            return redirect(url_for("inbox.inbox"))
        return redirect(url_for("tasks.task", task_id=task_id))
    # htmx swaps only 2xx answers: the message is shown inside the table it replaces.
    status = 200 if message is None or request.headers.get("HX-Request") else refused
    return _render(actor, _filters(), "_inbox_table.html", message or ""), status
