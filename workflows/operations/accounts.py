"""People who sign in: add one, change their roles or password, remember their language."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.actors import Actor
from engine.errors import NO_SUCH, NOT_A_CHOICE, TOO_LONG, Conflict, InvalidInput, NotFound, error_code
from workflows.accounts import check_roles, end_sessions, hash_password, require_role
from workflows.models import User

if TYPE_CHECKING:
    from engine.context import CaseEngine

LANGUAGES = ("ar", "en")

#: A user name with characters other than letters, digits, '.' and '_'; one already taken (``username``).
USERNAME_CHARACTERS = error_code("username_characters")
USERNAME_TAKEN = error_code("username_taken", "username")
#: An administrator removing their own administrator role, or stopping their own account.
OWN_ADMINISTRATOR_ROLE = error_code("own_administrator_role")
OWN_ACCOUNT_STOPPED = error_code("own_account_stopped")


def create_user(
    engine: CaseEngine,
    session: Session,
    actor: Actor,
    username: str,
    password: str,
    display_name: str,
    roles: list[str] | None = None,
    email: str | None = None,
    member_id: int | None = None,
    language: str = "ar",
) -> User:
    """Add a user with an argon2 password hash; administrators only.

    Raises:
        Forbidden: the actor is not an administrator.
        InvalidInput: an empty name, a short password, an unknown role or language.
        Conflict: the user name is taken.
    """
    require_role(actor, "administrator")
    username = (username or "").strip()
    if not username or not username.replace("_", "").replace(".", "").isalnum():
        raise InvalidInput("username: letters, digits, '.' and '_' only", code=USERNAME_CHARACTERS)
    display_name = (display_name or "").strip() or username
    email = (email or "").strip() or None
    for field, value in (("username", username), ("display_name", display_name), ("email", email)):
        _fits(field, value)
    password_hash = hash_password(password)
    roles = check_roles(list(roles or []))
    if language not in LANGUAGES:
        raise InvalidInput(f"language: {language!r} is not one of {', '.join(LANGUAGES)}", code=NOT_A_CHOICE,
                           params={"field": "language", "value": language, "allowed": list(LANGUAGES)})
    if session.scalars(select(User).where(User.username == username)).first() is not None:
        raise Conflict(f"username {username!r} is taken", code=USERNAME_TAKEN, params={"username": username})
    user = User(username=username, display_name=display_name, email=email, password_hash=password_hash,
                roles=roles, member_id=member_id, is_active=True, language=language, created_at=engine.clock.now())
    session.add(user)
    session.flush()
    return user


def _fits(field: str, value: str | None) -> None:
    """Refuse a value longer than its column keeps (the column's length is the one rule)."""
    longest = User.__table__.c[field].type.length
    if value is not None and longest is not None and len(value) > longest:
        raise InvalidInput(f"{field}: at most {longest} characters (this one has {len(value)})", code=TOO_LONG,
                           params={"field": field, "limit": longest})


def update_user(
    engine: CaseEngine,
    session: Session,
    actor: Actor,
    user_id: int,
    roles: list[str] | None = None,
    is_active: bool | None = None,
    password: str | None = None,
) -> User:
    """Change a user's roles, whether they may sign in, or their password; administrators only.

    A new password or a stopped account ends every session of the user (`end_sessions`).
    An administrator cannot take away their own administrator role, nor stop their own account.

    Raises:
        Forbidden: the actor is not an administrator.
        NotFound: no such user.
        InvalidInput: an unknown role, a short password, or locking oneself out.
    """
    require_role(actor, "administrator")
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user {user_id}", code=NO_SUCH, params={"what": "user", "ident": user_id})
    if user.username == actor.name and roles is not None and "administrator" not in roles:
        raise InvalidInput("roles: you cannot remove your own administrator role", code=OWN_ADMINISTRATOR_ROLE)
    if user.username == actor.name and is_active is False:
        raise InvalidInput("is_active: you cannot stop your own account", code=OWN_ACCOUNT_STOPPED)
    if roles is not None:
        user.roles = check_roles(list(roles))
    if is_active is not None:
        user.is_active = is_active
    if password:
        user.password_hash = hash_password(password)
    if password or is_active is False:
        end_sessions(user)
    session.flush()
    return user


def sign_out(engine: CaseEngine, session: Session, actor: Actor) -> None:
    """Sign the actor out: the session cookie they hold, and any copy of it, no longer signs in."""
    user = session.scalars(select(User).where(User.username == actor.name)).first()
    if user is not None:
        end_sessions(user)
        session.flush()


def set_language(engine: CaseEngine, session: Session, actor: Actor, language: str) -> None:
    """Remember the language the signed-in user chose, for their next visit.

    Raises:
        InvalidInput: not one of the languages of the pages.
    """
    if language not in LANGUAGES:
        raise InvalidInput(f"language: {language!r} is not one of {', '.join(LANGUAGES)}", code=NOT_A_CHOICE,
                           params={"field": "language", "value": language, "allowed": list(LANGUAGES)})
    user = session.scalars(select(User).where(User.username == actor.name)).first()
    if user is not None and user.language != language:
        user.language = language
        session.flush()
