"""People who sign in: staff with roles (which grant BPMN lanes) and members.

Lanes are resolved from roles when they are needed (an inbox query, a command), never copied
into tasks, so a new member of a team sees its open work at once.
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Iterable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.actors import Actor
from engine.errors import NOT_ALLOWED, Forbidden, InvalidInput, error_code
from workflows.models import User

#: A password shorter than ``minimum`` characters.
PASSWORD_SHORT = error_code("password_short", "minimum")
#: Roles (``unknown``) that are not among ``known``.
UNKNOWN_ROLES = error_code("unknown_roles", "unknown", "known")

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
#: Roles that assign, and that see every lane's open work (read-only until claimed or assigned).
ASSIGNING_ROLES = frozenset({"supervisor", "administrator"})

_hasher = PasswordHasher()


def lanes_of(roles: list[str]) -> frozenset[str]:
    """The lanes the roles grant."""
    return frozenset(lane for role in roles for lane in ROLE_LANES.get(role, ()))


def supervises(roles: Iterable[str]) -> bool:
    """Whether ``roles`` make a supervisor: one who assigns and oversees every lane's open work."""
    return bool(ASSIGNING_ROLES & set(roles))


def actor_for(user: User) -> Actor:
    """The engine actor a user acts as; supervisors and administrators assign and oversee every lane."""
    supervising = supervises(user.roles)
    return Actor.user(user.username, lanes_of(user.roles), may_assign=supervising, roles=user.roles,
                      oversees_all=supervising)


def hash_password(password: str) -> str:
    """The argon2 hash of ``password``.

    Raises:
        InvalidInput: the password is shorter than 8 characters.
    """
    if len(password or "") < 8:
        raise InvalidInput("password: at least 8 characters", code=PASSWORD_SHORT, params={"minimum": 8})
    return _hasher.hash(password)


def check_roles(roles: list[str]) -> list[str]:
    """``roles`` if every one is known.

    Raises:
        InvalidInput: naming the unknown roles and the known ones.
    """
    unknown = [role for role in roles if role not in ROLE_LANES]
    if unknown:
        raise InvalidInput(f"roles: unknown {unknown}; choose from {', '.join(ROLE_LANES)}", code=UNKNOWN_ROLES,
                           params={"unknown": unknown, "known": list(ROLE_LANES)})
    return list(roles)


def is_staff(actor: Actor) -> bool:
    """True for staff (a lane or a role of their own) and the system user; False for a member."""
    return actor.all_lanes or bool(actor.lanes or actor.roles)


def require_staff(actor: Actor) -> None:
    """Refuse with `Forbidden` what only staff may do (a member's own account may not)."""
    if not is_staff(actor):
        raise Forbidden(f"{actor.name} is not staff; only the society's staff may do this", code=NOT_ALLOWED,
                        params={"action": "staff", "actor": actor.name})


def require_role(actor: Actor, *roles: str) -> None:
    """Refuse with `Forbidden` unless ``actor`` has one of ``roles``."""
    if not actor.has_role(*roles):
        raise Forbidden(f"{actor.name} may not do this; it needs the role {' or '.join(roles)}", code=NOT_ALLOWED,
                        params={"action": "role", "actor": actor.name, "roles": list(roles)})


def check_password(user: User, password: str) -> bool:
    """True when ``password`` is the user's (argon2, constant time)."""
    return _verify(user.password_hash, password)


def may_sign_in(user: User | None, password: str) -> bool:
    """True when ``user`` exists, may sign in and ``password`` is theirs.

    An unknown or stopped account costs the same argon2 work as a real one (a made-up hash is
    checked), so the time of an answer does not tell which user names exist.
    """
    if user is None or not user.is_active:
        _verify(_dummy_hash(), password)
        return False
    return check_password(user, password)


@functools.cache
def _dummy_hash() -> str:
    """The hash of a password nobody knows, made with the same parameters as real ones."""
    return _hasher.hash(secrets.token_urlsafe(32))


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def users_with_lane(session: Session, lane: str, active: list[User] | None = None) -> list[User]:
    """Active users whose roles grant ``lane`` (among ``active``, the active users read once, when given)."""
    roles = {role for role, lanes in ROLE_LANES.items() if lane in lanes}
    if active is None:
        active = list(session.scalars(select(User).where(User.is_active.is_(True))))
    return [u for u in active if roles & set(u.roles)]


def end_sessions(user: User) -> None:
    """End every session ``user`` is signed in with, on every device: their session epoch moves on.

    A session remembers the epoch it was signed in with; the sign-in check refuses an older one.
    """
    user.session_epoch = (user.session_epoch or 0) + 1
