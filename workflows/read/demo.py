"""Is this the demo's database? What tells demo data from real data.

Loading the demo writes a `MARKER` audit event; a database is the demo's only while every
account is one the demo creates and every member one of the demo's members (their national IDs
come from `demo_national_id`, a formula). A database loaded before the marker existed counts as
the demo's by that second check alone. Anything else (a user or a member added by hand or
imported) makes it real data, which ``tawasul demo --reset`` and ``jobs run-due --simulate``
refuse. Cases, contacts, documents and messages are not checked: each belongs to a member or is
handled by an account, which are.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from engine.models import AuditEvent
from workflows import identity
from workflows.models import Member, User

if TYPE_CHECKING:
    from engine.context import CaseEngine

#: The demo's staff accounts: user name, display name, roles (and the member's account, member1).
STAFF = [
    ("reception1", "موظف الاستقبال", ["reception"]),
    ("researcher1", "مسؤول البحث الاجتماعي", ["social_researcher"]),
    ("committee1", "عضو لجنة البحث", ["committee"]),
    # A second member of the committee: a review can be reassigned from one to the other.
    ("committee2", "عضوة لجنة البحث", ["committee"]),
    ("delivery1", "موظف تقديم الخدمة", ["service_delivery"]),
    ("supervisor1", "المشرف", ["supervisor"]),
    ("owner1", "مالك العمليات", ["process_owner"]),
    ("admin1", "مدير النظام", ["administrator", "supervisor"]),
]

#: The audit action that marks a database as loaded with the demo.
MARKER = "demo_loaded"
MEMBER_COUNT = 50


def demo_national_id(number: int) -> str:
    """The national ID of the demo's member ``number`` (0-based)."""
    return identity.with_check_digit(("1" if number % 5 else "2") + f"{10000000 + number * 7919:08d}")


def demo_usernames() -> list[str]:
    """Every account the demo creates."""
    return [username for username, _, _ in STAFF] + ["member1"]


def demo_state(engine: CaseEngine, session: Any) -> dict[str, Any]:
    """What the database holds: ``{"state": "empty" | "demo" | "other", ...}``.

    "demo" carries ``loaded_at`` (None for a demo loaded before the marker existed); "other" carries
    ``reasons``: what in it is not the demo's, named, so a refusal can say why.
    """
    users = list(session.scalars(select(User.username).order_by(User.username)))
    national_ids = list(session.scalars(select(Member.national_id).order_by(Member.national_id)))
    if not users and not national_ids:
        return {"state": "empty"}
    reasons = []
    strangers = [u for u in users if u not in set(demo_usernames())]
    if strangers:
        reasons.append(f"{len(strangers)} account(s) the demo did not create ({_some(strangers)})")
    demo_ids = {demo_national_id(n) for n in range(MEMBER_COUNT)}
    outsiders = [n for n in national_ids if n not in demo_ids]
    if outsiders:
        reasons.append(f"{len(outsiders)} member(s) not from the demo (national IDs {_some(outsiders)})")
    if reasons:
        return {"state": "other", "reasons": reasons}
    loaded_at = session.scalar(select(func.max(AuditEvent.at)).where(AuditEvent.action == MARKER))
    return {"state": "demo", "loaded_at": loaded_at}


def _some(names: list[str]) -> str:
    return ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")


