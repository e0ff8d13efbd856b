"""Saved inbox views: what a view keeps, and which views a user may use."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from workflows.models import SavedFilter

#: The inbox parameters a view keeps (the page number is not one of them).
FILTER_KEYS = ("q", "process", "lane", "group", "sla", "assignee", "priority", "sort")


def visible_filters(session: Session, username: str, roles: list[str] | frozenset[str]) -> list[SavedFilter]:
    """The user's own views and those shared with one of their roles, by name."""
    roles = sorted(roles)
    shared = SavedFilter.role.in_(roles) if roles else False
    return list(session.scalars(select(SavedFilter).where(or_(SavedFilter.owner == username, shared))
                                .order_by(SavedFilter.name, SavedFilter.id)))
