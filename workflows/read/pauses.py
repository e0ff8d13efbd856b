"""Cases whose promised date stands still because they wait on the member (issue 12, the board).

A pause is open from the moment the committee asks the member for more information until the
member's answer is recorded (`workflows.promises`); the supervisors see these cases apart, since
their deadline is not the society's to meet while they wait.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.actors import Actor
from workflows.accounts import require_role
from workflows.models import Member, RequestPause, ServiceRequest
from workflows.promises import paused_working_days

if TYPE_CHECKING:
    from engine.context import CaseEngine


@dataclass(frozen=True)
class PausedCase:
    """One case waiting on the member, as the board lists it."""

    request_id: int
    reference: str
    #: The case (process instance) to link to; None for a request without one.
    instance_id: int | None
    member_id: int
    member_name_ar: str
    member_name_en: str | None
    #: Why it waits (``more_info``).
    reason: str
    #: When the clock stopped (UTC).
    since: datetime
    #: The day it stopped, in the society's time zone.
    since_day: date
    #: The working days it has stood still so far (this pause), on today's calendar.
    paused_days: int
    #: The promised date as last counted (the pause moves it again when the member answers).
    promised_on: date | None
    started_by: str


def paused_cases(engine: CaseEngine, session: Session, actor: Actor) -> list[PausedCase]:
    """Every case waiting on the member now, the longest waiting first (supervisors and administrators).

    Raises:
        Forbidden: anyone else.
    """
    require_role(actor, "supervisor", "administrator")
    calendar = engine.calendars.get()
    today = engine.now().astimezone(calendar.tz).date()
    rows = session.execute(
        select(RequestPause, ServiceRequest, Member)
        .join(ServiceRequest, ServiceRequest.id == RequestPause.request_id)
        .join(Member, Member.id == ServiceRequest.member_id)
        .where(RequestPause.ended_at.is_(None), ServiceRequest.closed_at.is_(None))
        .order_by(RequestPause.started_at, RequestPause.id)
    ).all()
    return [PausedCase(request_id=request.id, reference=request.reference, instance_id=request.instance_id,
                       member_id=member.id, member_name_ar=member.name_ar, member_name_en=member.name_en,
                       reason=pause.reason, since=pause.started_at,
                       since_day=pause.started_at.astimezone(calendar.tz).date(),
                       paused_days=paused_working_days(calendar, pause, today),
                       promised_on=request.answer_promised_on, started_by=pause.started_by)
            for pause, request, member in rows]
