"""Letters: reception marks a printed letter sent; the outbox row closes and the contact is recorded."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from engine import audit
from engine.actors import Actor
from engine.errors import Conflict
from engine.models import OutboxMessage
from workflows.operations.members import log_contact
from workflows.read.letters import PRINTABLE, SENT, Letter, letter

if TYPE_CHECKING:
    from engine.context import CaseEngine


def mark_letter_sent(engine: CaseEngine, session: Session, actor: Actor, message_id: int) -> Letter:
    """Mark a printed letter as posted: its outbox row is sent, and the letter is a contact (P11).

    Raises:
        Forbidden: the actor does not print letters. NotFound: no such message.
        InvalidInput: the message is not a letter. Conflict: it was marked sent already.
    """
    printed = letter(engine, session, actor, message_id)
    if printed.status != PRINTABLE:
        when = printed.sent_at.isoformat(timespec="seconds") if printed.sent_at else "before"
        raise Conflict(f"letter {message_id} was already marked {printed.status} ({when})")
    now = engine.clock.now()
    message = session.get(OutboxMessage, message_id)
    assert message is not None
    message.status, message.sent_at = SENT, now
    if printed.member_id is not None:
        log_contact(engine, session, actor, printed.member_id, "letter", "outbound",
                    f"{printed.subject} — {printed.reference}" if printed.reference else printed.subject,
                    request_id=printed.request_id)
    audit.record(session, now, actor, "letter_sent", printed.instance_id,
                 summary={"message_id": message_id, "kind": printed.kind})
    session.flush()
    printed.status, printed.sent_at = SENT, now
    return printed
