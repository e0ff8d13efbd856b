"""Members: register, correct, log a contact on any channel, import a file of them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from engine.actors import Actor
from engine.errors import NOT_A_CHOICE, REQUIRED, InvalidInput
from workflows import identity
from workflows.accounts import require_staff
from workflows.importer import ImportReport, check_rows
from workflows.members import DIRECTIONS, clean_member_fields, get_member, refuse_duplicates, several
from workflows.models import CHANNELS, Contact, Member

if TYPE_CHECKING:
    from engine.context import CaseEngine


def register_member(engine: CaseEngine, session: Session, actor: Actor, **fields: Any) -> Member:
    """Add a member (or applicant).

    Raises:
        InvalidInput: a field is missing or wrong (each one named).
        Conflict: the national ID or membership number is already registered.
    """
    require_staff(actor)
    missing = [InvalidInput(f"{name} is required", code=REQUIRED, params={"field": name})
               for name in ("national_id", "name_ar")
               if fields.get(name) is None or not str(fields.get(name)).strip()]
    try:
        clean = clean_member_fields(fields)
    except InvalidInput as exc:
        raise several([exc, *missing]) from None
    if missing:
        raise several(missing)
    refuse_duplicates(session, clean)
    member = Member(**{"status": "applicant", "language": "ar", **clean}, created_at=engine.clock.now(),
                    created_by=actor.name)
    member.search_name = identity.search_key(member.name_ar, member.name_en)
    session.add(member)
    session.flush()
    return member


def update_member(engine: CaseEngine, session: Session, actor: Actor, member_id: int, **fields: Any) -> Member:
    """Change a member's details (national ID included, with the same checks).

    Raises:
        InvalidInput: a field is wrong (each one named). Conflict: an ID or number taken.
        NotFound: no such member.
    """
    require_staff(actor)
    member = get_member(session, member_id)
    clean = clean_member_fields(fields)
    refuse_duplicates(session, clean, member.id)
    for name, value in clean.items():
        setattr(member, name, value)
    member.search_name = identity.search_key(member.name_ar, member.name_en)
    session.flush()
    return member


def log_contact(
    engine: CaseEngine,
    session: Session,
    actor: Actor,
    member_id: int,
    channel: str,
    direction: str,
    summary: str,
    request_id: int | None = None,
) -> Contact:
    """Record a contact with a member, whatever its channel (P4, P11).

    Raises:
        InvalidInput: unknown channel or direction, or an empty summary.
        NotFound: no such member.
    """
    require_staff(actor)
    get_member(session, member_id)
    if channel not in CHANNELS:
        raise InvalidInput(f"channel: {channel!r} is not one of {', '.join(CHANNELS)}", code=NOT_A_CHOICE,
                           params={"field": "channel", "value": channel, "allowed": list(CHANNELS)})
    if direction not in DIRECTIONS:
        raise InvalidInput(f"direction: {direction!r} is not one of {', '.join(DIRECTIONS)}", code=NOT_A_CHOICE,
                           params={"field": "direction", "value": direction, "allowed": list(DIRECTIONS)})
    summary = (summary or "").strip()
    if not summary:
        raise InvalidInput("summary: say what the contact was about", code=REQUIRED, params={"field": "summary"})
    contact = Contact(member_id=member_id, request_id=request_id, channel=channel, direction=direction,
                      summary=summary, staff=actor.name, at=engine.clock.now())
    session.add(contact)
    session.flush()
    return contact


def import_members(
    engine: CaseEngine,
    session: Session,
    actor: Actor,
    path: Path,
    skip_bad: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Check every row of ``path``, then import all of them, or (``skip_bad``) the good ones.

    A file with a bad row imports nothing unless ``skip_bad``; the report lists every bad row.

    Raises:
        InvalidInput: the file cannot be read at all.
    """
    require_staff(actor)
    report, good = check_rows(session, path, progress)
    if report.rejected and not skip_bad:
        return report  # all or nothing: nothing is written
    now = engine.clock.now()
    for clean in good:
        member = Member(**{"status": "active" if clean.get("membership_no") else "applicant", "language": "ar",
                           **clean}, created_at=now, created_by=actor.name)
        member.search_name = identity.search_key(member.name_ar, member.name_en)
        session.add(member)
    session.flush()
    report.imported = len(good)
    return report
