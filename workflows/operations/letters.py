"""Letters: reception marks a printed letter sent; the outbox row closes and the contact is recorded."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import update
from sqlalchemy.orm import Session

from engine import audit
from engine.actors import Actor
from engine.errors import Conflict, error_code
from engine.models import OutboxMessage
from workflows.operations.members import log_contact
from workflows.read.letters import PRINTABLE, SENT, Letter, letter

if TYPE_CHECKING:
    from engine.context import CaseEngine


#: The code of the `Conflict` raised for a letter marked sent already.
ALREADY_SENT = error_code("letter_already_sent", "letter", "status", "at")


def mark_letter_sent(engine: CaseEngine, session: Session, actor: Actor, message_id: int) -> Letter:
    """Mark a printed letter as posted: its outbox row is sent, and the letter is a contact (P11).

    Raises:
        Forbidden: the actor does not print letters. NotFound: no such message.
        InvalidInput: the message is not a letter. Conflict: it was marked sent already.
    """
    printed = letter(engine, session, actor, message_id)
    if printed.status != PRINTABLE:
        when = printed.sent_at.isoformat(timespec="seconds") if printed.sent_at else "before"
        raise Conflict(f"letter {message_id} was already marked {printed.status} ({when})", code=ALREADY_SENT,
                       params={"letter": message_id, "status": printed.status, "at": printed.sent_at})
    now = engine.clock.now()
    # Conditional, so two people marking the same letter at once cannot both record it.
    marked = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.status == PRINTABLE)
        .values(status=SENT, sent_at=now)
        .execution_options(synchronize_session=False)
    )
    if marked.rowcount != 1:
        raise Conflict(f"letter {message_id} was already marked sent", code=ALREADY_SENT,
                       params={"letter": message_id, "status": "sent"})
    if printed.member_id is not None:
        log_contact(engine, session, actor, printed.member_id, "letter", "outbound",
                    f"{printed.subject} — {printed.reference}" if printed.reference else printed.subject,
                    request_id=printed.request_id)
    audit.record(session, now, actor, "letter_sent", printed.instance_id,
                 summary={"message_id": message_id, "kind": printed.kind})
    session.flush()
    printed.status, printed.sent_at = SENT, now
    return printed
