"""Due work as the CLI lists it: jobs by due time, and incidents (jobs whose retries ran out)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from engine.actors import Actor
from engine.queries import list_incidents, list_jobs
from workflows.accounts import require_staff

if TYPE_CHECKING:
    from engine.context import CaseEngine


def jobs(engine: CaseEngine, session: Session, actor: Actor) -> list[dict[str, Any]]:
    """Pending, running and failed jobs, by due time.

    Raises:
        Forbidden: a member's account.
    """
    require_staff(actor)
    return list_jobs(engine, session)


def incidents(engine: CaseEngine, session: Session, actor: Actor) -> list[dict[str, Any]]:
    """Jobs whose retries ran out, with their last error.

    Raises:
        Forbidden: a member's account.
    """
    require_staff(actor)
    return list_incidents(engine, session)
