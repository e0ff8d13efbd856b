"""Requests (cases): their checklist, the acknowledgement, the decision, and what the member reads.

The rules of a request that the operations (`workflows.operations`) and the service-task
handlers share. Functions take the session and flush; the entry point commits.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.actors import Actor
from engine.db import after_commit
from engine.errors import NO_SUCH, NOT_A_CHOICE, REQUIRED, Conflict, InvalidInput, NotFound, error_code
from workflows.documents import FILE_NOT_KEPT, discard_upload
from workflows.domain import domain
from workflows.members import get_member
from workflows.models import CHANNELS, Acknowledgement, Decision, RequestDocument, ServiceRequest

#: The request (``reference``) has a decision already (``outcome``).
DECISION_EXISTS = error_code("decision_exists", "reference", "outcome")
#: The request (``reference``) lists no document ``kind``.
NO_DOCUMENT = error_code("no_document", "reference", "kind")

if TYPE_CHECKING:
    from engine.context import CaseEngine

DOCUMENT_STATES = ("missing", "received", "verified")
OUTCOMES = ("accepted", "rejected")
#: Statuses after which a request is closed.
FINAL_STATUSES = ("rejected", "delivered", "answered", "registered", "closed", "cancelled")

#: What a member reads for each request status.
STATUS_LABELS: dict[str, dict[str, str]] = {
    "received": {"ar": "تم الاستلام", "en": "Received"},
    "checking": {"ar": "قيد التحقق من البيانات", "en": "Checking your data"},
    "referred": {"ar": "محال لمسؤول البحث الاجتماعي", "en": "With the social research officer"},
    "with_committee": {"ar": "لدى لجنة البحث", "en": "With the research committee"},
    "awaiting_member": {"ar": "بانتظار معلومات إضافية منك", "en": "Waiting for more information from you"},
    "accepted": {"ar": "مقبول", "en": "Accepted"},
    "rejected": {"ar": "نعتذر عن القبول", "en": "Not accepted"},
    "registered": {"ar": "تم التسجيل", "en": "Registered"},
    "delivered": {"ar": "تم تقديم الخدمة", "en": "Service delivered"},
    "answered": {"ar": "تم الرد", "en": "Answered"},
    "closed": {"ar": "مغلق", "en": "Closed"},
    "cancelled": {"ar": "ملغى", "en": "Cancelled"},
}


def status_label(status: str, language: str = "ar") -> str:
    """The member-facing words for a request status."""
    labels = STATUS_LABELS.get(status)
    return (labels.get(language) or labels["ar"]) if labels else status


def set_status(request: ServiceRequest, status: str, now: datetime) -> None:
    """Set the status the member sees; a final one closes the request (once)."""
    request.status = status
    if status in FINAL_STATUSES and request.closed_at is None:
        request.closed_at = now


def request_of_instance(session: Session, instance_id: int) -> ServiceRequest | None:
    """The request a process instance runs, if it runs one."""
    return session.scalars(select(ServiceRequest).where(ServiceRequest.instance_id == instance_id)).first()


def get_request(session: Session, request_id: int) -> ServiceRequest:
    """The request ``request_id``.

    Raises:
        NotFound: no such request.
    """
    request = session.get(ServiceRequest, request_id)
    if request is None:
        raise NotFound(f"no request {request_id}", code=NO_SUCH, params={"what": "request", "ident": request_id})
    return request


def documents(session: Session, request_id: int) -> list[RequestDocument]:
    """The request's checklist."""
    return list(session.scalars(select(RequestDocument).where(RequestDocument.request_id == request_id)
                                .order_by(RequestDocument.id)))


def mark_document(
    engine: CaseEngine,
    session: Session,
    actor: Actor,
    request_id: int,
    kind: str,
    state: str,
    note: str = "",
    file_name: str | None = None,
) -> RequestDocument:
    """Mark a checklist item received, verified (by the actor, now) or missing (with a note).

    Following the PDPL an ID document is recorded as verified, not stored: a file name is
    accepted only for kinds whose service requires the file, and a file it replaces is deleted
    once the change is committed (never before: if it is not saved, the old file stays).

    Raises:
        InvalidInput: unknown state, missing note, a file for a kind that must not be stored.
        NotFound: no such item.
    """
    if state not in DOCUMENT_STATES:
        raise InvalidInput(f"state: {state!r} is not one of {', '.join(DOCUMENT_STATES)}", code=NOT_A_CHOICE,
                           params={"field": "state", "value": state, "allowed": list(DOCUMENT_STATES)})
    request = get_request(session, request_id)
    item = session.scalars(select(RequestDocument).where(RequestDocument.request_id == request_id,
                                                         RequestDocument.kind == kind)).first()
    if item is None:
        raise NotFound(f"request {request.reference} has no document {kind!r}", code=NO_DOCUMENT,
                       params={"reference": request.reference, "kind": kind})
    kind_spec = {d.kind: d for d in domain(engine).catalogue.service(request.service_type).documents}.get(kind)
    if file_name and (kind_spec is None or not kind_spec.store_file):
        raise InvalidInput(f"{kind}: this document is verified, not stored; do not attach the file",
                           code=FILE_NOT_KEPT, params={"kind": kind})
    if state == "missing" and not (note or "").strip():
        raise InvalidInput("note: say what is missing", code=REQUIRED, params={"field": "note"})
    now = engine.clock.now()
    item.state, item.note = state, (note or "").strip()
    if state in ("received", "verified") and item.received_at is None:
        item.received_at = now
    if state == "verified":
        item.verified_by, item.verified_at = actor.name, now
    if file_name and file_name != item.file_name:
        replaced, item.file_name = item.file_name, file_name
        if replaced:
            after_commit(session, lambda: discard_upload(engine, replaced))
    session.flush()
    return item


def checklist_complete(session: Session, request_id: int) -> tuple[bool, list[str]]:
    """Whether every required document is verified, and the kinds that are not."""
    missing = [d.kind for d in unverified_required(documents(session, request_id))]
    return not missing, missing


def unverified_required(items: Iterable[RequestDocument]) -> list[RequestDocument]:
    """The required items of a checklist not verified yet: the request is not complete while any is."""
    return [d for d in items if d.required and d.state != "verified"]


def record_acknowledgement(
    engine: CaseEngine, session: Session, actor: Actor, request_id: int, channel: str, now: datetime | None = None
) -> Acknowledgement:
    """Record that the applicant acknowledged responsibility for their data (P15); idempotent.

    The text shown is the configured one in the member's language, kept with its version.
    """
    request = get_request(session, request_id)
    existing = session.scalars(select(Acknowledgement).where(Acknowledgement.request_id == request_id)).first()
    if existing is not None:
        return existing
    if channel not in CHANNELS:
        raise InvalidInput(f"channel: {channel!r} is not one of {', '.join(CHANNELS)}", code=NOT_A_CHOICE,
                           params={"field": "channel", "value": channel, "allowed": list(CHANNELS)})
    member = get_member(session, request.member_id)
    text = domain(engine).catalogue.acknowledgement
    ack = Acknowledgement(request_id=request.id, member_id=member.id,
                          text=text.text.get(member.language) or text.text["ar"], text_version=text.version,
                          channel=channel, recorded_by=actor.name, at=now or engine.clock.now())
    session.add(ack)
    session.flush()
    return ack


def record_decision(
    engine: CaseEngine,
    session: Session,
    actor: Actor,
    request_id: int,
    outcome: str,
    reason: str,
    committee_members: Iterable[str],
    now: datetime | None = None,
) -> Decision:
    """Record the committee's decision (P16).

    A second call for the same request is refused unless it says the same thing, so a retried
    step is harmless.

    Raises:
        InvalidInput: unknown outcome, empty reason, or nobody present.
        Conflict: a different decision was already recorded.
    """
    if outcome not in OUTCOMES:
        raise InvalidInput(f"outcome: {outcome!r} is not one of {', '.join(OUTCOMES)}", code=NOT_A_CHOICE,
                           params={"field": "outcome", "value": outcome, "allowed": list(OUTCOMES)})
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("reason: the committee gives a reason", code=REQUIRED, params={"field": "reason"})
    members = [str(m).strip() for m in committee_members if str(m).strip()]
    if not members:
        raise InvalidInput("committee_members: name the members present", code=REQUIRED,
                           params={"field": "committee_members"})
    request = get_request(session, request_id)
    existing = session.scalars(select(Decision).where(Decision.request_id == request_id)).first()
    if existing is not None:
        if (existing.outcome, existing.reason) == (outcome, reason):
            return existing
        raise Conflict(f"request {request.reference} already has a decision ({existing.outcome})",
                       code=DECISION_EXISTS, params={"reference": request.reference, "outcome": existing.outcome})
    decision = Decision(request_id=request.id, outcome=outcome, reason=reason, committee_members=members,
                        decided_at=now or engine.clock.now(), recorded_by=actor.name)
    session.add(decision)
    request.status = outcome
    session.flush()
    return decision
