"""People who sign in: staff with roles (which grant BPMN lanes) and members.

Lanes are resolved from roles when they are needed (an inbox query, a command), never copied
into tasks, so a new member of a team sees its open work at once.
"""

from __future__ import annotations

from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.actors import Actor
from engine.errors import Conflict, InvalidInput
from workflows.models import User

#: Role → the lanes it works in. Supervisors also assign, reassign, cancel and retry.
ROLE_LANES: dict[str, tuple[str, ...]] = {
    "reception": ("reception",),
    "social_researcher": ("social_researcher",),
    "committee": ("committee",),
    "service_delivery": ("service_delivery",),
    "supervisor": ("supervisor",),
    "process_owner": (),
    "administrator": (),
}
ASSIGNING_ROLES = frozenset({"supervisor", "administrator"})

_hasher = PasswordHasher()


def lanes_of(roles: list[str]) -> frozenset[str]:
    """The lanes the roles grant."""
    return frozenset(lane for role in roles for lane in ROLE_LANES.get(role, ()))


def actor_for(user: User) -> Actor:
    """The engine actor a user acts as."""
    return Actor.user(user.username, lanes_of(user.roles), may_assign=bool(ASSIGNING_ROLES & set(user.roles)))


def create_user(
    session: Session,
    now: datetime,
    username: str,
    password: str,
    display_name: str,
    roles: list[str] | None = None,
    email: str | None = None,
    member_id: int | None = None,
    language: str = "ar",
) -> User:
    """Create a user with an argon2 password hash.

    Raises:
        InvalidInput: an empty name, a short password or an unknown role.
        Conflict: the user name is taken.
    """
    username = (username or "").strip()
    if not username or not username.replace("_", "").replace(".", "").isalnum():
        raise InvalidInput("username: letters, digits, '.' and '_' only")
    if len(password or "") < 8:
        raise InvalidInput("password: at least 8 characters")
    unknown = [role for role in roles or [] if role not in ROLE_LANES]
    if unknown:
        raise InvalidInput(f"roles: unknown {unknown}; choose from {', '.join(ROLE_LANES)}")
    if session.scalars(select(User).where(User.username == username)).first() is not None:
        raise Conflict(f"username {username!r} is taken")
    user = User(username=username, display_name=display_name or username, email=email,
                password_hash=_hasher.hash(password), roles=list(roles or []), member_id=member_id,
                is_active=True, language=language, created_at=now)
    session.add(user)
    session.flush()
    return user


def update_user(
    session: Session,
    user_id: int,
    roles: list[str] | None = None,
    is_active: bool | None = None,
    password: str | None = None,
) -> User:
    """Change a user's roles, whether they may sign in, or their password.

    Raises:
        NotFound: no such user.
        InvalidInput: an unknown role or a short password.
    """
    from engine.errors import NotFound

    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user {user_id}")
    if roles is not None:
        unknown = [role for role in roles if role not in ROLE_LANES]
        if unknown:
            raise InvalidInput(f"roles: unknown {unknown}; choose from {', '.join(ROLE_LANES)}")
        user.roles = list(roles)
    if is_active is not None:
        user.is_active = is_active
    if password:
        if len(password) < 8:
            raise InvalidInput("password: at least 8 characters")
        user.password_hash = _hasher.hash(password)
    session.flush()
    return user


def check_password(user: User, password: str) -> bool:
    """True when ``password`` is the user's (argon2, constant time)."""
    try:
        return _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def users_with_lane(session: Session, lane: str) -> list[User]:
    """Active users whose roles grant ``lane``."""
    roles = {role for role, lanes in ROLE_LANES.items() if lane in lanes}
    return [u for u in session.scalars(select(User).where(User.is_active.is_(True))) if roles & set(u.roles)]
