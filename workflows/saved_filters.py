"""Saved inbox views: a name and the inbox's query parameters, private or shared with a role."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from engine.errors import Forbidden, InvalidInput, NotFound
from workflows.accounts import ROLE_LANES
from workflows.models import SavedFilter

#: The inbox parameters a view keeps (the page number is not one of them).
FILTER_KEYS = ("q", "process", "lane", "sla", "assignee", "priority", "sort")


def save_filter(
    session: Session, owner: str, roles: list[str], now: datetime, name: str, query: Mapping[str, str],
    role: str = "",
) -> SavedFilter:
    """Save (or replace, by name) one of ``owner``'s views.

    Raises:
        InvalidInput: no name, a name too long, sharing with a role the owner does not hold.
    """
    name = (name or "").strip()
    if not name:
        raise InvalidInput("name: give the view a name")
    if len(name) > 100:
        raise InvalidInput("name: at most 100 characters")
    role = (role or "").strip()
    if role and (role not in ROLE_LANES or role not in roles):
        raise InvalidInput(f"role: {role!r} is not one of your roles; a view is shared only with your own")
    kept = {key: str(query[key])[:200] for key in FILTER_KEYS if str(query.get(key) or "").strip()}
    row = session.scalars(select(SavedFilter).where(SavedFilter.owner == owner, SavedFilter.name == name)).first()
    if row is None:
        row = SavedFilter(owner=owner, name=name, created_at=now)
        session.add(row)
    row.role, row.query = role or None, kept
    session.flush()
    return row


def visible_filters(session: Session, username: str, roles: list[str]) -> list[SavedFilter]:
    """The user's own views and those shared with one of their roles, by name."""
    shared = SavedFilter.role.in_(roles) if roles else False
    return list(session.scalars(select(SavedFilter).where(or_(SavedFilter.owner == username, shared))
                                .order_by(SavedFilter.name, SavedFilter.id)))


def delete_filter(session: Session, username: str, filter_id: int) -> None:
    """Delete one of the user's own views.

    Raises:
        NotFound: no such view. Forbidden: someone else's view.
    """
    row = session.get(SavedFilter, filter_id)
    if row is None:
        raise NotFound(f"saved view {filter_id} does not exist")
    if row.owner != username:
        raise Forbidden(f"only {row.owner}, who saved this view, can delete it")
    session.delete(row)
