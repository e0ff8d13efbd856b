"""The dry run of a migration: running cases grouped by where they are, and what stops each group."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.actors import Actor
from engine.definitions import find_definition
from engine.migration import WRONG_VERSION, TimerChoices, plan, version_elements
from engine.models import ProcessDefinition, ProcessInstance
from engine.spiff import Problem
from workflows.accounts import require_role

if TYPE_CHECKING:
    from engine.context import CaseEngine

#: What a group of cases can do: all move; some need a mapping or a timer choice; some cannot move.
CAN_MOVE, NEEDS_MAPPING, BLOCKED = "can_move", "needs_mapping", "blocked"
_TIMER_CHOICE = "migration_timer_choice"


def versions(engine: CaseEngine, session: Session, actor: Actor, key: str) -> list[dict[str, Any]]:
    """The versions of ``key``, each with its running cases (process owners and administrators)."""
    require_role(actor, "process_owner", "administrator")
    running = dict(session.execute(
        select(ProcessInstance.definition_id, func.count()).where(ProcessInstance.status.in_(("running", "error")))
        .group_by(ProcessInstance.definition_id)).all())
    return [{"version": d.version, "deployed_at": d.deployed_at, "deployed_by": d.deployed_by, "note": d.note,
             "running": running.get(d.id, 0)}
            for d in session.scalars(select(ProcessDefinition).where(ProcessDefinition.key == key)
                                     .order_by(ProcessDefinition.version))]


def plan_cases(
    engine: CaseEngine,
    session: Session,
    actor: Actor,
    key: str,
    from_version: int,
    to_version: int,
    mapping: Mapping[str, str] | None = None,
    timers: TimerChoices = None,
    instance_ids: list[int] | None = None,
) -> dict[str, Any]:
    """The movable cases of ``from_version`` (or of those named) and the blocked ones with the reasons.

    Returns ``{"movable": [ids], "blocked": [{"instance_id", "reason", "problems"}]}``; a case named
    that is not a running case of the version is blocked, saying so.

    Raises:
        Forbidden: only process owners and administrators. NotFound: no such process or version.
    """
    require_role(actor, "process_owner", "administrator")
    found = plan(engine, session, key, from_version, to_version, mapping, timers, instance_ids)
    blocked = [case.blocked_dict() for case in found.blocked]
    if instance_ids is not None:
        listed = {case.instance_id for case in found.cases}
        for ident in instance_ids:
            if ident not in listed:
                reason = f"instance {ident} is not a running case of {key!r} version {from_version}"
                blocked.append({"instance_id": ident, "reason": reason, "problems": [
                    {"code": WRONG_VERSION, "message": reason,
                     "params": {"instance": ident, "version": None, "expected": from_version}}]})
    return {"movable": found.movable, "blocked": sorted(blocked, key=lambda entry: entry["instance_id"])}


def _status(problems: list[Problem]) -> str:
    if not problems:
        return CAN_MOVE
    if all(p.mappable or p.code == _TIMER_CHOICE for p in problems):
        return NEEDS_MAPPING
    return BLOCKED


def dry_run(
    engine: CaseEngine,
    session: Session,
    actor: Actor,
    key: str,
    from_version: int,
    to_version: int,
    mapping: Mapping[str, str] | None = None,
    timers: TimerChoices = None,
) -> dict[str, Any]:
    """The running cases of ``from_version`` grouped by their set of active elements.

    Each group: its active elements, how many cases, their ids, its status (``can_move`` when
    every case can; ``blocked`` when one cannot, whatever is mapped; else ``needs_mapping``),
    the reasons (each a code, params and English message, with how many cases it stops), the
    elements a mapping would let through (with SpiffWorkflow's guess of the new id), and the
    elements of waiting timers.

    Raises:
        Forbidden: only process owners and administrators. NotFound: no such process or version.
        InvalidInput: the same version twice, or a timer choice that is neither keep nor recompute.
    """
    require_role(actor, "process_owner", "administrator")
    found = plan(engine, session, key, from_version, to_version, mapping, timers)
    groups: dict[tuple[str, ...], dict[str, Any]] = {}
    order = {CAN_MOVE: 0, NEEDS_MAPPING: 1, BLOCKED: 2}
    for case in found.cases:
        group = groups.setdefault(tuple(case.active), {
            "active": list(case.active), "count": 0, "instance_ids": [], "status": CAN_MOVE,
            "counts": {CAN_MOVE: 0, NEEDS_MAPPING: 0, BLOCKED: 0}, "reasons": [], "needs_mapping": {},
            "timers": []})
        status = _status(case.problems)
        group["count"] += 1
        group["instance_ids"].append(case.instance_id)
        group["counts"][status] += 1
        if order[status] > order[group["status"]]:
            group["status"] = status
        for problem in case.problems:
            entry = next((r for r in group["reasons"] if r["code"] == problem.code and r["params"] == problem.params),
                         None)
            if entry is None:
                group["reasons"].append(dict(problem.as_dict(), cases=1))
            else:
                entry["cases"] += 1
        for element, guess in case.needs_mapping.items():
            group["needs_mapping"].setdefault(element, guess)
        group["timers"] = sorted(set(group["timers"]) | set(case.timers))
    return {
        "key": key, "from_version": found.from_version, "to_version": found.to_version,
        "changes": [{"element_id": c.element_id, "type": c.type, "status": c.status, "new_id": c.new_id,
                     "attributes": list(c.attributes), "mapped": c.mapped} for c in found.changes],
        "added": found.added,
        "groups": sorted(groups.values(), key=lambda g: (order[g["status"]], g["active"])),
        "movable": found.movable,
        "total": len(found.cases),
    }


def migration_page(
    engine: CaseEngine,
    session: Session,
    actor: Actor,
    key: str,
    from_version: int | None = None,
    to_version: int | None = None,
    mapping: Mapping[str, str] | None = None,
    timers: TimerChoices = None,
) -> dict[str, Any]:
    """What the migration page shows: the versions, the chosen pair, and its dry run.

    Without a choice the pair is the oldest version with running cases and the newest version.
    For each element a group needs mapped, the elements of the new version of the same type it
    may be mapped to (id, name).

    Raises:
        Forbidden: only process owners and administrators. NotFound: no such process.
    """
    found = versions(engine, session, actor, key)
    if not found:
        find_definition(session, key)  # raises NotFound naming the process
    numbers = [v["version"] for v in found]
    newest = numbers[-1]
    with_cases = [v["version"] for v in found if v["running"] and v["version"] != newest]
    chosen_from = from_version if from_version in numbers else (with_cases[0] if with_cases else newest)
    chosen_to = to_version if to_version in numbers else newest
    page: dict[str, Any] = {"key": key, "versions": found, "from_version": chosen_from, "to_version": chosen_to,
                            "mapping": dict(mapping or {}), "timers": timers, "dry_run": None, "choices": {},
                            "names": {},
                            # Versions asked for that the process does not have (the page says so).
                            "missing": [v for v in (from_version, to_version) if v is not None and v not in numbers]}
    if chosen_from == chosen_to:
        return page
    run = dry_run(engine, session, actor, key, chosen_from, chosen_to, mapping, timers)
    old = version_elements(engine, session, key, chosen_from)
    new = version_elements(engine, session, key, chosen_to)
    wanted = {element for group in run["groups"] for element in group["needs_mapping"]} | set(mapping or {})
    page["choices"] = {
        element: [{"id": ident, "name": name} for ident, (kind, name) in sorted(new.items())
                  if kind == old.get(element, ("", ""))[0]]
        for element in sorted(wanted)
    }
    page["names"] = {ident: name for ident, (_, name) in {**new, **old}.items()}
    page["dry_run"] = run
    return page
