"""What the visual diff of two versions of a process needs: their XML, and the cases at each element.

Both versions' XML and who deployed them, and per element the running cases waiting at it on each
version (the page marks the changes the browser finds with bpmn-js-differ, and says how many cases
each changed element holds).

"Waiting at an element" counts the cases with an open human task there (`engine.models.HumanTask`
of the version's instances), as the heat map counts its live tokens.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from engine.actors import Actor
from engine.errors import NO_DEFINITION, NotFound
from engine.models import HumanTask, ProcessDefinition, ProcessInstance
from workflows.accounts import require_role
from workflows.read.definitions import process_names

if TYPE_CHECKING:
    from engine.context import CaseEngine

OWNERS = ("process_owner", "administrator")
#: Instances in these states still run on their version (an instance in error waits for a retry).
LIVE = ("running", "error")


def _missing(key: str, version: int | None) -> NotFound:
    return NotFound(f"process {key!r} has no version {version}" if version else f"process {key!r} is not deployed",
                    code=NO_DEFINITION, params={"process": key, "version": version})


def version_diff(engine: CaseEngine, session: Session, actor: Actor, key: str, from_version: int | None = None,
                 to_version: int | None = None) -> dict[str, Any]:
    """Versions ``from_version`` and ``to_version`` of process ``key``, for comparing.

    ``to_version`` defaults to the latest, ``from_version`` to the one before it (the same one when
    there is only one). Returns the key, the process's names, every version number, each side
    (version, XML, deployed at/by, note, running cases) and ``waiting``: by element id, the running
    cases with an open task there on each side (``{"from": n, "to": m}``; elements with none are left out).

    Raises:
        Forbidden: not a process owner or administrator. NotFound: no such process or version.
    """
    require_role(actor, *OWNERS)
    rows = {row.version: row for row in session.scalars(
        select(ProcessDefinition).where(ProcessDefinition.key == key).order_by(ProcessDefinition.version))}
    if not rows:
        raise _missing(key, None)
    versions = sorted(rows)
    newer = versions[-1] if to_version is None else to_version
    if newer not in rows:
        raise _missing(key, newer)
    older = max((v for v in versions if v < newer), default=newer) if from_version is None else from_version
    if older not in rows:
        raise _missing(key, older)
    sides = {"from": rows[older], "to": rows[newer]}
    running = dict(session.execute(
        select(ProcessInstance.definition_id, func.count())
        .where(ProcessInstance.definition_id.in_([d.id for d in sides.values()]), ProcessInstance.status.in_(LIVE))
        .group_by(ProcessInstance.definition_id)).all())
    waiting: dict[str, dict[str, int]] = {}
    for side, definition in sides.items():
        for element, cases in session.execute(
                select(HumanTask.element_id, func.count(distinct(HumanTask.instance_id)))
                .join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
                .where(ProcessInstance.definition_id == definition.id, ProcessInstance.status.in_(LIVE))
                .group_by(HumanTask.element_id)):
            waiting.setdefault(element, {"from": 0, "to": 0})[side] = int(cases)
    names = process_names(engine, session).get(key, {"ar": key, "en": key})
    return {
        "key": key, "names": names, "versions": versions, "waiting": waiting,
        **{side: {"version": d.version, "xml": d.xml, "deployed_at": d.deployed_at, "deployed_by": d.deployed_by,
                  "note": d.note, "running": running.get(d.id, 0)} for side, d in sides.items()},
    }
