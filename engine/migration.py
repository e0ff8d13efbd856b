"""Moving running cases to another version of their process, and moving one back.

`plan` says, for each running case of a version, whether it can move to another one (the rules
are `engine.spiff.VersionDiff`'s: an element the case completed or is at must be there and do
the same, unless the owner maps it; every waiting timer needs a choice). `move_instance` moves
one case in the caller's transaction:

* the instance row is written with the revision check (a command that saved the case since it
  was loaded makes the move a `Conflict`, never a lost update), and points to the new version;
* open human tasks keep their ids, claim, assignee, deadlines and escalation level; a mapped
  element gives them its new id, name, lane and form. A task the new diagram no longer opens
  (none, under the rules) would close as ``migrated``;
* waiting timers keep their due time or have it recomputed (`engine.spiff.migration`); their
  job rows follow;
* one ``migrated`` audit event (from and to versions, mapping, timer choices);
* a `MigrationSnapshot` keeps the case as it was (state, definition, open tasks, jobs), so
  `revert_instance` can put it back within ``engine.migration_revert_days``, if nothing
  happened to the case since (its revision is still the one the move wrote).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from engine import audit, casestore, history
from engine.actors import Actor
from engine.casestore import ERROR, RUNNING
from engine.definitions import find_definition, process_for_definition_id, version_of
from engine.errors import (
    CASE_NOT_RUNNING,
    NOT_A_CHOICE,
    SEVERAL,
    Conflict,
    InvalidInput,
    NotFound,
    error_code,
)
from engine.job_rows import TIMER, announce_due
from engine.models import HumanTask, Job, MigrationSnapshot, ProcessInstance
from engine.settings import migration_revert_days
from engine.spiff import TIMER_CHOICES, ElementDiff, MigrationRefused, Problem, VersionDiff, elements_of

if TYPE_CHECKING:
    from engine.context import CaseEngine

#: The case is not on the version the move starts from (``instance``, ``version``, ``expected``).
WRONG_VERSION = error_code("migration_wrong_version", "instance", "version", "expected")
#: A move from a version to itself (``process``, ``version``).
SAME_VERSION = error_code("migration_same_version", "process", "version")
#: No move of the case to revert (``instance``).
NO_SNAPSHOT = error_code("migration_no_snapshot", "instance")
#: The move is older than the revert window (``instance``, ``days``).
REVERT_EXPIRED = error_code("migration_revert_expired", "instance", "days")
#: The case changed after its move: reverting would lose that (``instance``).
MOVED_ON = error_code("migration_moved_on", "instance")

_TASKS = HumanTask.__table__
_JOBS = Job.__table__
_INSTANCES = ProcessInstance.__table__
_TASK_COLUMNS = [c.name for c in _TASKS.c]
_JOB_COLUMNS = [c.name for c in _JOBS.c if c.name != "id"]
_TIMES = ("created_at", "due_at", "warn_at", "first_claimed_at", "lock_expires_at")

TimerChoices = str | Mapping[str, str] | None


@dataclass
class PlannedCase:
    """One running case in a plan: what it is at, and what stops it moving (nothing: it can)."""

    instance_id: int
    business_key: str | None
    active: list[str]
    problems: list[Problem]
    #: Elements a mapping would let through, with the new id SpiffWorkflow guesses (None: none).
    needs_mapping: dict[str, str | None] = field(default_factory=dict)
    #: Elements of its waiting timers.
    timers: list[str] = field(default_factory=list)

    @property
    def movable(self) -> bool:
        """True when the case can move as planned."""
        return not self.problems

    @property
    def reason(self) -> str:
        """Why it cannot move, in English (empty when it can)."""
        return "; ".join(problem.message for problem in self.problems)

    def blocked_dict(self) -> dict[str, Any]:
        """The entry the CLI lists under ``blocked``."""
        return {"instance_id": self.instance_id, "reason": self.reason,
                "problems": [problem.as_dict() for problem in self.problems]}


@dataclass
class Plan:
    """A dry run: every running case of ``from_version`` and whether it can move to ``to_version``."""

    key: str
    from_version: int
    to_version: int
    changes: list[ElementDiff]
    cases: list[PlannedCase]
    #: Elements of the new version that are new.
    added: list[str] = field(default_factory=list)

    @property
    def movable(self) -> list[int]:
        """The ids of the cases that can move."""
        return [case.instance_id for case in self.cases if case.movable]

    @property
    def blocked(self) -> list[PlannedCase]:
        """The cases that cannot move as planned."""
        return [case for case in self.cases if not case.movable]

    def as_dict(self) -> dict[str, Any]:
        """What ``tawasul migrate plan`` prints."""
        return {"movable": self.movable, "blocked": [case.blocked_dict() for case in self.blocked]}


def version_elements(engine: CaseEngine, session: Session, key: str, version: int) -> dict[str, tuple[str, str]]:
    """The BPMN elements of version ``version`` of ``key``: id -> (type name, drawn name).

    Raises:
        NotFound: no such process or version.
    """
    definition = find_definition(session, key, version)
    return elements_of(process_for_definition_id(engine, session, definition.id))


class MigrationBlocked(Conflict):
    """The case cannot move; ``problems`` says why (each with its code and params)."""

    def __init__(self, instance_id: int, problems: list[Problem]) -> None:
        self.problems = problems
        message = f"instance {instance_id} cannot move: " + "; ".join(p.message for p in problems)
        if len(problems) == 1:
            super().__init__(message, code=problems[0].code, params=problems[0].params)
        else:
            super().__init__(message, code=SEVERAL,
                             params={"problems": [(p.code, p.params) for p in problems]})


def check_timer_choices(timers: TimerChoices) -> TimerChoices:
    """``timers`` if every choice in it is ``keep`` or ``recompute``.

    Raises:
        InvalidInput: another value.
    """
    values = [timers] if isinstance(timers, str) else list((timers or {}).values())
    for value in values:
        if value not in TIMER_CHOICES:
            raise InvalidInput(f"a timer's choice must be one of {', '.join(TIMER_CHOICES)}, not {value!r}",
                               code=NOT_A_CHOICE, params={"field": "timers", "value": value,
                                                          "allowed": list(TIMER_CHOICES)})
    return timers


def version_diff(engine: CaseEngine, session: Session, key: str, from_version: int, to_version: int,
                 mapping: Mapping[str, str] | None = None) -> tuple[Any, Any, VersionDiff]:
    """The two definitions and the diff between them, with ``mapping`` applied.

    Raises:
        NotFound: no such process or version. InvalidInput: the same version twice.
    """
    old = find_definition(session, key, from_version)
    new = find_definition(session, key, to_version)
    if old.id == new.id:
        raise InvalidInput(f"process {key!r}: a case cannot move from version {from_version} to itself",
                           code=SAME_VERSION, params={"process": key, "version": from_version})
    diff = VersionDiff(process_for_definition_id(engine, session, old.id),
                       process_for_definition_id(engine, session, new.id), mapping)
    return old, new, diff


def plan(
    engine: CaseEngine,
    session: Session,
    key: str,
    from_version: int,
    to_version: int,
    mapping: Mapping[str, str] | None = None,
    timers: TimerChoices = None,
    instance_ids: Iterable[int] | None = None,
) -> Plan:
    """Every running case of ``key`` version ``from_version`` (or those named) and whether it can move.

    Reads only. A case in error is listed as blocked (it must be retried first).
    """
    timers = check_timer_choices(timers)
    old, new, diff = version_diff(engine, session, key, from_version, to_version, mapping)
    query = (select(*[_INSTANCES.c[name] for name in casestore.InstanceState.__dataclass_fields__
                      if name != "open_tasks"])
             .where(_INSTANCES.c.definition_id == old.id, _INSTANCES.c.status.in_((RUNNING, ERROR)))
             .order_by(_INSTANCES.c.id))
    wanted = None if instance_ids is None else {int(i) for i in instance_ids}
    if wanted is not None:
        query = query.where(_INSTANCES.c.id.in_(wanted))
    cases = []
    for found in session.execute(query):
        row = casestore.InstanceState(*found)
        cases.append(_planned(engine, session, row, diff, timers))
    return Plan(key, old.version, new.version, diff.changes(), cases, diff.added())


def _planned(engine: CaseEngine, session: Session, row: casestore.InstanceState, diff: VersionDiff,
             timers: TimerChoices) -> PlannedCase:
    loaded = casestore.load(engine, session, row.id, row)
    check = diff.check(loaded.case, timers)
    problems = list(check.problems)
    if row.status == ERROR:
        problems.insert(0, Problem(CASE_NOT_RUNNING, f"the case is in error at {row.error_element_id!r}; "
                                   "retry it first", {"instance": row.id, "status": row.status,
                                                      "element": row.error_element_id}))
    return PlannedCase(row.id, row.business_key, check.active, problems, check.needs_mapping,
                       sorted(set(check.timers.values())))


# -- moving one case ------------------------------------------------------------------------------


def move_instance(
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
    """Move one case from ``from_version`` to ``to_version`` of ``key`` (in the caller's transaction).

    Raises:
        NotFound: no such instance, process or version.
        InstanceNotRunning: the case is completed, cancelled or in error.
        MigrationBlocked: the rules do not let the case move (a `Conflict` naming each problem).
        Conflict: another command saved the case since it was loaded.
    """
    timers = check_timer_choices(timers)
    old, new, diff = version_diff(engine, session, key, from_version, to_version, mapping)
    loaded = casestore.load(engine, session, instance_id)
    casestore.require_running(loaded)
    if loaded.row.definition_id != old.id:
        version = version_of(engine, session, loaded.row.definition_id)
        raise Conflict(f"instance {instance_id} is on version {version} of its process, not {old.version}",
                       code=WRONG_VERSION, params={"instance": instance_id, "version": version,
                                                   "expected": old.version})
    with casestore.stepping(engine, session, loaded, actor):
        casestore.advance_first(engine, session, loaded, actor)  # a due timer fires on the old version first
        row = loaded.row
        snapshot_before, revision_before = row.snapshot, row.revision
        tasks_rows = _rows(session, _TASKS, instance_id)
        job_rows = _rows(session, _JOBS, instance_id)
        started = {job["task_id"]: job["created_at"] for job in job_rows if job["kind"] == TIMER}
        try:
            moved = diff.migrate(loaded.case, timers, started, loaded.now)
        except MigrationRefused as refused:
            raise MigrationBlocked(instance_id, refused.problems) from None
        loaded.case = moved
        failure = moved.advance()
        if failure is not None:
            raise MigrationBlocked(instance_id, [Problem(
                "migration_engine_refused", f"on the new version the case fails at {failure.element_id!r}: "
                f"{failure.message}", {"message": failure.message})])
        # The row points to the new version; the revision is checked here and again by `save`.
        result = session.connection().execute(
            update(_INSTANCES).where(_INSTANCES.c.id == instance_id, _INSTANCES.c.revision == row.revision)
            .values(definition_id=new.id))
        if result.rowcount != 1:
            raise engine.describe_conflict(session, instance_id)
        row.definition_id = new.id
        new_tasks, _ = moved.waits()
        _follow_tasks(session, loaded, new_tasks)
        _close_migrated(engine, session, loaded, actor, new_tasks, old.version, key)
        choices = {"mapping": dict(diff.mapping), "timers": timers if timers is None or isinstance(timers, str)
                   else dict(timers)}
        audit.record(session, loaded.now, actor, "migrated", instance_id,
                     summary={"key": key, "from": old.version, "to": new.version, **choices})
        casestore.save(engine, session, loaded, actor)
    session.add(MigrationSnapshot(
        instance_id=instance_id, from_definition_id=old.id, to_definition_id=new.id, snapshot=snapshot_before,
        revision_before=revision_before, revision_after=loaded.row.revision,
        rows={"human_tasks": [_plain(r) for r in tasks_rows], "jobs": [_plain(r) for r in job_rows]},
        choices=choices, migrated_at=loaded.now, migrated_by=actor.name,
    ))
    session.flush()
    return {"instance_id": instance_id, "from": old.version, "to": new.version, "revision": loaded.row.revision,
            "open_tasks": sorted(loaded.row.open_tasks.values())}


def _follow_tasks(session: Session, loaded: casestore.LoadedCase, tasks: dict[str, Any]) -> None:
    """Open tasks whose element has a new id, name, lane or form take them; claim and deadlines stay."""
    for task_id, before in loaded.tasks_before.items():
        after = tasks.get(task_id)
        if after is None:
            continue
        props = after.properties
        values = {"element_id": after.element_id, "name": after.name, "lane": after.lane,
                  "candidate_group": props.get("candidateGroups") or after.lane,
                  "form_key": props.get("formKey") or props.get("formJsonSchemaFilename")}
        old_props = before.properties
        old_values = {"element_id": before.element_id, "name": before.name, "lane": before.lane,
                      "candidate_group": old_props.get("candidateGroups") or before.lane,
                      "form_key": old_props.get("formKey") or old_props.get("formJsonSchemaFilename")}
        if values == old_values:
            continue
        group = values.pop("candidate_group")
        session.connection().execute(update(_TASKS).where(_TASKS.c.id == task_id).values(**values))
        # The group follows the lane, unless an escalation gave the task to another group.
        session.connection().execute(update(_TASKS).where(_TASKS.c.id == task_id,
                                                          _TASKS.c.candidate_group == old_values["candidate_group"])
                                     .values(candidate_group=group))
        if after.element_id != before.element_id:
            session.connection().execute(update(_JOBS).where(_JOBS.c.instance_id == loaded.row.id,
                                                             _JOBS.c.task_id == task_id)
                                         .values(element_id=after.element_id))
        # What `save` compares against is the task as it now stands.
        loaded.tasks_before[task_id] = after
    timers = loaded.case.waits()[1]
    for task_id, before in loaded.timers_before.items():
        after_timer = timers.get(task_id)
        if after_timer is not None and after_timer.element_id != before.element_id:
            session.connection().execute(update(_JOBS).where(_JOBS.c.instance_id == loaded.row.id,
                                                             _JOBS.c.task_id == task_id, _JOBS.c.kind == TIMER)
                                         .values(element_id=after_timer.element_id))
            before.element_id = after_timer.element_id


def _close_migrated(engine: CaseEngine, session: Session, loaded: casestore.LoadedCase, actor: Actor,
                    tasks: dict[str, Any], version: int, key: str) -> None:
    """Open tasks the new diagram does not keep close as ``migrated`` (not as interrupted by the case)."""
    gone = [task_id for task_id in loaded.tasks_before if task_id not in tasks]
    if not gone:
        return
    history.close_tasks(session, gone, now=loaded.now, closed_by=actor.name, completed=None,
                        other=history.MIGRATED, process_key=key, process_version=version)
    session.connection().execute(delete(_JOBS).where(_JOBS.c.instance_id == loaded.row.id, _JOBS.c.kind != TIMER,
                                                     _JOBS.c.task_id.in_(gone)))
    for task_id in gone:
        view = loaded.tasks_before.pop(task_id)
        audit.record(session, loaded.now, actor, "task_closed", loaded.row.id, task_id, view.element_id,
                     {"reason": "migrated"})


def _rows(session: Session, table: Any, instance_id: int) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in session.connection().execute(
        select(table).where(table.c.instance_id == instance_id).order_by(*table.primary_key.columns))]


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()}


def _typed(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (datetime.fromisoformat(v) if k in _TIMES and isinstance(v, str) else v) for k, v in row.items()}


# -- moving back ----------------------------------------------------------------------------------


def latest_snapshot(session: Session, instance_id: int) -> MigrationSnapshot | None:
    """The newest move of the case not reverted yet, if any."""
    return session.scalars(select(MigrationSnapshot).where(
        MigrationSnapshot.instance_id == instance_id, MigrationSnapshot.reverted_at.is_(None))
        .order_by(MigrationSnapshot.id.desc()).limit(1)).first()


def revert_instance(engine: CaseEngine, session: Session, actor: Actor, instance_id: int) -> dict[str, Any]:
    """Put a moved case back as it was before its last move (state, version, open tasks, jobs).

    Raises:
        NotFound: no such instance, or no move of it to revert.
        Conflict: the move is older than ``engine.migration_revert_days``, or the case changed since.
    """
    loaded = casestore.load(engine, session, instance_id)
    kept = latest_snapshot(session, instance_id)
    if kept is None:
        raise NotFound(f"instance {instance_id} has no move to another version to revert", code=NO_SNAPSHOT,
                       params={"instance": instance_id})
    days = migration_revert_days(engine.settings)
    if loaded.now > kept.migrated_at + timedelta(days=days):
        raise Conflict(f"instance {instance_id} moved on {kept.migrated_at.isoformat(timespec='seconds')}; a move "
                       f"can be reverted within {days} days only", code=REVERT_EXPIRED,
                       params={"instance": instance_id, "days": days})
    row = loaded.row
    if row.revision != kept.revision_after:
        raise Conflict(f"instance {instance_id} changed after it moved (a task was claimed or completed, a timer "
                       "fired); it can no longer be reverted", code=MOVED_ON, params={"instance": instance_id})
    result = session.connection().execute(
        update(_INSTANCES).where(_INSTANCES.c.id == instance_id, _INSTANCES.c.revision == row.revision)
        .values(definition_id=kept.from_definition_id, snapshot=kept.snapshot, revision=row.revision + 1,
                status=RUNNING, updated_at=loaded.now, updated_by=actor.name))
    if result.rowcount != 1:
        raise engine.describe_conflict(session, instance_id)
    connection = session.connection()
    connection.execute(delete(_JOBS).where(_JOBS.c.instance_id == instance_id))
    connection.execute(delete(_TASKS).where(_TASKS.c.instance_id == instance_id))
    tasks = [_typed(r) for r in kept.rows.get("human_tasks", [])]
    jobs = [{k: v for k, v in _typed(r).items() if k != "id"} for r in kept.rows.get("jobs", [])]
    if tasks:
        connection.execute(insert(_TASKS), [{k: r.get(k) for k in _TASK_COLUMNS} for r in tasks])
    if jobs:
        connection.execute(insert(_JOBS), [{k: r.get(k) for k in _JOB_COLUMNS} for r in jobs])
        announce_due(session, min(job["due_at"] for job in jobs))
    kept.reverted_at = loaded.now
    kept.reverted_by = actor.name
    # The case is again exactly as it was right after the move before this one, if nothing happened
    # between the two: that move may then be reverted in its turn.
    session.flush()
    earlier = latest_snapshot(session, instance_id)
    if earlier is not None and earlier.revision_after == kept.revision_before:
        earlier.revision_after = row.revision + 1
    version_from = version_of(engine, session, kept.from_definition_id)
    version_to = version_of(engine, session, kept.to_definition_id)
    audit.record(session, loaded.now, actor, "migration_reverted", instance_id,
                 summary={"from": version_to, "to": version_from})
    session.flush()
    return {"instance_id": instance_id, "version": version_from, "revision": row.revision + 1}
