"""The member-services domain's tables: members, contacts, requests, documents, decisions, ...

Dates of things that happen are aware UTC datetimes (``*_at``); calendar days are ``date``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base

#: The five channels of the policy (P11).
CHANNELS = ("in_person", "phone", "social_media", "letter", "website")


class User(Base):
    """A person who signs in: staff (with roles) or a member (linked to their member record)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    #: argon2 hash.
    password_hash: Mapped[str] = mapped_column(String(200))
    #: Role names (reception, social_researcher, committee, service_delivery, supervisor,
    #: process_owner, administrator); a member has none.
    roles: Mapped[list[str]] = mapped_column(default=list)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    language: Mapped[str] = mapped_column(String(5), default="ar")
    created_at: Mapped[datetime]
    #: Counted up when the user signs out, their password changes or their account stops: a
    #: session keeps the number it was signed in with, and one with an older number has ended.
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class Member(Base):
    """A member (or applicant) of the society."""

    __tablename__ = "members"
    __table_args__ = (Index("ix_members_search", "search_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Saudi national ID or iqama: 10 digits, first 1 or 2, Luhn check digit.
    national_id: Mapped[str] = mapped_column(String(10), unique=True)
    name_ar: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str | None] = mapped_column(String(200))
    #: E.164, e.g. +966501234567.
    mobile: Mapped[str | None] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(320))
    membership_no: Mapped[str | None] = mapped_column(String(30), unique=True)
    #: applicant, active, suspended, ended.
    status: Mapped[str] = mapped_column(String(20), default="applicant")
    joined_on: Mapped[date | None] = mapped_column(Date)
    language: Mapped[str] = mapped_column(String(5), default="ar")
    #: Arabic and English names normalised for search (no tashkeel, one alef, ...).
    search_name: Mapped[str] = mapped_column(String(400))
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(100))


class ServiceRequest(Base):
    """A member's request (a case), linked to the process instance that runs it."""

    __tablename__ = "service_requests"
    __table_args__ = (Index("ix_service_requests_member_id", "member_id"),
                      Index("ix_service_requests_instance_id", "instance_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Readable reference, e.g. REQ-2026-000123.
    reference: Mapped[str] = mapped_column(String(30), unique=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    service_type: Mapped[str] = mapped_column(String(60))
    #: The channel it came through (one of `CHANNELS`).
    channel: Mapped[str] = mapped_column(String(20))
    summary: Mapped[str] = mapped_column(Text, default="")
    #: What the member is told: received, checking, referred, with_committee, accepted,
    #: rejected, registered, delivered, answered, closed, cancelled.
    status: Mapped[str] = mapped_column(String(30), default="received")
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instances.id"))
    opened_at: Mapped[datetime]
    opened_by: Mapped[str] = mapped_column(String(100))
    closed_at: Mapped[datetime | None]
    #: The day the committee's answer is promised by (P16), set once when the request is submitted
    #: complete (`workflows.promises`); None before that, and for cases that promise no answer.
    answer_promised_on: Mapped[date | None]
    #: The day the committee's working days are counted from (the day the request was submitted
    #: complete); with the pauses (`RequestPause`) it is all `workflows.promises.reckon_promise`
    #: needs to count the promise again on the current calendar and rules.
    answer_counted_from: Mapped[date | None]


class RequestPause(Base):
    """A time the promise's clock stood still because the case waited on the member (issue 12).

    Open while ``ended_at`` is None; a request has at most one open pause. Its length in working
    days is counted on the calendar of the day it is reckoned, never stored, so a later change of
    the calendar recounts it.
    """

    __tablename__ = "request_pauses"
    __table_args__ = (Index("ix_request_pauses_request_id", "request_id"),
                      Index("ix_request_pauses_open", "ended_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("service_requests.id"))
    #: Why the case waits: ``more_info`` (the committee asked the member for more information).
    reason: Mapped[str] = mapped_column(String(30))
    started_at: Mapped[datetime]
    started_by: Mapped[str] = mapped_column(String(100))
    ended_at: Mapped[datetime | None]
    ended_by: Mapped[str | None] = mapped_column(String(100))


class Contact(Base):
    """A contact with a member on any channel (P4, P11), possibly about a request."""

    __tablename__ = "contacts"
    __table_args__ = (Index("ix_contacts_member_id_at", "member_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    request_id: Mapped[int | None] = mapped_column(ForeignKey("service_requests.id"))
    channel: Mapped[str] = mapped_column(String(20))
    #: inbound (the member reached us) or outbound (we reached the member).
    direction: Mapped[str] = mapped_column(String(10))
    summary: Mapped[str] = mapped_column(Text)
    staff: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime]


class RequestDocument(Base):
    """One item of a request's checklist (P13): received, verified (by whom, when) or missing."""

    __tablename__ = "request_documents"
    __table_args__ = (UniqueConstraint("request_id", "kind", name="uq_request_documents_request_kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("service_requests.id"))
    kind: Mapped[str] = mapped_column(String(60))
    required: Mapped[bool] = mapped_column(Boolean)
    #: missing, received, verified.
    state: Mapped[str] = mapped_column(String(20), default="missing")
    note: Mapped[str] = mapped_column(Text, default="")
    received_at: Mapped[datetime | None]
    verified_by: Mapped[str | None] = mapped_column(String(100))
    verified_at: Mapped[datetime | None]
    #: A stored file's name, only when the service type requires the file itself (PDPL).
    file_name: Mapped[str | None] = mapped_column(String(300))


class Acknowledgement(Base):
    """The applicant's acknowledgement that they answer for the correctness of their data (P15)."""

    __tablename__ = "acknowledgements"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("service_requests.id"), unique=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    #: The text shown to the applicant, and its version.
    text: Mapped[str] = mapped_column(Text)
    text_version: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(20))
    recorded_by: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime]


class Decision(Base):
    """The research committee's decision on a request (P16)."""

    __tablename__ = "decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("service_requests.id"), unique=True)
    #: accepted or rejected.
    outcome: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str] = mapped_column(Text)
    committee_members: Mapped[list[str]] = mapped_column(default=list)
    decided_at: Mapped[datetime]
    recorded_by: Mapped[str] = mapped_column(String(100))


class Survey(Base):
    """A satisfaction survey scheduled after a service (P6), answered by the member."""

    __tablename__ = "surveys"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("service_requests.id"), unique=True)
    due_at: Mapped[datetime]
    rating: Mapped[int | None] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime | None]


class TaskDraft(Base):
    """Form values saved for an open task without completing it; removed when the task ends."""

    __tablename__ = "task_drafts"

    task_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    data: Mapped[dict[str, Any]]
    saved_by: Mapped[str] = mapped_column(String(100))
    saved_at: Mapped[datetime]


class SavedFilter(Base):
    """A named inbox view (its query parameters), private to its owner or shared with a role."""

    __tablename__ = "saved_filters"
    __table_args__ = (UniqueConstraint("owner", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    owner: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(100))
    #: The role it is shared with; None: private.
    role: Mapped[str | None] = mapped_column(String(40))
    query: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


class Counter(Base):
    """A named sequence (request references per year, membership numbers)."""

    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[int] = mapped_column(Integer)


JsonDict = dict[str, Any]
