"""People who sign in: the users list for administrators, and the lookups of signing in."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.actors import Actor
from workflows.accounts import require_role
from workflows.models import User

if TYPE_CHECKING:
    from engine.context import CaseEngine


def users(engine: CaseEngine, session: Session, actor: Actor) -> list[User]:
    """Every user, by name; administrators only.

    Raises:
        Forbidden: the actor is not an administrator.
    """
    require_role(actor, "administrator")
    return list(session.scalars(select(User).order_by(User.username)))


def user_named(engine: CaseEngine, session: Session, username: str) -> User | None:
    """The user who signs in as ``username`` (before anyone is signed in)."""
    return session.scalars(select(User).where(User.username == username)).first()


def user_by_id(engine: CaseEngine, session: Session, user_id: int) -> User | None:
    """The user of a session, by id."""
    return session.get(User, user_id)
