"""Members as staff see them: search, and a member's page (contacts on every channel, requests)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.actors import Actor
from workflows.accounts import require_staff
from workflows.catalogue import ServiceType
from workflows.domain import domain
from workflows.members import get_member, member_contacts, search_members
from workflows.models import Contact, Member, ServiceRequest

if TYPE_CHECKING:
    from engine.context import CaseEngine


@dataclass
class MemberPage:
    """A member with their contacts and requests, and the services a request can be opened for."""

    member: Member
    contacts: list[Contact]
    requests: list[ServiceRequest]
    services: list[ServiceType]


def find_members(engine: CaseEngine, session: Session, actor: Actor, text: str, limit: int = 50) -> list[Member]:
    """Members matching ``text`` by name (any spelling), national ID, membership number or mobile.

    Raises:
        Forbidden: a member's account.
    """
    require_staff(actor)
    return search_members(session, text, limit)


def member_page(engine: CaseEngine, session: Session, actor: Actor, member_id: int) -> MemberPage:
    """A member's page.

    Raises:
        Forbidden: a member's account. NotFound: no such member.
    """
    require_staff(actor)
    member = get_member(session, member_id)
    requests = list(session.scalars(select(ServiceRequest).where(ServiceRequest.member_id == member_id)
                                    .order_by(ServiceRequest.opened_at.desc())))
    return MemberPage(member, member_contacts(session, member_id), requests,
                      list(domain(engine).catalogue.services.values()))
