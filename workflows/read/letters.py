"""Letters waiting to be printed: messages to members on the ``letter`` channel, ready to print.

A member with neither a mobile nor an e-mail is written to; the outbox keeps such a message as
``printable`` until reception prints it, posts it and marks it sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.actors import Actor
from engine.errors import NO_SUCH, InvalidInput, NotFound, error_code
from engine.models import OutboxMessage
from workflows.accounts import require_role
from workflows.domain import domain
from workflows.models import Member, ServiceRequest
from workflows.notifications import render

#: An outbox message (``message``) that is not a printed letter.
NOT_A_LETTER = error_code("not_a_letter", "message")

if TYPE_CHECKING:
    from engine.context import CaseEngine

PRINTABLE, SENT = "printable", "sent"
#: Who prints and posts letters.
LETTER_ROLES = ("reception", "supervisor", "administrator")


@dataclass
class Letter:
    """One letter as it is printed."""

    id: int
    status: str
    kind: str
    language: str
    subject: str
    body: str
    addressee: str
    member_id: int | None
    reference: str
    request_id: int | None
    instance_id: int | None
    created_at: datetime
    sent_at: datetime | None
    society: str
    registration: str
    #: The day the committee's answer was promised by, when the letter is about a request that has one.
    promised_on: date | None = None

    @property
    def direction(self) -> str:
        """``rtl`` for an Arabic letter, ``ltr`` otherwise."""
        return "rtl" if self.language == "ar" else "ltr"


def is_letter(message: OutboxMessage) -> bool:
    """True when an outbox message goes by post."""
    return (message.payload or {}).get("channel") == "letter"


def letter_of(engine: CaseEngine, session: Session, message: OutboxMessage) -> Letter:
    """The printable letter of an outbox message on the letter channel."""
    payload = message.payload or {}
    language = payload.get("language") or "ar"
    values = dict(payload.get("values") or {})
    subject, body = render(message.kind, language, values)
    kind, _, ident = message.recipient.partition(":")
    member = session.get(Member, int(ident)) if kind == "member" and ident.isdigit() else None
    addressee = (member.name_ar if language == "ar" else member.name_en or member.name_ar) if member else ""
    reference = str(values.get("reference") or "")
    request = session.scalars(select(ServiceRequest).where(ServiceRequest.reference == reference)).first() \
        if reference else None
    society = domain(engine).society
    return Letter(id=message.id, status=message.status, kind=message.kind, language=language, subject=subject,
                  body=body, addressee=addressee, member_id=member.id if member else None, reference=reference,
                  request_id=request.id if request else None, instance_id=message.instance_id,
                  created_at=message.created_at, sent_at=message.sent_at, society=society.label(language),
                  registration=society.registered(language),
                  promised_on=request.answer_promised_on if request else None)


def letters_waiting(engine: CaseEngine, session: Session, actor: Actor) -> list[Letter]:
    """The letters waiting to be printed and posted, oldest first.

    Raises:
        Forbidden: the actor does not print letters (reception, supervisors, administrators).
    """
    require_role(actor, *LETTER_ROLES)
    messages = session.scalars(
        select(OutboxMessage).where(OutboxMessage.status == PRINTABLE).order_by(OutboxMessage.id)
    ).all()
    return [letter_of(engine, session, message) for message in messages if is_letter(message)]


def letter(engine: CaseEngine, session: Session, actor: Actor, message_id: int) -> Letter:
    """One letter, to print.

    Raises:
        Forbidden: the actor does not print letters.
        NotFound: no such message. InvalidInput: the message is not a letter.
    """
    require_role(actor, *LETTER_ROLES)
    message = session.get(OutboxMessage, message_id)
    if message is None:
        raise NotFound(f"no outbox message {message_id}", code=NO_SUCH, params={"what": "letter", "ident": message_id})
    if not is_letter(message):
        raise InvalidInput(f"outbox message {message_id} is a {(message.payload or {}).get('channel')} message, "
                           "not a letter", code=NOT_A_LETTER, params={"message": message_id})
    return letter_of(engine, session, message)
