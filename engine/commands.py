"""Engine commands. Each runs inside one unit of work (see `CaseEngine.run`).

Every command on an instance follows the same order, which is what keeps SpiffWorkflow's
timer race away (an overdue boundary timer silently discarding a user's decision):

1. load the instance row (its revision is remembered; the UPDATE checks it);
2. thaw the workflow, **refresh timers and run engine steps first** (an overdue timer fires
   now, before anything else happens);
3. check the task is still READY and the actor may act on its lane; if the timer took the task
   away, refuse with a `Conflict` and keep the timer's effect;
4. apply the change, run engine steps;
5. write snapshot, task projection, jobs and audit events together.

A second writer that loaded the same revision fails at step 5 with a conflict, never a lost
update: on PostgreSQL through the revision check, on SQLite because writers queue at BEGIN.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from engine import sla
from engine.actors import Actor
from engine.clock import Clock, FrozenClock
from engine.definitions import find_definition, process_for_definition_id
from engine.errors import Conflict, Forbidden, InstanceNotRunning, InvalidInput, NotFound, ScriptError
from engine.models import AuditEvent, HumanTask, Job, ProcessInstance
from engine.services import ServiceScope, service_scope
from engine.spiff import Case, HumanTaskView, StepFailure, TimerView, unstorable, using_clock

if TYPE_CHECKING:
    from engine.context import CaseEngine

RUNNING, COMPLETED, CANCELLED, ERROR = "running", "completed", "cancelled", "error"
_SUMMARY_VALUE_CHARS = 120


_INSTANCES = ProcessInstance.__table__
_TASKS = HumanTask.__table__
_JOBS = Job.__table__
_AUDIT = AuditEvent.__table__


@dataclass
class InstanceState:
    """An instance row as the commands read and write it (plain Core, no ORM identity map)."""

    id: int
    definition_id: int
    business_key: str | None
    status: str
    revision: int
    snapshot: str
    updated_at: datetime
    updated_by: str
    ended_at: datetime | None
    error_element_id: str | None
    error_message: str | None
    #: After a command: the case's open human tasks, id -> element id (not a column).
    open_tasks: dict[str, str] = field(default_factory=dict)


@dataclass
class OpenTask:
    """An open human task as the commands return it (the projection row's columns)."""

    id: str
    instance_id: int
    element_id: str
    name: str
    lane: str | None
    candidate_group: str | None
    assignee: str | None
    created_at: datetime
    due_at: datetime | None
    priority: int
    form_key: str | None


_INSTANCE_COLUMNS = [_INSTANCES.c[name] for name in InstanceState.__dataclass_fields__ if name != "open_tasks"]
_TASK_COLUMNS = [_TASKS.c[f.name] for f in OpenTask.__dataclass_fields__.values()]

# The hot-path statements, built once: building a statement costs more than running it on SQLite.
_SELECT_INSTANCE = select(*_INSTANCE_COLUMNS).where(_INSTANCES.c.id == bindparam("b_id"))
_SELECT_TASK_AND_INSTANCE = (
    select(*_TASK_COLUMNS, *_INSTANCE_COLUMNS)
    .join_from(_TASKS, _INSTANCES, _INSTANCES.c.id == _TASKS.c.instance_id)
    .where(_TASKS.c.id == bindparam("b_task"))
)
_UPDATE_INSTANCE = (
    update(_INSTANCES)
    .where(_INSTANCES.c.id == bindparam("b_id"), _INSTANCES.c.revision == bindparam("b_revision"))
    .values(
        {
            name: bindparam(f"v_{name}", type_=_INSTANCES.c[name].type)
            for name in ("status", "revision", "snapshot", "updated_at", "updated_by", "ended_at",
                         "error_element_id", "error_message")
        }
    )
)
_DELETE_TASKS = delete(_TASKS).where(_TASKS.c.id.in_(bindparam("b_ids", expanding=True)))
_ASSIGN_TASK = update(_TASKS).where(_TASKS.c.id == bindparam("b_task")).values(assignee=bindparam("v_assignee"))
_INSERT_TASKS = insert(_TASKS)
_INSERT_AUDIT = insert(_AUDIT)
_INSERT_JOBS = insert(_JOBS)
_DELETE_TIMER_JOBS = delete(_JOBS).where(
    _JOBS.c.instance_id == bindparam("b_instance"),
    _JOBS.c.kind == "timer",
    _JOBS.c.task_id.in_(bindparam("b_tasks", expanding=True)),
)
_DELETE_INSTANCE_JOBS = delete(_JOBS).where(_JOBS.c.instance_id == bindparam("b_instance"))
_DELETE_SLA_JOBS = delete(_JOBS).where(
    _JOBS.c.instance_id == bindparam("b_instance"),
    _JOBS.c.kind != "timer",
    _JOBS.c.task_id.in_(bindparam("b_tasks", expanding=True)),
)
_MOVE_TIMER_JOB = (
    update(_JOBS)
    .where(_JOBS.c.instance_id == bindparam("b_instance"), _JOBS.c.task_id == bindparam("b_task"),
           _JOBS.c.kind == "timer")
    .values(due_at=bindparam("v_due_at", type_=_JOBS.c.due_at.type), status="pending", attempts=0,
            last_error=None, lock_owner=None, lock_expires_at=None)
)


@dataclass
class _Loaded:
    row: InstanceState
    case: Case
    now: datetime
    #: Open human tasks and waiting timers as last saved: the projection and job rows mirror
    #: them, so saving diffs in memory instead of reading those rows back.
    tasks_before: dict[str, HumanTaskView] = field(default_factory=dict)
    timers_before: dict[str, TimerView] = field(default_factory=dict)


# -- helpers ------------------------------------------------------------------------------------


def summarize(data: Mapping[str, Any] | None) -> dict[str, Any]:
    """A short copy of ``data`` for the audit log: scalars kept, long text and structures shortened.

    A copy is taken because SpiffWorkflow shares nested task data between tasks.
    """
    summary: dict[str, Any] = {}
    for key, value in (data or {}).items():
        if isinstance(value, bool | int | float) or value is None:
            summary[key] = value
        elif isinstance(value, str):
            summary[key] = value if len(value) <= _SUMMARY_VALUE_CHARS else value[:_SUMMARY_VALUE_CHARS] + "…"
        elif isinstance(value, dict):
            summary[key] = f"{{{len(value)} keys}}"
        elif isinstance(value, list | tuple):
            summary[key] = f"[{len(value)} items]"
        else:
            text = str(value)
            summary[key] = text if len(text) <= _SUMMARY_VALUE_CHARS else text[:_SUMMARY_VALUE_CHARS] + "…"
    return summary


def _audit(
    session: Session,
    now: datetime,
    actor: Actor | str,
    action: str,
    instance_id: int | None,
    task_id: str | None = None,
    element_id: str | None = None,
    summary: dict[str, Any] | None = None,
) -> None:
    """Queue an audit event; `_write_audit` inserts the queue in one statement."""
    session.info.setdefault("pending_audit", []).append(
        {
            "at": now,
            "actor": actor if isinstance(actor, str) else actor.name,
            "action": action,
            "instance_id": instance_id,
            "task_id": task_id,
            "element_id": element_id,
            "summary": summary or {},
        }
    )


def _write_audit(session: Session) -> None:
    pending = session.info.pop("pending_audit", None)
    if pending:
        session.connection().execute(_INSERT_AUDIT, pending)


def _check_data(data: Any, reserved: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Refuse data that scripts could not use or the case could not keep, naming the key."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InvalidInput(f"data must be a JSON object, not {type(data).__name__}")
    for key, value in data.items():
        if not isinstance(key, str) or not key.isidentifier() or key.startswith("_"):
            raise InvalidInput(
                f"data key {key!r} is not a valid variable name (letters, digits and _, not starting with _)"
            )
        if key in reserved:
            raise InvalidInput(f"data key {key!r} is the name of something scripts use; choose another name")
        problem = unstorable(value)
        if problem:
            raise InvalidInput(f"data key {key!r} holds {problem}, which cannot be saved with the case")
    return data


def _load(
    engine: CaseEngine, session: Session, instance_id: int, row: InstanceState | None = None
) -> _Loaded:
    if row is None:
        found = session.connection().execute(_SELECT_INSTANCE, {"b_id": instance_id}).first()
        if found is None:
            raise NotFound(f"no process instance {instance_id}")
        row = InstanceState(*found)
    session.info["instance_id"] = row.id
    case = engine.runtime.thaw(process_for_definition_id(engine, session, row.definition_id), row.snapshot)
    tasks, timers = case.waits()
    return _Loaded(row=row, case=case, now=engine.clock.now(), tasks_before=tasks, timers_before=timers)


@contextmanager
def _stepping(
    engine: CaseEngine, session: Session, loaded: _Loaded, actor: Actor, clock: Clock | None = None
) -> Iterator[None]:
    """While the engine steps: its clock for timers, and the scope service tasks run in."""
    scope = ServiceScope(engine, session, actor, loaded.row.id, loaded.now)
    with using_clock(clock or engine.clock), service_scope(scope):
        yield


def _require_running(loaded: _Loaded) -> None:
    row = loaded.row
    if row.status == ERROR:
        raise InstanceNotRunning(
            f"instance {row.id} is in error at element '{row.error_element_id}': {row.error_message}; "
            "an administrator must fix it and retry it first"
        )
    if row.status != RUNNING:
        raise InstanceNotRunning(f"instance {row.id} is {row.status}")


def _advance_first(engine: CaseEngine, session: Session, loaded: _Loaded, actor: Actor) -> None:
    """Step 2: fire overdue timers and run engine steps before the command looks at any task.

    At rest an instance has run every engine step it could, so only a due timer can change it:
    with none due there is nothing to do.
    """
    if not any(timer.due_at <= loaded.now for timer in loaded.timers_before.values()):
        return
    failure = loaded.case.advance()
    _save(engine, session, loaded, actor, failure=failure)
    if failure is not None:
        raise InstanceNotRunning(
            f"instance {loaded.row.id} failed at element '{failure.element_id}' while its timers ran: "
            f"{failure.message}; an administrator must fix it and retry it",
            keep_changes=True,
        )


def _save(
    engine: CaseEngine,
    session: Session,
    loaded: _Loaded,
    actor: Actor,
    failure: StepFailure | None = None,
    completed_task: str | None = None,
) -> int:
    """Step 5: write snapshot, status, task projection, jobs and audit events (flushes).

    Returns:
        How many timers fired since the instance was last saved.
    """
    row, case, now = loaded.row, loaded.case, loaded.now
    row.snapshot = engine.runtime.freeze(case)
    row.updated_at = now
    row.updated_by = actor.name
    if failure is not None:
        row.status = ERROR
        row.error_element_id = failure.element_id
        row.error_message = failure.message
        _audit(session, now, actor, "failed", row.id, element_id=failure.element_id,
               summary={"message": failure.message})
    elif row.status in (RUNNING, ERROR) and case.is_completed:
        row.status = COMPLETED
        row.ended_at = now
        row.error_element_id = row.error_message = None
        _audit(session, now, actor, "instance_completed", row.id)
    ended = row.status not in (RUNNING, ERROR)
    tasks, timers = ({}, {}) if ended else case.waits()
    # The instance row first, always: every writer locks instance → task → job in that order.
    _write_instance(engine, session, row)
    if ended:
        # The case ended: no job of it may outlive it (SLA jobs of a changed configuration, say).
        session.connection().execute(_DELETE_INSTANCE_JOBS, {"b_instance": row.id})
    fired = _sync_jobs(engine, session, loaded, actor, timers)  # first: a fired timer causes task changes
    _sync_tasks(engine, session, loaded, actor, tasks, completed_task)
    _write_audit(session)
    loaded.tasks_before, loaded.timers_before = tasks, timers
    row.open_tasks = {task_id: view.element_id for task_id, view in tasks.items()}
    return fired


def _write_instance(engine: CaseEngine, session: Session, row: InstanceState) -> None:
    """UPDATE the instance row if its revision is still the one loaded; else it is a conflict."""
    params = {
        "b_id": row.id,
        "b_revision": row.revision,
        "v_status": row.status,
        "v_revision": row.revision + 1,
        "v_snapshot": row.snapshot,
        "v_updated_at": row.updated_at,
        "v_updated_by": row.updated_by,
        "v_ended_at": row.ended_at,
        "v_error_element_id": row.error_element_id,
        "v_error_message": row.error_message,
    }
    result = session.connection().execute(_UPDATE_INSTANCE, params)
    if result.rowcount != 1:
        raise engine.describe_conflict(session, row.id)
    row.revision += 1


def _sla_spec(engine: CaseEngine, loaded: _Loaded, view: HumanTaskView) -> sla.SlaSpec | None:
    configured = engine.sla_config.get((loaded.case.process.key, view.element_id))
    if configured is not None:
        return configured
    try:
        return sla.spec_from_properties(view.properties)
    except ValueError:
        return None  # refused at deploy; an older version is simply without SLA


def _sync_tasks(
    engine: CaseEngine,
    session: Session,
    loaded: _Loaded,
    actor: Actor,
    tasks: dict[str, HumanTaskView],
    completed_task: str | None,
) -> None:
    row, now = loaded.row, loaded.now
    closed = [view for task_id, view in loaded.tasks_before.items() if task_id not in tasks]
    if closed:
        session.connection().execute(_DELETE_TASKS, {"b_ids": [view.id for view in closed]})
        with_sla = [view.id for view in closed if _sla_spec(engine, loaded, view) is not None]
        if with_sla:
            # The task's scope ended: its warning and escalations go with it.
            session.connection().execute(_DELETE_SLA_JOBS, {"b_instance": row.id, "b_tasks": with_sla})
        reason = row.status if row.status != RUNNING else "the case moved on"
        for view in closed:
            if view.id != completed_task:
                _audit(session, now, actor, "task_closed", row.id, view.id, view.element_id, {"reason": reason})
    opened = [view for task_id, view in tasks.items() if task_id not in loaded.tasks_before]
    if not opened:
        return
    values = []
    sla_jobs: list[dict[str, Any]] = []
    for view in opened:
        props = view.properties
        try:
            priority = int(props.get("priority", 50))
        except ValueError:
            priority = 50
        times = _evaluate_sla(engine, session, loaded, actor, view)
        if times is not None:
            sla_jobs.extend(_sla_jobs(row.id, view, times, now, engine.job_settings.max_attempts))
        values.append(
            {
                "id": view.id,
                "instance_id": row.id,
                "element_id": view.element_id,
                "name": view.name,
                "lane": view.lane,
                "candidate_group": props.get("candidateGroups") or view.lane,
                "assignee": None,
                "created_at": now,
                "due_at": times.due_at if times else None,
                "warn_at": times.warn_at if times else None,
                "priority": priority,
                "form_key": props.get("formKey") or props.get("formJsonSchemaFilename"),
            }
        )
        _audit(session, now, actor, "task_opened", row.id, view.id, view.element_id, {"lane": view.lane})
    session.connection().execute(_INSERT_TASKS, values)
    if sla_jobs:
        session.connection().execute(_INSERT_JOBS, sla_jobs)
        engine.announce_job(session, min(job["due_at"] for job in sla_jobs))


def _evaluate_sla(
    engine: CaseEngine, session: Session, loaded: _Loaded, actor: Actor, view: HumanTaskView
) -> sla.SlaTimes | None:
    spec = _sla_spec(engine, loaded, view)
    if spec is None:
        return None
    try:
        return sla.evaluate(engine, spec, view.data, loaded.now)
    except (ScriptError, InvalidInput) as exc:
        # A deadline that cannot be computed must not stop the case; it is recorded instead.
        _audit(session, loaded.now, actor, "sla_invalid", loaded.row.id, view.id, view.element_id,
               {"message": exc.message})
        return None


def _sla_jobs(
    instance_id: int, view: HumanTaskView, times: sla.SlaTimes, now: datetime, max_attempts: int
) -> list[dict[str, Any]]:
    def job(kind: str, due_at: datetime, payload: dict[str, Any]) -> dict[str, Any]:
        return {"kind": kind, "instance_id": instance_id, "definition_id": None, "task_id": view.id,
                "element_id": view.element_id, "due_at": due_at, "status": "pending", "attempts": 0,
                "max_attempts": max_attempts, "payload": payload, "created_at": now}

    jobs = []
    if times.warn_at is not None:
        jobs.append(job("sla_warn", times.warn_at, {}))
    for level, (at, group) in enumerate(times.escalations, start=1):
        jobs.append(job(f"sla_escalate_{level}", at, {"level": level, "to": group}))
    return jobs


def _sync_jobs(
    engine: CaseEngine, session: Session, loaded: _Loaded, actor: Actor, timers: dict[str, TimerView]
) -> int:
    """Make the instance's timer jobs match its waiting timers; audit and count the fired ones.

    A job whose timer is gone (or moved to its next cycle) while it was due has fired; one that
    is gone before it was due had its scope end (task completed, instance cancelled).
    """
    row, now = loaded.row, loaded.now
    before = loaded.timers_before
    if not before and not timers:
        return 0
    fired = 0
    gone = []
    for task_id, old in before.items():
        new = timers.get(task_id)
        moved = new is not None and new.due_at != old.due_at
        # Gone because it fired, or because its scope ended (task completed, case cancelled)?
        fired_now = moved or (new is None and loaded.case.timer_fired(task_id))
        if fired_now and old.due_at <= now:
            fired += 1
            _audit(session, now, actor, "timer_fired", row.id, task_id, old.element_id,
                   {"due_at": old.due_at.isoformat()})
        if new is None:
            gone.append(task_id)
        elif moved:
            # A cycle timer moved on to its next occurrence.
            session.connection().execute(
                _MOVE_TIMER_JOB, {"b_instance": row.id, "b_task": task_id, "v_due_at": new.due_at}
            )
            engine.announce_job(session, new.due_at)
    if gone:
        session.connection().execute(_DELETE_TIMER_JOBS, {"b_instance": row.id, "b_tasks": gone})
    new_jobs = [
        {
            "kind": "timer",
            "instance_id": row.id,
            "task_id": task_id,
            "element_id": timer.element_id,
            "due_at": timer.due_at,
            "status": "pending",
            "attempts": 0,
            "max_attempts": engine.job_settings.max_attempts,
            "payload": {},
            "definition_id": None,
            "created_at": now,
        }
        for task_id, timer in timers.items()
        if task_id not in before
    ]
    if new_jobs:
        session.connection().execute(_INSERT_JOBS, new_jobs)
        engine.announce_job(session, min(job["due_at"] for job in new_jobs))
    return fired


def _open_task(session: Session, task_id: str) -> tuple[OpenTask, InstanceState]:
    """The open task and its instance, in one query; a clear error when the task is not open."""
    found = session.connection().execute(_SELECT_TASK_AND_INSTANCE, {"b_task": task_id}).first()
    if found is not None:
        split = len(_TASK_COLUMNS)
        return OpenTask(*found[:split]), InstanceState(*found[split:])
    done = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.task_id == task_id, AuditEvent.action.in_(("completed", "task_closed")))
        .order_by(AuditEvent.id.desc())
        .limit(1)
    ).first()
    if done is not None and done.action == "completed":
        when = done.at.isoformat(timespec="seconds")
        raise Conflict(f"task {task_id} was already completed by {done.actor} at {when}")
    if done is not None:
        raise Conflict(f"task {task_id} is no longer open ({done.summary.get('reason', 'closed')})")
    raise NotFound(f"no open task {task_id}")


def _require_lane(actor: Actor, task: OpenTask) -> None:
    """The actor holds the task's lane, or a supervisor assigned the task to them."""
    if task.assignee == actor.name:
        return
    if actor.holds(task.lane) or (task.candidate_group and actor.holds(task.candidate_group)):
        return
    held = ", ".join(sorted(actor.lanes)) or "none"
    raise Forbidden(f"task '{task.name}' belongs to lane '{task.lane}'; {actor.name} holds lanes: {held}")


def _ready_task_or_conflict(loaded: _Loaded, task: OpenTask) -> None:
    if loaded.case.human_task(task.id) is None:
        raise Conflict(
            f"task '{task.name}' is no longer open: the case moved on before your change "
            "(for example its deadline passed); reload the case",
            keep_changes=True,
        )


# -- commands -----------------------------------------------------------------------------------


def start_instance(
    engine: CaseEngine,
    session: Session,
    actor: Actor,
    key: str,
    version: int | None = None,
    data: Mapping[str, Any] | None = None,
    business_key: str | None = None,
    start_timer: str | None = None,
) -> InstanceState:
    """Start an instance of ``key`` (latest version unless ``version``) and run it to its first wait.

    ``start_timer`` is for the scheduler: the timer start event that fired to start it.

    Raises:
        NotFound: no such definition or version.
        InvalidInput: ``data`` is not an object of valid variable names, or ``business_key`` is
            not text of at most 200 characters.
    """
    if business_key is not None and (not isinstance(business_key, str) or not 0 < len(business_key) <= 200):
        raise InvalidInput("business_key must be text of 1 to 200 characters")
    data = _check_data(dict(data) if isinstance(data, Mapping) else data, engine.sandbox.reserved_names())
    definition = find_definition(session, key, version)
    process = process_for_definition_id(engine, session, definition.id)
    now = engine.clock.now()
    with using_clock(engine.clock):
        case = engine.runtime.new(process, data, start_timer=start_timer)
        new_id = session.connection().execute(
            insert(_INSTANCES)
            .values(
                definition_id=definition.id,
                business_key=business_key,
                status=RUNNING,
                revision=1,
                snapshot="",
                started_at=now,
                started_by=actor.name,
                updated_at=now,
                updated_by=actor.name,
            )
            .returning(_INSTANCES.c.id)
        ).scalar_one()
        row = InstanceState(new_id, definition.id, business_key, RUNNING, 1, "", now, actor.name, None, None, None)
        _audit(session, now, actor, "started", row.id,
               summary={"key": key, "version": definition.version, "data": summarize(data)})
        loaded = _Loaded(row=row, case=case, now=now)
        session.info["instance_id"] = row.id
        with service_scope(ServiceScope(engine, session, actor, row.id, now)):
            failure = case.advance()
        _save(engine, session, loaded, actor, failure=failure)
    return row


def claim_task(engine: CaseEngine, session: Session, actor: Actor, task_id: str) -> OpenTask:
    """Take an unassigned task of one of the actor's lanes.

    Raises:
        Forbidden: the actor does not hold the task's lane.
        Conflict: someone else holds it, or the task is no longer open.
    """
    task, row = _open_task(session, task_id)
    _require_lane(actor, task)
    if task.assignee == actor.name:
        return task
    if task.assignee is not None:
        raise Conflict(f"task '{task.name}' is already claimed by {task.assignee}")
    return _set_assignee(engine, session, actor, task, row, actor.name, "claimed")


def unclaim_task(engine: CaseEngine, session: Session, actor: Actor, task_id: str) -> OpenTask:
    """Give a claimed task back to its lane (the assignee, or a supervisor).

    Raises:
        Forbidden: the task is someone else's and the actor may not assign.
    """
    task, row = _open_task(session, task_id)
    if not actor.may_assign:
        _require_lane(actor, task)
    if task.assignee is None:
        return task
    if task.assignee != actor.name and not actor.may_assign:
        raise Forbidden(f"task '{task.name}' is claimed by {task.assignee}; only they or a supervisor may release it")
    return _set_assignee(engine, session, actor, task, row, None, "unclaimed")


def assign_task(engine: CaseEngine, session: Session, actor: Actor, task_id: str, assignee: str) -> OpenTask:
    """Assign (or reassign) a task to ``assignee``; supervisors and the system user only.

    Raises:
        Forbidden: the actor may not assign.
        InvalidInput: the assignee name is empty.
    """
    if not actor.may_assign:
        raise Forbidden(f"{actor.name} may not assign tasks; a supervisor can")
    assignee = (assignee or "").strip()
    if not assignee:
        raise InvalidInput("assignee must be a user name")
    task, row = _open_task(session, task_id)
    return _set_assignee(engine, session, actor, task, row, assignee, "assigned")


def _set_assignee(
    engine: CaseEngine,
    session: Session,
    actor: Actor,
    task: OpenTask,
    row: InstanceState,
    assignee: str | None,
    action: str,
) -> OpenTask:
    loaded = _load(engine, session, task.instance_id, row)
    _require_running(loaded)
    with _stepping(engine, session, loaded, actor):
        _advance_first(engine, session, loaded, actor)
        _ready_task_or_conflict(loaded, task)
        previous = task.assignee
        task.assignee = assignee
        # Bump the instance revision: a claim is a change to the case like any other, and two
        # people claiming at once must not both win.
        loaded.row.updated_at = loaded.now
        loaded.row.updated_by = actor.name
        _write_instance(engine, session, loaded.row)
        session.connection().execute(_ASSIGN_TASK, {"b_task": task.id, "v_assignee": assignee})
        _audit(session, loaded.now, actor, action, task.instance_id, task.id, task.element_id,
               {"assignee": assignee, "previous": previous})
        _write_audit(session)
    return task


def complete_task(
    engine: CaseEngine, session: Session, actor: Actor, task_id: str, data: Mapping[str, Any] | None = None
) -> InstanceState:
    """Complete a READY human task with ``data`` and run the case on to its next wait.

    If an element fails after the task (a script, a gateway with no true condition) the
    user's completion is kept and the instance goes to ``error`` at that element.

    Raises:
        Forbidden: lane not held, or the task is claimed by someone else.
        Conflict: the task was completed first, or a timer took it away (the timer wins).
        InstanceNotRunning: the instance is in error, completed or cancelled.
    """
    data = _check_data(dict(data) if isinstance(data, Mapping) else data, engine.sandbox.reserved_names())
    task, row = _open_task(session, task_id)
    _require_lane(actor, task)
    if task.assignee is not None and task.assignee != actor.name and not actor.all_lanes:
        raise Forbidden(f"task '{task.name}' is claimed by {task.assignee}; ask a supervisor to reassign it")
    loaded = _load(engine, session, task.instance_id, row)
    _require_running(loaded)
    with _stepping(engine, session, loaded, actor):
        _advance_first(engine, session, loaded, actor)
        _ready_task_or_conflict(loaded, task)
        failure = loaded.case.complete_human_task(task.id, data)
        _audit(session, loaded.now, actor, "completed", task.instance_id, task.id, task.element_id, summarize(data))
        _save(engine, session, loaded, actor, failure=failure, completed_task=task.id)
    return loaded.row


def cancel_instance(
    engine: CaseEngine, session: Session, actor: Actor, instance_id: int, reason: str | None = None
) -> InstanceState:
    """Cancel a running (or failed) instance: its open tasks and timers are closed.

    Raises:
        Forbidden: only a supervisor or the system user may cancel.
        InstanceNotRunning: already completed or cancelled.
    """
    if not actor.may_assign:
        raise Forbidden(f"{actor.name} may not cancel cases; a supervisor can")
    loaded = _load(engine, session, instance_id)
    if loaded.row.status not in (RUNNING, ERROR):
        raise InstanceNotRunning(f"instance {instance_id} is {loaded.row.status}")
    loaded.case.cancel()
    loaded.row.status = CANCELLED
    loaded.row.ended_at = loaded.now
    _audit(session, loaded.now, actor, "cancelled", instance_id, summary={"reason": reason or ""})
    _save(engine, session, loaded, actor)
    return loaded.row


def retry_instance(
    engine: CaseEngine,
    session: Session,
    actor: Actor,
    instance_id: int,
    data: Mapping[str, Any] | None = None,
) -> InstanceState:
    """Retry an instance in error: ``data`` (the fix) is merged in and the failed element runs again.

    Raises:
        Forbidden: only a supervisor or the system user may retry.
        InstanceNotRunning: the instance is not in error.
    """
    if not actor.may_assign:
        raise Forbidden(f"{actor.name} may not retry cases; an administrator or supervisor can")
    data = _check_data(dict(data) if isinstance(data, Mapping) else data, engine.sandbox.reserved_names())
    loaded = _load(engine, session, instance_id)
    if loaded.row.status != ERROR:
        raise InstanceNotRunning(f"instance {instance_id} is {loaded.row.status}, not in error")
    failed_at = loaded.row.error_element_id
    with _stepping(engine, session, loaded, actor):
        loaded.row.status = RUNNING
        loaded.row.error_element_id = loaded.row.error_message = None
        failure = loaded.case.retry_failed(data, failed_at)
        _audit(session, loaded.now, actor, "retried", instance_id, element_id=failed_at, summary=summarize(data))
        _save(engine, session, loaded, actor, failure=failure)
    return loaded.row


def fire_due_timers(engine: CaseEngine, now: datetime | None = None, actor: Actor | None = None) -> int:
    """Run every job due at ``now`` (default: the clock) and return how many timers fired.

    Goes through the job table like a worker does (`engine.jobs.run_due_jobs`); firing is
    idempotent: a second call at the same instant finds nothing due and fires 0.
    """
    from engine.jobs import run_due_jobs

    return run_due_jobs(engine, now).fired


def fire_instance_timers(
    engine: CaseEngine, session: Session, actor: Actor, instance_id: int, now: datetime
) -> int:
    """Fire the due timers of one instance at ``now`` and save it; return how many fired."""
    loaded = _load(engine, session, instance_id)
    if loaded.row.status != RUNNING:
        return 0
    loaded.now = now
    # SpiffWorkflow fires when due < now; a job due exactly now must fire too.
    with _stepping(engine, session, loaded, actor, FrozenClock(now + timedelta(microseconds=1))):
        failure = loaded.case.advance()
        fired = _save(engine, session, loaded, actor, failure=failure)
    return fired

