"""Moving running cases to another version of their process: one case, a batch, a revert.

Process owners and administrators only. Each case moves in its own transaction (`run_batch`
opens one unit of work per case through ``engine.run``): a case that cannot move, or that
someone changed meanwhile, is left as it was and listed with the reason; the others move.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from engine.actors import Actor
from engine.errors import EngineError
from engine.migration import TimerChoices, check_timer_choices, move_instance, revert_instance
from workflows.accounts import require_role
from workflows.read.migration import plan_cases

if TYPE_CHECKING:
    from engine.context import CaseEngine

OWNERS = ("process_owner", "administrator")

#: Called after each case of a batch with (cases done, cases in all).
Progress = Callable[[int, int], None]


def migrate_instance(
    engine: CaseEngine,
    session: Session,
    actor: Actor,
    instance_id: int,
    key: str,
    from_version: int,
    to_version: int,
    mapping: Mapping[str, str] | None = None,
    timers: TimerChoices = None,
) -> dict[str, Any]:
    """Move one case (`engine.migration.move_instance`), in the caller's transaction.

    Raises:
        Forbidden: only process owners and administrators move cases.
        MigrationBlocked: the case cannot move (each reason named). Conflict: it changed meanwhile.
    """
    require_role(actor, *OWNERS)
    return move_instance(engine, session, actor, instance_id, key, from_version, to_version, mapping, timers)


def revert_migration(engine: CaseEngine, session: Session, actor: Actor, instance_id: int) -> dict[str, Any]:
    """Move a case back to the version it was on before its last move (`engine.migration.revert_instance`).

    Raises:
        Forbidden: only process owners and administrators.
        NotFound: no move to revert. Conflict: too late, or the case changed since its move.
    """
    require_role(actor, *OWNERS)
    return revert_instance(engine, session, actor, instance_id)


def run_batch(
    engine: CaseEngine,
    actor: Actor,
    key: str,
    from_version: int,
    to_version: int,
    instance_ids: Iterable[int] | None = None,
    timers: TimerChoices = None,
    mapping: Mapping[str, str] | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Move every case of ``key`` version ``from_version`` that can move (or those named), one transaction each.

    Returns ``{"moved": [ids], "blocked": [{"instance_id", "reason", "problems"}]}``: a blocked
    case, or one whose move failed (someone changed it meanwhile), is left on its version.

    Raises:
        Forbidden: only process owners and administrators. NotFound: no such process or version.
        InvalidInput: a timer choice that is neither keep nor recompute.
    """
    timers = check_timer_choices(timers)
    wanted = None if instance_ids is None else sorted({int(i) for i in instance_ids})
    planned = engine.query(plan_cases, actor, key, from_version, to_version, mapping, timers, wanted)
    movable, blocked = planned["movable"], planned["blocked"]
    moved: list[int] = []
    for done, instance_id in enumerate(movable, start=1):
        try:
            engine.run(migrate_instance, actor, instance_id, key, from_version, to_version, mapping, timers)
            moved.append(instance_id)
        except EngineError as exc:
            problems = getattr(exc, "problems", None)
            blocked.append({"instance_id": instance_id, "reason": exc.message,
                            "problems": [p.as_dict() for p in problems] if problems else
                            [{"code": exc.code, "message": exc.message, "params": exc.params}]})
        if progress is not None:
            progress(done, len(movable))
    blocked.sort(key=lambda entry: entry["instance_id"])
    return {"moved": moved, "blocked": blocked}


def run_next_batch(
    engine: CaseEngine,
    actor: Actor,
    key: str,
    from_version: int,
    to_version: int,
    timers: TimerChoices = None,
    mapping: Mapping[str, str] | None = None,
    size: int = 20,
    skip: Iterable[int] = (),
) -> dict[str, Any]:
    """Move the next ``size`` cases that can move (leaving out ``skip``: those that failed before).

    Returns ``{"moved", "blocked", "remaining"}``: what this batch moved, what failed in it (with
    the reasons), and how many cases that can move are left after it. The page calls it until
    nothing remains, showing the progress.
    """
    timers = check_timer_choices(timers)
    left_out = {int(i) for i in skip}
    planned = engine.query(plan_cases, actor, key, from_version, to_version, mapping, timers)
    movable = [ident for ident in planned["movable"] if ident not in left_out]
    batch = movable[:max(1, int(size))]
    done = run_batch(engine, actor, key, from_version, to_version, batch, timers, mapping) if batch else {
        "moved": [], "blocked": []}
    return {**done, "remaining": len(movable) - len(batch)}
