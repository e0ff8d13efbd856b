"""Saved inbox views: a name and the inbox's filters, private or shared with one of one's roles."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.actors import Actor
from engine.errors import NO_SUCH, REQUIRED, TOO_LONG, Forbidden, InvalidInput, NotFound, error_code
from workflows.accounts import ROLE_LANES, require_staff
from workflows.models import SavedFilter
from workflows.saved_filters import FILTER_KEYS

if TYPE_CHECKING:
    from engine.context import CaseEngine

#: Sharing a view with a role (``role``) the actor does not hold; deleting a view of ``owner``'s.
ROLE_NOT_HELD = error_code("role_not_held", "role")
NOT_VIEW_OWNER = error_code("not_view_owner", "owner")


def save_view(
    engine: CaseEngine, session: Session, actor: Actor, name: str, query: Mapping[str, str], role: str = ""
) -> SavedFilter:
    """Save (or replace, by name) one of the actor's views of the inbox.

    Raises:
        InvalidInput: no name, a name too long, sharing with a role the actor does not hold.
    """
    require_staff(actor)
    name = (name or "").strip()
    if not name:
        raise InvalidInput("name: give the view a name", code=REQUIRED, params={"field": "view_name"})
    if len(name) > 100:
        raise InvalidInput("name: at most 100 characters", code=TOO_LONG, params={"field": "view_name", "limit": 100})
    role = (role or "").strip()
    if role and (role not in ROLE_LANES or role not in actor.roles):
        raise InvalidInput(f"role: {role!r} is not one of your roles; a view is shared only with your own",
                           code=ROLE_NOT_HELD, params={"role": role})
    kept = {key: str(query[key])[:200] for key in FILTER_KEYS if str(query.get(key) or "").strip()}
    row = session.scalars(select(SavedFilter).where(SavedFilter.owner == actor.name, SavedFilter.name == name)).first()
    if row is None:
        row = SavedFilter(owner=actor.name, name=name, created_at=engine.clock.now())
        session.add(row)
    row.role, row.query = role or None, kept
    session.flush()
    return row


def delete_view(engine: CaseEngine, session: Session, actor: Actor, view_id: int) -> None:
    """Delete one of the actor's own views.

    Raises:
        NotFound: no such view. Forbidden: someone else's view.
    """
    row = session.get(SavedFilter, view_id)
    if row is None:
        raise NotFound(f"saved view {view_id} does not exist", code=NO_SUCH, params={"what": "view", "ident": view_id})
    if row.owner != actor.name:
        raise Forbidden(f"only {row.owner}, who saved this view, can delete it", code=NOT_VIEW_OWNER,
                        params={"owner": row.owner})
    session.delete(row)
    session.flush()
