"""The date promised to the member: when the research committee will have answered (P16).

The policy tells the member that their request goes to the research committee, which answers
"within two weeks". The promise is made once, when the request is submitted complete (the check
found nothing missing and the applicant acknowledged the data, P13 and P15), counted in working
days on the society's calendar (``requests.committee_answer_days`` in ``config.yaml``, 10 by
default), and kept on the request: the case page, every task of the case and the decision
notice show that one date.

While the case waits on the member (the committee asked for more information) the clock stands
still: `pause_promise` opens a pause (`RequestPause`), `resume_promise` closes it, and the promised
date moves by the working days the member took. What is stored is what counting needs (the day
counting started, ``answer_counted_from``, and the pauses, with their times), never a number of
days, so `reckon_promise` counts the date again on the calendar and rules of the day it runs: a
closure added later, or a new ``committee_answer_days``, moves the date and loses no paused time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import audit
from engine.actors import Actor
from engine.calendar import BusinessCalendar, calendar_from_settings, load_overrides
from engine.errors import NOT_A_CHOICE, ConfigError, InvalidInput
from workflows.models import Acknowledgement, RequestPause, ServiceRequest

if TYPE_CHECKING:
    from engine.context import CaseEngine

#: Why a case waits on the member: the committee (or the researcher) asked for more information.
PAUSE_REASONS = ("more_info",)
#: The audit actions of the case history (worded in ``web/labels.py``).
CLOCK_PAUSED = "clock_paused"
CLOCK_RESUMED = "clock_resumed"

#: Two weeks of a Sunday-to-Thursday week.
DEFAULT_ANSWER_DAYS = 10


def answer_days(settings: Mapping[str, Any]) -> int:
    """The working days the committee's answer is promised within (``requests.committee_answer_days``).

    Raises:
        ConfigError: not a whole number of days from 1 to 60.
    """
    value = (settings.get("requests") or {}).get("committee_answer_days", DEFAULT_ANSWER_DAYS)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 60:
        raise ConfigError(f"requests.committee_answer_days must be a whole number of working days from 1 to 60, "
                          f"not {value!r}")
    return value


def promise_answer(engine: CaseEngine, session: Session, request: ServiceRequest, now: datetime) -> date:
    """Promise the committee's answer on ``request``, counted from ``now``; the promise already made, if any.

    Idempotent: a retried service task, or a request that comes back to the check, keeps the
    first promise (the member was told that date).
    """
    if request.answer_promised_on is None:
        calendar = current_calendar(engine, session)
        request.answer_counted_from = now.astimezone(calendar.tz).date()
        request.answer_promised_on = _count(engine, session, request, request.answer_counted_from, calendar)
    return request.answer_promised_on


def current_calendar(engine: CaseEngine, session: Session) -> BusinessCalendar:
    """The calendar as ``session`` sees it: the engine's cached one unless the session's own days differ.

    A change of the society's days made in the same transaction (not committed yet, so not in the
    cache) is seen; otherwise the cache spares recounting the year's public holidays.
    """
    cached = engine.calendars.get()
    days = load_overrides(session)
    return cached if days == cached.overrides else calendar_from_settings(engine.settings, days)


def pauses_of(session: Session, request_id: int) -> list[RequestPause]:
    """The request's pauses, oldest first."""
    return list(session.scalars(select(RequestPause).where(RequestPause.request_id == request_id)
                                .order_by(RequestPause.started_at, RequestPause.id)))


def paused_working_days(calendar: BusinessCalendar, pause: RequestPause, today: date) -> int:
    """The working days ``pause`` held the clock: after the day it began, up to the day it ended (or today).

    A pause begun and ended on one day holds nothing; begun on a Thursday and ended on the Sunday
    it holds one day (the weekend was no working time anyway).
    """
    start = pause.started_at.astimezone(calendar.tz).date()
    end = pause.ended_at.astimezone(calendar.tz).date() if pause.ended_at is not None else today
    return max(0, calendar.business_days_between(start, end))


def _counted_from(calendar: BusinessCalendar, session: Session, request: ServiceRequest, days: int) -> date | None:
    """The day the committee's working days count from; found once for a promise made before it was kept.

    Such a promise was made by the service task that recorded the acknowledgement, at its time.
    """
    if request.answer_counted_from is None and request.answer_promised_on is not None:
        ack_at = session.scalars(select(Acknowledgement.at).where(Acknowledgement.request_id == request.id)).first()
        request.answer_counted_from = (ack_at.astimezone(calendar.tz).date() if ack_at is not None
                                       else calendar.add_business_days(request.answer_promised_on, -days))
    return request.answer_counted_from


def reckon_promise(
    engine: CaseEngine, session: Session, request: ServiceRequest, *, calendar: BusinessCalendar | None = None
) -> date | None:
    """Count the promised date again and keep it on ``request``; None when no promise was made.

    The date is the day counting started + ``committee_answer_days`` + the working days of every
    pause, all on the current calendar and settings (a pause still open counts up to today). The
    one place the promise is counted after it is made: a pause, a resume, a change of the calendar.
    ``calendar`` spares loading it for each request when many are reckoned at once.
    """
    if request.answer_promised_on is None:
        return None
    calendar = calendar or current_calendar(engine, session)
    start = _counted_from(calendar, session, request, answer_days(engine.settings))
    assert start is not None
    request.answer_promised_on = _count(engine, session, request, start, calendar)
    session.flush()
    return request.answer_promised_on


def _count(engine: CaseEngine, session: Session, request: ServiceRequest, start: date,
           calendar: BusinessCalendar) -> date:
    """``start`` + the promised working days + the working days the pauses of ``request`` held."""
    today = engine.now().astimezone(calendar.tz).date()
    return held_promise(calendar, start, answer_days(engine.settings), pauses_of(session, request.id), today)[0]


def held_promise(calendar: BusinessCalendar, start: date, days: int, pauses: Sequence[RequestPause],
                 today: date) -> tuple[date, int]:
    """The promised date counted from ``start``, and the working days the pauses held it.

    A pause holds the clock only while the promise still ran: one begun after the promised date
    had passed gives the committee no time back (the promise was already broken), so asking the
    member for more cannot hide a late answer.
    """
    promised, held = calendar.add_business_days(start, days), 0
    for pause in pauses:  # oldest first
        if pause.started_at.astimezone(calendar.tz).date() > promised:
            continue
        took = paused_working_days(calendar, pause, today)
        promised, held = calendar.add_business_days(promised, took), held + took
    return promised, held


def open_pause(session: Session, request_id: int) -> RequestPause | None:
    """The request's pause still open, if it waits on the member now."""
    return session.scalars(select(RequestPause).where(RequestPause.request_id == request_id,
                                                      RequestPause.ended_at.is_(None))).first()


def end_pauses(session: Session, request: ServiceRequest, now: datetime, by: str) -> None:
    """End the open pause of a request that ends waiting on the member (a cancelled case)."""
    for pause in pauses_of(session, request.id):
        if pause.ended_at is None:
            pause.ended_at, pause.ended_by = now, by


def pause_promise(
    engine: CaseEngine, session: Session, actor: Actor | str, request: ServiceRequest, reason: str, now: datetime,
    instance_id: int | None = None, element_id: str | None = None,
) -> RequestPause | None:
    """Stop the promise's clock: the case waits on the member from ``now`` (``reason``, one of `PAUSE_REASONS`).

    Idempotent: a case already waiting keeps its pause. A request with no promise yet has no clock
    to stop (the missing documents asked before the request is complete): None, and nothing recorded.

    Raises:
        InvalidInput: an unknown reason.
    """
    if reason not in PAUSE_REASONS:
        raise InvalidInput(f"reason: {reason!r} is not one of {', '.join(PAUSE_REASONS)}", code=NOT_A_CHOICE,
                           params={"field": "reason", "value": reason, "allowed": list(PAUSE_REASONS)})
    if request.answer_promised_on is None:
        return None
    pause = open_pause(session, request.id)
    if pause is not None:
        return pause
    pause = RequestPause(request_id=request.id, reason=reason, started_at=now,
                         started_by=actor if isinstance(actor, str) else actor.name)
    session.add(pause)
    session.flush()
    audit.record(session, now, actor, CLOCK_PAUSED, instance_id, element_id=element_id,
                 summary={"reference": request.reference, "reason": reason,
                          "promised_on": request.answer_promised_on.isoformat()})
    return pause


def resume_promise(
    engine: CaseEngine, session: Session, actor: Actor | str, request: ServiceRequest, now: datetime,
    instance_id: int | None = None, element_id: str | None = None,
) -> date | None:
    """Start the promise's clock again (the member answered); the promised date, moved by the days they took.

    Idempotent: a request that is not waiting keeps its date (counted again all the same).
    """
    pause = open_pause(session, request.id)
    if pause is not None:
        pause.ended_at, pause.ended_by = now, actor if isinstance(actor, str) else actor.name
        session.flush()
    promised = reckon_promise(engine, session, request)
    if pause is not None and promised is not None:
        calendar = current_calendar(engine, session)
        audit.record(session, now, actor, CLOCK_RESUMED, instance_id, element_id=element_id,
                     summary={"reference": request.reference, "reason": pause.reason,
                              "paused_days": paused_working_days(calendar, pause, now.astimezone(calendar.tz).date()),
                              "promised_on": promised.isoformat()})
    return promised


@dataclass(frozen=True)
class PromiseClock:
    """Where a request's promise stands, for the pages: the date, or that it is paused and since when."""

    #: The promised date as counted now (while paused: were the member to answer today).
    promised_on: date
    counted_from: date | None
    #: The working days promised (``committee_answer_days``).
    answer_days: int
    #: The working days of the committee's time used so far (not counting the pauses).
    used_days: int
    #: The working days the member has held the clock, every pause together (an open one up to today).
    paused_days: int
    #: When the open pause began; None while the clock runs.
    paused_since: datetime | None
    #: The day it began, in the society's time zone.
    paused_on: date | None
    #: Every pause, oldest first.
    pauses: Sequence[RequestPause]

    @property
    def is_paused(self) -> bool:
        """Whether the case waits on the member now."""
        return self.paused_since is not None


def promise_clock(engine: CaseEngine, session: Session, request: ServiceRequest,
                  calendar: BusinessCalendar | None = None) -> PromiseClock | None:
    """Where ``request``'s promise stands today, counted without writing; None when no promise was made."""
    if request.answer_promised_on is None:
        return None
    calendar = calendar or current_calendar(engine, session)
    days = answer_days(engine.settings)
    today = engine.now().astimezone(calendar.tz).date()
    pauses = pauses_of(session, request.id)
    start = request.answer_counted_from
    if start is None:  # a promise made before the day was kept: counted as `reckon_promise` would
        ack_at = session.scalars(select(Acknowledgement.at).where(Acknowledgement.request_id == request.id)).first()
        start = (ack_at.astimezone(calendar.tz).date() if ack_at is not None
                 else calendar.add_business_days(request.answer_promised_on, -days))
    open_ = next((p for p in pauses if p.ended_at is None), None)
    promised, paused = held_promise(calendar, start, days, pauses, today)
    used = max(0, min(days, calendar.business_days_between(start, today) - paused)) if start is not None else 0
    return PromiseClock(promised_on=promised, counted_from=start, answer_days=days, used_days=used,
                        paused_days=paused, paused_since=open_.started_at if open_ else None,
                        paused_on=open_.started_at.astimezone(calendar.tz).date() if open_ else None, pauses=pauses)
