"""The society's working calendar: closures, and corrections of the public holidays."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import audit, calendar
from engine.actors import Actor
from engine.db import after_commit
from engine.deadlines import MovedTask, shift_deadlines
from engine.errors import InvalidInput, error_code
from workflows.accounts import require_role
from workflows.models import RequestPause, ServiceRequest
from workflows.promises import reckon_promise
from workflows.read.calendar import calendar_years

if TYPE_CHECKING:
    from engine.context import CaseEngine

#: Refusals of a calendar change: a change that is not one of `CHANGES`; no reason, or one longer
#: than ``limit``; a day that is not a date (``text``, empty when none was given) or outside the
#: years that may be changed (``first`` to ``last``); closing a closed day, reopening an open one;
#: moving a holiday onto itself.
UNKNOWN_CHANGE = error_code("calendar_unknown_change", "change")
REASON_MISSING = error_code("calendar_reason_missing")
REASON_LONG = error_code("calendar_reason_long", "limit")
NOT_A_DAY = error_code("calendar_not_a_date", "text")
OUT_OF_RANGE = error_code("calendar_out_of_range", "day", "first", "last")
ALREADY_CLOSED = error_code("calendar_already_closed", "day")
NOT_CLOSED = error_code("calendar_not_closed", "day")
SAME_DAY = error_code("calendar_same_day", "day")


def _day(day: date | str) -> date:
    return day if isinstance(day, date) else calendar.parse_day(day)


def close_day(engine: CaseEngine, session: Session, actor: Actor, day: date | str, reason: str) -> date:
    """Close a day that would be a working day (a closure, an Eid day announced late).

    Raises:
        Forbidden: administrators only. InvalidInput: not a date, or no reason.
    """
    return _set(engine, session, actor, _day(day), False, reason)


def open_day(engine: CaseEngine, session: Session, actor: Actor, day: date | str, reason: str) -> date:
    """Open a day the public calendar closes (a correction).

    Raises:
        Forbidden: administrators only. InvalidInput: not a date, or no reason.
    """
    return _set(engine, session, actor, _day(day), True, reason)


def clear_day(engine: CaseEngine, session: Session, actor: Actor, day: date | str) -> tuple[date, bool]:
    """Remove the society's entry for a day; return the day and whether there was an entry.

    Raises:
        Forbidden: administrators only. InvalidInput: not a date.
    """
    require_role(actor, "administrator")
    cleared = _day(day)
    removed = cleared in calendar.load_overrides(session)
    if removed:
        _plan(engine, session, actor, "clear", "", cleared, None)
    return cleared, removed


def _set(engine: CaseEngine, session: Session, actor: Actor, day: date, is_working: bool, reason: str) -> date:
    _plan(engine, session, actor, "close" if not is_working else "open", reason, day, calendar.Override(is_working,
                                                                                                     reason.strip()))
    return day


def _plan(engine: CaseEngine, session: Session, actor: Actor, change: str, reason: str, day: date,
          override: calendar.Override | None) -> dict[str, Any]:
    """Set (or with None clear) the society's entry for ``day``, moving the open deadlines it moves."""
    require_role(actor, "administrator")
    if override is not None and not override.reason:
        raise InvalidInput("give a reason for the calendar change", code=REASON_MISSING)
    if len(reason or "") > 200:
        raise InvalidInput("write the reason in 200 characters at most", code=REASON_LONG, params={"limit": 200})
    day = _checked_day(engine, day)  # the years the page may change too
    overrides = calendar.load_overrides(session)
    current = engine.calendars.get().with_overrides(overrides)
    return _apply(engine, session, actor, change, reason, current, overrides, {day: override}, dry_run=False)


# -- changes previewed, then saved with the deadlines they move ----------------------------------

#: What `change_calendar` does: close a working day, reopen a closed one, or move a holiday.
CHANGES = ("close", "reopen", "move")


def change_calendar(
    engine: CaseEngine,
    session: Session,
    actor: Actor,
    change: str,
    day: date | str,
    reason: str,
    to_day: date | str | None = None,
    *,
    dry_run: bool,
) -> dict[str, Any]:
    """Preview (``dry_run``) or save a change of the calendar with the open deadlines it moves.

    ``close`` closes ``day`` (a closure), ``reopen`` opens a closed ``day``, ``move`` moves the
    holiday of ``day`` to ``to_day`` (an Eid announced late: ``day`` opens, ``to_day`` closes).
    Preview and saving run the same computation; saving writes the calendar, the tasks' due and
    warning times and their pending warning and escalation jobs in this one transaction, one
    ``calendar_changed`` audit event with the counts (each task's ``deadline_moved`` in its
    case's history), and refreshes the calendar after commit.

    Returns:
        ``changes`` (day, is_working, reason), ``tasks`` (each moved task), ``by_days``
        (working days moved → how many deadlines), ``deadlines``, ``warnings``, ``jobs`` and
        ``promises`` (moved requests; ``promises_kept``: requests whose promised date could not be
        counted again and stays).

    Raises:
        Forbidden: administrators only. InvalidInput: a code of `calendar_*` naming what is wrong.
    """
    require_role(actor, "administrator")
    if change not in CHANGES:
        raise InvalidInput(f"unknown calendar change {change!r} (use {', '.join(CHANGES)})",
                           code=UNKNOWN_CHANGE, params={"change": change})
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("give a reason for the calendar change", code=REASON_MISSING)
    if len(reason) > 200:
        raise InvalidInput("write the reason in 200 characters at most", code=REASON_LONG,
                           params={"limit": 200})
    first_day = _checked_day(engine, day)
    overrides = calendar.load_overrides(session)
    current = engine.calendars.get().with_overrides(overrides)
    planned: dict[date, calendar.Override | None] = {}
    if change == "close":
        planned[first_day] = _closing(current, first_day, reason)
    elif change == "reopen":
        planned[first_day] = _reopening(current, overrides, first_day, reason)
    else:
        if to_day is None or str(to_day).strip() == "":
            raise InvalidInput("name the day the holiday moves to", code=NOT_A_DAY, params={"text": ""})
        second_day = _checked_day(engine, to_day)
        if second_day == first_day:
            raise InvalidInput("a holiday moves to another day", code=SAME_DAY,
                               params={"day": first_day.isoformat()})
        reopened = _reopening(current, overrides, first_day, reason)
        if first_day.weekday() in current.working_weekdays or first_day in overrides:
            planned[first_day] = reopened  # a holiday that fell on the weekend leaves a weekend day behind
        planned[second_day] = _closing(current, second_day, reason)
    return _apply(engine, session, actor, change, reason, current, overrides, planned, dry_run=dry_run)


def _apply(engine: CaseEngine, session: Session, actor: Actor, change: str, reason: str,
           current: calendar.BusinessCalendar, overrides: dict[date, calendar.Override],
           planned: dict[date, calendar.Override | None], *, dry_run: bool) -> dict[str, Any]:
    """Count (and unless ``dry_run``, save) ``planned`` days with the open deadlines they move."""
    after = dict(overrides)
    for when, override in planned.items():
        if override is None:
            after.pop(when, None)
        else:
            after[when] = override
    changed = current.with_overrides(after)
    moved = shift_deadlines(engine, session, actor, changed, planned, dry_run=dry_run)
    promises_moved, promises_kept = _promises(engine, session, actor, changed, min(planned), dry_run=dry_run)
    result = _summary(changed, planned, moved, promises_moved, promises_kept)
    if not dry_run:
        now = engine.clock.now()
        for when, override in planned.items():
            if override is None:
                calendar.clear_day(session, when)
            else:
                calendar.set_day(session, when, override.is_working, override.reason, actor.name, now)
        audit.record(session, now, actor, "calendar_changed", summary={
            "change": change, "reason": reason,
            "days": [{"day": c["day"].isoformat(), "is_working": c["is_working"]} for c in result["changes"]],
            "deadlines": result["deadlines"], "tasks": len(moved), "warnings": result["warnings"],
            "jobs": result["jobs"], "promises": len(promises_moved), "promises_kept": promises_kept,
            "by_days": {str(days): count for days, count in result["by_days"].items()},
        })
        after_commit(session, engine.calendars.invalidate)
    return result


def _checked_day(engine: CaseEngine, text: date | str) -> date:
    try:
        day = _day(text)
    except InvalidInput:
        raise InvalidInput(f"not a date: {text!r} (write YYYY-MM-DD)", code=NOT_A_DAY,
                           params={"text": str(text)}) from None
    years = calendar_years(engine)
    if day.year not in years:
        raise InvalidInput(f"{day.isoformat()} is outside the years that may be changed ({years[0]}–{years[-1]})",
                           code=OUT_OF_RANGE,
                           params={"day": day.isoformat(), "first": years[0], "last": years[-1]})
    return day


def _closing(current: calendar.BusinessCalendar, day: date, reason: str) -> calendar.Override:
    if not current.is_working_day(day):
        raise InvalidInput(f"{day.isoformat()} is already closed", code=ALREADY_CLOSED,
                           params={"day": day.isoformat()})
    return calendar.Override(False, reason)


def _reopening(current: calendar.BusinessCalendar, overrides: dict[date, calendar.Override], day: date,
               reason: str) -> calendar.Override | None:
    if current.is_working_day(day):
        raise InvalidInput(f"{day.isoformat()} is not closed", code=NOT_CLOSED,
                           params={"day": day.isoformat()})
    own = overrides.get(day)
    if own is not None and not own.is_working and current.base_is_working_day(day):
        return None  # the society's own closure: removing it reopens the day
    return calendar.Override(True, reason)


def _promises(engine: CaseEngine, session: Session, actor: Actor, changed: calendar.BusinessCalendar, first: date,
              *, dry_run: bool) -> tuple[list[dict[str, Any]], int]:
    """Open requests' promised answer dates on or after ``first``, counted again on ``changed`` (`reckon_promise`).

    A preview counts on a detached copy of each request, so nothing is written; saving keeps the
    new date and records ``promise_moved`` in the case's history. A request waiting on the member
    is left alone: its date stands still, and is counted again on the calendar of the day the
    member answers (counting it now would credit the change with the pause so far).
    """
    waiting = select(RequestPause.request_id).where(RequestPause.ended_at.is_(None))
    requests = session.scalars(
        select(ServiceRequest).where(ServiceRequest.answer_promised_on >= first, ServiceRequest.closed_at.is_(None),
                                     ServiceRequest.id.not_in(waiting))
        .order_by(ServiceRequest.id)
    ).all()
    moved, kept = [], 0
    now = engine.clock.now()
    with engine.calendars.using(changed):
        for request in requests:
            before = request.answer_promised_on
            if dry_run:
                session.expunge(request)  # counted on the copy: a preview flushes nothing
            after = reckon_promise(engine, session, request, calendar=changed)
            if after is None:
                kept += 1
                continue
            if after == before:
                continue
            moved.append({"request_id": request.id, "reference": request.reference, "before": before, "after": after,
                          "working_days": changed.business_days_between(before, after)})
            if not dry_run:
                audit.record(session, now, actor, "promise_moved", request.instance_id, summary={
                    "request": request.reference, "before": before.isoformat(), "after": after.isoformat(),
                    "why": "calendar_changed"})
    return moved, kept


def _summary(changed: calendar.BusinessCalendar, planned: dict[date, calendar.Override | None],
             moved: list[MovedTask], promises_moved: list[dict[str, Any]], promises_kept: int) -> dict[str, Any]:
    by_days: dict[int, int] = {}
    for shift in [task.working_days for task in moved] + [p["working_days"] for p in promises_moved]:
        by_days[shift] = by_days.get(shift, 0) + 1
    return {
        "changes": [{"day": when, "is_working": changed.is_working_day(when),
                     "reason": override.reason if override else ""} for when, override in sorted(planned.items())],
        "tasks": [task.as_dict() for task in moved],
        "promises": promises_moved,
        "promises_kept": promises_kept,
        "by_days": dict(sorted(by_days.items())),
        "deadlines": len(moved) + len(promises_moved),
        "warnings": sum(1 for task in moved if task.warn_before != task.warn_after),
        "jobs": sum(len(task.jobs) for task in moved),
    }
