"""Who may work on a task: the lane rule, once, in Python and in SQL.

A staff member may see and work on a task when it is assigned to them, when it belongs to a
lane they hold (or to the group it was offered to, after an escalation), or when it has no
lane. A supervisor (``Actor.oversees_all``) also sees every other lane's open tasks, read-only:
they may claim one (or assign it), and work on it once it is theirs. `may_work` is the rule for
working on one task in hand, `may_see` for seeing it; `team_visibility` and `visible_condition`
are the seeing rule as WHERE conditions for the inbox and every list of tasks. A test holds the
two forms against each other.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, or_

from engine.actors import Actor
from engine.errors import LANE_NOT_HELD, Forbidden
from engine.models import HumanTask


def may_work(actor: Actor, lane: str | None, candidate_group: str | None, assignee: str | None) -> bool:
    """True when ``actor`` may see and work on a task of ``lane`` offered to ``candidate_group``."""
    if assignee is not None and assignee == actor.name:
        return True
    return actor.holds(lane) or (candidate_group is not None and actor.holds(candidate_group))


def may_see(actor: Actor, lane: str | None, candidate_group: str | None, assignee: str | None) -> bool:
    """True when ``actor`` may see (and claim) the task: `may_work`, or a supervisor overseeing all lanes."""
    return actor.oversees_all or may_work(actor, lane, candidate_group, assignee)


def require_may_see(actor: Actor, task: Any) -> None:
    """Refuse with `Forbidden` unless `may_see` allows ``actor`` to see (or claim) ``task``."""
    if not may_see(actor, task.lane, task.candidate_group, task.assignee):
        _refuse(actor, task)


def require_may_work(actor: Actor, task: Any) -> None:
    """Refuse with `Forbidden` unless `may_work` allows ``actor`` on ``task``.

    ``task`` has ``name``, ``lane``, ``candidate_group`` and ``assignee`` (a projection row).
    """
    if not may_work(actor, task.lane, task.candidate_group, task.assignee):
        _refuse(actor, task)


def _refuse(actor: Actor, task: Any) -> None:
    held = ", ".join(sorted(actor.lanes)) or "none"
    raise Forbidden(f"task '{task.name}' belongs to lane '{task.lane}'; {actor.name} holds lanes: {held}",
                    code=LANE_NOT_HELD, params={"task": task.name, "lane": task.lane})


def team_visibility(actor: Actor) -> Any:
    """The WHERE condition of the tasks ``actor`` sees through their teams; None when they see all.

    Those are the tasks of their lanes (or candidate groups) and tasks with no lane. The same
    for everyone with the same lanes, so what is derived from it can be shared between them. A
    supervisor overseeing all lanes sees all, as the system user does.
    """
    if actor.all_lanes or actor.oversees_all:
        return None
    lanes = sorted(actor.lanes)
    return or_(HumanTask.lane.in_(lanes), HumanTask.candidate_group.in_(lanes), HumanTask.lane.is_(None))


def assigned_beyond_teams(actor: Actor) -> Any:
    """The WHERE condition of tasks assigned to ``actor`` that their teams do not see; None if none can be."""
    if actor.all_lanes or actor.oversees_all:
        return None
    lanes = sorted(actor.lanes)
    # Spelled out rather than NOT(team): a NULL candidate group must not make the row vanish.
    return and_(HumanTask.assignee == actor.name, HumanTask.lane.is_not(None), HumanTask.lane.not_in(lanes),
                or_(HumanTask.candidate_group.is_(None), HumanTask.candidate_group.not_in(lanes)))


def visible_condition(actor: Actor) -> Any:
    """The WHERE condition of every open task ``actor`` may see (`may_see` in SQL); None: all."""
    team = team_visibility(actor)
    return None if team is None else or_(team, HumanTask.assignee == actor.name)
