"""The handlers diagrams call from service tasks (`engine.services`).

Each is idempotent: a retried instance runs its failed service task again and nothing is done
twice.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from engine.errors import REQUIRED, InvalidInput, error_code
from engine.services import ServiceCall
from workflows import requests as request_services
from workflows.domain import domain
from workflows.members import get_member, next_number
from workflows.models import Member, Survey
from workflows.notifications import notify
from workflows.promises import open_pause, pause_promise, promise_answer, resume_promise

#: A service task run by a case that was not opened as a member request (or whose data names
#: another case's request, ``reference``); a case whose applicant has not acknowledged the data.
NOT_A_REQUEST_CASE = error_code("not_a_request_case", "reference")
NOT_ACKNOWLEDGED = error_code("not_acknowledged")


def _request(call: ServiceCall) -> Any:
    request_id = call.data.get("request_id")
    if not isinstance(request_id, int):
        raise InvalidInput("the case has no request_id: it was not opened as a member request", code=NOT_A_REQUEST_CASE)
    request = request_services.get_request(call.session, request_id)
    if request.instance_id is None:
        # Only inside open_request, whose transaction is starting this very case.
        request.instance_id = call.instance_id
    if request.instance_id != call.instance_id:
        # the data names a request of another case: never touch it
        raise InvalidInput(f"request {request.reference} belongs to another case; open requests with open_request",
                           code=NOT_A_REQUEST_CASE, params={"reference": request.reference})
    return request


def set_status(call: ServiceCall) -> str:
    """Set the status the member sees (parameter ``status``)."""
    request = _request(call)
    status = str(call.params.get("status") or "")
    if not status:
        raise InvalidInput("set_status needs a 'status' parameter", code=REQUIRED, params={"field": "status"})
    request_services.set_status(request, status, call.now)
    call.session.flush()
    return status


def notify_member(call: ServiceCall) -> int:
    """Message the member about their request.

    Parameters: ``template``; optional ``days``, ``channels`` ("sms,email,letter") and
    ``status`` (the request status to set with it).

    Values for the text come from the request, the member and the case data (reason, answer,
    membership number). Sent once per template and element, however often the task runs.
    """
    request = _request(call)
    template = str(call.params.get("template") or "")
    status = call.params.get("status")
    if status:
        request_services.set_status(request, str(status), call.now)
    return _tell_member(call, request, template, f"{request.reference}:{template}:{call.element_id}")


def _tell_member(call: ServiceCall, request: Any, template: str, dedupe: str) -> int:
    """Write ``template`` to the request's member, with the values of the request, member and case data."""
    member = get_member(call.session, request.member_id)
    engine = call.scope.engine
    service = domain(engine).catalogue.service(request.service_type)
    channels = tuple(c.strip() for c in str(call.params.get("channels") or "sms,email").split(",") if c.strip())
    language = member.language or "ar"
    values = {
        "reference": request.reference,
        "name": member.name_ar if language == "ar" else (member.name_en or member.name_ar),
        "service": service.label(language),
        "days": call.params.get("days", ""),
        "reason": call.data.get("reason", ""),
        "answer": call.data.get("answer", ""),
        "membership_no": member.membership_no or "",
        "promised": request.answer_promised_on.isoformat() if request.answer_promised_on else "",
    }
    return notify(call.session, call.now, template, member, values, channels, instance_id=call.instance_id,
                  dedupe=dedupe)


def pause_clock(call: ServiceCall) -> int | None:
    """The case waits on the member: stop the promise's clock (`workflows.promises.pause_promise`).

    Parameters: ``reason`` (``more_info``); optional ``status`` to set and ``template`` to tell the
    member with (once per pause: a second question of the committee is told too). The pause's id,
    or None for a request with no promise yet.
    """
    request = _request(call)
    pause = pause_promise(call.scope.engine, call.session, call.scope.actor, request,
                          str(call.params.get("reason") or ""), call.now, call.instance_id, call.element_id)
    _status_and_message(call, request, f"pause:{pause.id}" if pause is not None else "pause")
    return pause.id if pause is not None else None


def resume_clock(call: ServiceCall) -> str | None:
    """The member answered: start the promise's clock again (`workflows.promises.resume_promise`).

    Optional parameters ``status`` and ``template``, as `pause_clock`; the member is told the new
    date (P1: without having to ask). The promised date (ISO), or None without a promise.
    """
    request = _request(call)
    ended = open_pause(call.session, request.id)
    promised = resume_promise(call.scope.engine, call.session, call.scope.actor, request, call.now,
                              call.instance_id, call.element_id)
    _status_and_message(call, request, f"resume:{ended.id}" if ended is not None else "resume")
    return promised.isoformat() if promised is not None else None


def _status_and_message(call: ServiceCall, request: Any, occasion: str) -> None:
    status, template = call.params.get("status"), str(call.params.get("template") or "")
    if status:
        request_services.set_status(request, str(status), call.now)
    if template:
        _tell_member(call, request, template, f"{request.reference}:{template}:{occasion}")
    call.session.flush()


def record_acknowledgement(call: ServiceCall) -> str:
    """Record the applicant's acknowledgement from the form data (``acknowledged``, ``ack_channel``).

    The request is then complete: the date of the committee's answer is promised (`promise_answer`).
    """
    if call.data.get("acknowledged") is not True:
        raise InvalidInput("the applicant has not acknowledged responsibility for the data (acknowledged)",
                           code=NOT_ACKNOWLEDGED)
    request = _request(call)
    ack = request_services.record_acknowledgement(
        call.scope.engine, call.session, call.scope.actor, request.id,
        str(call.data.get("ack_channel") or "in_person"), call.now)
    # Complete and acknowledged: it goes to the committee now, whose answer is promised from today.
    promise_answer(call.scope.engine, call.session, request, call.now)
    call.session.flush()
    return ack.text_version


def record_decision(call: ServiceCall) -> str:
    """Record the committee's decision from the form (``outcome``, ``reason``, ``committee_members``)."""
    members = call.data.get("committee_members") or []
    if isinstance(members, str):
        members = [m for m in members.replace("،", ",").split(",")]
    decision = request_services.record_decision(
        call.scope.engine, call.session, call.scope.actor, _request(call).id, str(call.data.get("outcome") or ""),
        str(call.data.get("reason") or ""), members, call.now)
    return decision.outcome


def check_documents(call: ServiceCall) -> dict[str, Any]:
    """Whether every required document of the checklist is verified, and which are not."""
    complete, missing = request_services.checklist_complete(call.session, _request(call).id)
    return {"complete": complete, "missing": missing}


def register_membership(call: ServiceCall) -> str:
    """Give the member a membership number (once) and make them active."""
    member = get_member(call.session, _request(call).member_id)
    if not member.membership_no:
        while True:  # numbers given by hand or imported may already hold the next value
            candidate = f"M-{call.now.year}-{next_number(call.session, 'membership'):05d}"
            if call.session.scalars(select(Member.id).where(Member.membership_no == candidate)).first() is None:
                break
        member.membership_no = candidate
    member.status = "active"
    member.joined_on = member.joined_on or call.now.date()
    call.session.flush()
    return member.membership_no


def schedule_survey(call: ServiceCall) -> str:
    """Schedule the satisfaction survey (parameter ``days``, default 3) and its invitation."""
    request = _request(call)
    days = int(call.params.get("days") or 3)
    survey = call.session.scalars(select(Survey).where(Survey.request_id == request.id)).first()
    if survey is None:
        survey = Survey(request_id=request.id, due_at=call.now + timedelta(days=days))
        call.session.add(survey)
        call.session.flush()
    member = get_member(call.session, request.member_id)
    name = member.name_ar if member.language == "ar" else (member.name_en or member.name_ar)
    notify(call.session, call.now, "survey_invitation", member,
           {"reference": request.reference, "name": name}, ("sms", "email"), instance_id=call.instance_id,
           dedupe=f"{request.reference}:survey", send_at=survey.due_at)
    return survey.due_at.isoformat()


HANDLERS = {
    "set_status": set_status,
    "notify_member": notify_member,
    "record_acknowledgement": record_acknowledgement,
    "record_decision": record_decision,
    "check_documents": check_documents,
    "register_membership": register_membership,
    "schedule_survey": schedule_survey,
    "pause_clock": pause_clock,
    "resume_clock": resume_clock,
}
