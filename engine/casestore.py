"""Loading and saving a case: the instance row, its snapshot, and what is projected from it.

Every command on an instance loads it here (remembering its revision), steps it through
`engine.spiff`, and saves it here: snapshot and status (``UPDATE … WHERE revision = :loaded``,
so a second writer gets a conflict, never a lost update), the open human tasks (a task that
closes goes to the task history), the timer and SLA jobs, and the audit events, in one
transaction. Locks are always taken in the order instance row → human task row → job row.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.orm import Session

from engine import audit, history, sla
from engine.actors import Actor
from engine.clock import Clock, FrozenClock
from engine.definitions import process_for_definition_id, version_of
from engine.errors import (
    CASE_NOT_RUNNING,
    INVALID_DATA,
    NO_SUCH,
    TASK_CLOSED,
    Conflict,
    InstanceNotRunning,
    InvalidInput,
    NotFound,
    ScriptError,
)
from engine.job_rows import TIMER, announce_due, insert_jobs, job_row, sla_job_rows
from engine.models import HumanTask, Job, ProcessInstance
from engine.services import ServiceScope, dispatcher
from engine.spiff import Case, HumanTaskView, StepFailure, TimerView, serving, unstorable, using_clock

if TYPE_CHECKING:
    from engine.context import CaseEngine

RUNNING, COMPLETED, CANCELLED, ERROR = "running", "completed", "cancelled", "error"

_INSTANCES = ProcessInstance.__table__
_TASKS = HumanTask.__table__
_JOBS = Job.__table__


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
    """An open human task as the commands read it (the projection row's columns)."""

    id: str
    instance_id: int
    element_id: str
    name: str
    lane: str | None
    candidate_group: str | None
    assignee: str | None
    created_at: datetime
    due_at: datetime | None
    warn_at: datetime | None
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
_INSERT_INSTANCE = insert(_INSTANCES).returning(_INSTANCES.c.id)
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
_ASSIGN_TASK = (
    update(_TASKS)
    .where(_TASKS.c.id == bindparam("b_task"))
    .values(
        assignee=bindparam("v_assignee"),
        # The first person to hold the task, and when: kept for the task history.
        first_claimed_at=func.coalesce(_TASKS.c.first_claimed_at,
                                       bindparam("v_claimed_at", type_=_TASKS.c.created_at.type)),
        first_claimed_by=func.coalesce(_TASKS.c.first_claimed_by, bindparam("v_claimed_by")),
    )
)
_INSERT_TASKS = insert(_TASKS)
_DELETE_TIMER_JOBS = delete(_JOBS).where(
    _JOBS.c.instance_id == bindparam("b_instance"),
    _JOBS.c.kind == TIMER,
    _JOBS.c.task_id.in_(bindparam("b_tasks", expanding=True)),
)
_DELETE_INSTANCE_JOBS = delete(_JOBS).where(_JOBS.c.instance_id == bindparam("b_instance"))
_DELETE_SLA_JOBS = delete(_JOBS).where(
    _JOBS.c.instance_id == bindparam("b_instance"),
    _JOBS.c.kind != TIMER,
    _JOBS.c.task_id.in_(bindparam("b_tasks", expanding=True)),
)
_MOVE_TIMER_JOB = (
    update(_JOBS)
    .where(_JOBS.c.instance_id == bindparam("b_instance"), _JOBS.c.task_id == bindparam("b_task"),
           _JOBS.c.kind == TIMER)
    .values(due_at=bindparam("v_due_at", type_=_JOBS.c.due_at.type), status="pending", attempts=0,
            last_error=None, lock_owner=None, lock_expires_at=None)
)


@dataclass
class LoadedCase:
    """A case in hand during one command: its row, its workflow, and what was last saved."""

    row: InstanceState
    case: Case
    now: datetime
    #: Open human tasks and waiting timers as last saved: the projection and job rows mirror
    #: them, so saving diffs in memory instead of reading those rows back.
    tasks_before: dict[str, HumanTaskView] = field(default_factory=dict)
    timers_before: dict[str, TimerView] = field(default_factory=dict)


# -- reading ------------------------------------------------------------------------------------


def load(engine: CaseEngine, session: Session, instance_id: int, row: InstanceState | None = None) -> LoadedCase:
    """Load an instance (unless its row is given) and thaw its workflow.

    Raises:
        NotFound: no such instance.
    """
    if row is None:
        found = session.connection().execute(_SELECT_INSTANCE, {"b_id": instance_id}).first()
        if found is None:
            raise NotFound(f"no process instance {instance_id}", code=NO_SUCH,
                           params={"what": "instance", "ident": instance_id})
        row = InstanceState(*found)
    session.info["instance_id"] = row.id
    case = engine.runtime.thaw(process_for_definition_id(engine, session, row.definition_id), row.snapshot)
    tasks, timers = case.waits()
    return LoadedCase(row=row, case=case, now=engine.clock.now(), tasks_before=tasks, timers_before=timers)


def open_task(session: Session, task_id: str) -> tuple[OpenTask, InstanceState]:
    """The open task and its instance, in one query; a clear error when the task is not open.

    Raises:
        Conflict: the task has closed (it says who completed it, and when).
        NotFound: there never was such a task.
    """
    found = session.connection().execute(_SELECT_TASK_AND_INSTANCE, {"b_task": task_id}).first()
    if found is not None:
        split = len(_TASK_COLUMNS)
        return OpenTask(*found[:split]), InstanceState(*found[split:])
    raise closed_task_error(session, task_id)


def closed_task_error(session: Session, task_id: str) -> Conflict | NotFound:
    """Why ``task_id`` is not open: completed by someone (when), closed otherwise, or unknown."""
    record = history.last_record(session, task_id)
    if record is None:
        return NotFound(f"no open task {task_id}", code=NO_SUCH, params={"what": "task", "ident": task_id})
    if record.outcome == history.COMPLETED:
        when = record.closed_at.isoformat(timespec="seconds")
        return Conflict(f"task {task_id} was already completed by {record.closed_by} at {when}", code=TASK_CLOSED,
                        params={"task": task_id, "by": record.closed_by, "at": record.closed_at})
    reason = {history.CANCELLED: "the case was cancelled", history.MIGRATED: "the case moved to another version"}
    why = {history.CANCELLED: "cancelled", history.MIGRATED: "migrated"}.get(record.outcome, "moved_on")
    return Conflict(f"task {task_id} is no longer open ({reason.get(record.outcome, 'the case moved on')})",
                    code=TASK_CLOSED, params={"task": task_id, "reason": why})


def require_running(loaded: LoadedCase) -> None:
    """Refuse a command on an instance that is completed, cancelled or in error."""
    row = loaded.row
    if row.status == ERROR:
        raise InstanceNotRunning(
            f"instance {row.id} is in error at element '{row.error_element_id}': {row.error_message}; "
            "an administrator must fix it and retry it first",
            code=CASE_NOT_RUNNING, params={"instance": row.id, "status": row.status, "element": row.error_element_id},
        )
    if row.status != RUNNING:
        raise InstanceNotRunning(f"instance {row.id} is {row.status}", code=CASE_NOT_RUNNING,
                                 params={"instance": row.id, "status": row.status})


def require_ready(loaded: LoadedCase, task: OpenTask) -> None:
    """Refuse when the task is no longer READY in the workflow (a timer took it away), keeping that."""
    if loaded.case.human_task(task.id) is None:
        raise Conflict(
            f"task '{task.name}' is no longer open: the case moved on before your change "
            "(for example its deadline passed); reload the case",
            keep_changes=True, code=TASK_CLOSED, params={"task": task.name, "reason": "overtaken"},
        )


def check_data(data: Any, reserved: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Refuse data that scripts could not use or the case could not keep, naming the key."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InvalidInput(f"data must be a JSON object, not {type(data).__name__}", code=INVALID_DATA)
    for key in data:
        if not isinstance(key, str) or not key.isidentifier() or key.startswith("_"):
            raise InvalidInput(
                f"data key {key!r} is not a valid variable name (letters, digits and _, not starting with _)",
                code=INVALID_DATA, params={"key": str(key)},
            )
        if key in reserved:
            raise InvalidInput(f"data key {key!r} is the name of something scripts use; choose another name",
                               code=INVALID_DATA, params={"key": key})
    problem = unstorable(data, names=True)
    if problem:
        raise InvalidInput(f"data key {problem}, which cannot be saved with the case", code=INVALID_DATA)
    return data


# -- stepping -----------------------------------------------------------------------------------


@contextmanager
def stepping(
    engine: CaseEngine, session: Session, loaded: LoadedCase, actor: Actor, clock: Clock | None = None
) -> Iterator[None]:
    """While the engine steps: its clock for timers, and the scope service tasks run in."""
    scope = ServiceScope(engine, session, actor, loaded.row.id, loaded.now)
    with using_clock(clock or engine.clock), serving(dispatcher(scope)):
        yield


def advance_first(engine: CaseEngine, session: Session, loaded: LoadedCase, actor: Actor) -> None:
    """Fire overdue timers and run engine steps before a command looks at any task.

    At rest an instance has run every engine step it could, so only a due timer can change it:
    with none due there is nothing to do.
    """
    if not any(timer.due_at <= loaded.now for timer in loaded.timers_before.values()):
        return
    failure = loaded.case.advance()
    save(engine, session, loaded, actor, failure=failure)
    if failure is not None:
        raise InstanceNotRunning(
            f"instance {loaded.row.id} failed at element '{failure.element_id}' while its timers ran: "
            f"{failure.message}; an administrator must fix it and retry it",
            keep_changes=True, code=CASE_NOT_RUNNING,
            params={"instance": loaded.row.id, "status": "error", "element": failure.element_id},
        )


# -- writing ------------------------------------------------------------------------------------


def insert_instance(
    session: Session, definition_id: int, business_key: str | None, now: datetime, actor: Actor
) -> InstanceState:
    """Write a new instance row (its snapshot follows with the first `save`).

    Raises:
        InvalidInput: ``business_key`` is text that cannot be stored (a lone surrogate).
    """
    problem = unstorable(business_key) if business_key is not None else None
    if problem:
        raise InvalidInput(f"business_key holds {problem}", code=INVALID_DATA, params={"key": "business_key"})
    new_id = session.connection().execute(
        _INSERT_INSTANCE,
        {"definition_id": definition_id, "business_key": business_key, "status": RUNNING, "revision": 1,
         "snapshot": "", "started_at": now, "started_by": actor.name, "updated_at": now, "updated_by": actor.name},
    ).scalar_one()
    session.info["instance_id"] = new_id
    return InstanceState(new_id, definition_id, business_key, RUNNING, 1, "", now, actor.name, None, None, None)


def save(
    engine: CaseEngine,
    session: Session,
    loaded: LoadedCase,
    actor: Actor,
    failure: StepFailure | None = None,
    completed_task: str | None = None,
) -> int:
    """Write snapshot, status, task projection and history, jobs and audit events (flushes).

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
        audit.record(session, now, actor, "failed", row.id, element_id=failure.element_id,
                     summary={"message": failure.message})
    elif row.status in (RUNNING, ERROR) and case.is_completed:
        row.status = COMPLETED
        row.ended_at = now
        row.error_element_id = row.error_message = None
        audit.record(session, now, actor, "instance_completed", row.id)
    ended = row.status not in (RUNNING, ERROR)
    tasks, timers = ({}, {}) if ended else case.waits()
    # The instance row first, always: every writer locks instance → task → job in that order.
    write_instance(engine, session, row)
    if ended:
        # The case ended: no job of it may outlive it (SLA jobs of a changed configuration, say).
        session.connection().execute(_DELETE_INSTANCE_JOBS, {"b_instance": row.id})
    fired = _sync_jobs(engine, session, loaded, actor, timers)  # first: a fired timer causes task changes
    _sync_tasks(engine, session, loaded, actor, tasks, completed_task)
    audit.flush(session)
    loaded.tasks_before, loaded.timers_before = tasks, timers
    row.open_tasks = {task_id: view.element_id for task_id, view in tasks.items()}
    return fired


def write_instance(engine: CaseEngine, session: Session, row: InstanceState) -> None:
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


def write_assignee(session: Session, task: OpenTask, assignee: str | None, now: datetime) -> None:
    """Set the task's assignee (the first one to hold it is remembered for its history)."""
    session.connection().execute(_ASSIGN_TASK, {"b_task": task.id, "v_assignee": assignee,
                                                "v_claimed_at": now if assignee else None,
                                                "v_claimed_by": assignee})
    task.assignee = assignee


def _sla_spec(engine: CaseEngine, loaded: LoadedCase, view: HumanTaskView) -> sla.SlaSpec | None:
    configured = engine.sla_config.get((loaded.case.process.key, view.element_id))
    if configured is not None:
        return configured
    try:
        return sla.spec_from_properties(view.properties)
    except ValueError:
        return None  # refused at deploy; an older version is simply without SLA


def task_sla(engine: CaseEngine, loaded: LoadedCase, view: HumanTaskView, opened_at: datetime) -> sla.SlaTimes | None:
    """The SLA times of a task that opened at ``opened_at``, on the calendar in force; None without an SLA.

    The one rule for a task's deadlines: used when the task opens, and again when the calendar
    changes (`engine.deadlines`). Expressions read "now" as ``opened_at``, so ``business_days(10)``
    counts from the moment the task opened whenever it is evaluated.

    Raises:
        ScriptError: an expression failed. InvalidInput: a count beyond the calendar.
    """
    spec = _sla_spec(engine, loaded, view)
    if spec is None:
        return None
    with using_clock(FrozenClock(opened_at)):
        return sla.evaluate(spec, view.data, opened_at, sandbox=engine.sandbox, calendar=engine.calendars.get())


def _sync_tasks(
    engine: CaseEngine,
    session: Session,
    loaded: LoadedCase,
    actor: Actor,
    tasks: dict[str, HumanTaskView],
    completed_task: str | None,
) -> None:
    row, now = loaded.row, loaded.now
    closed = [view for task_id, view in loaded.tasks_before.items() if task_id not in tasks]
    if closed:
        history.close_tasks(session, [view.id for view in closed], now=now, closed_by=actor.name,
                            completed=completed_task,
                            other=history.CANCELLED if row.status == CANCELLED else history.INTERRUPTED,
                            process_key=loaded.case.process.key,
                            process_version=version_of(engine, session, row.definition_id))
        with_sla = [view.id for view in closed if _sla_spec(engine, loaded, view) is not None]
        if with_sla:
            # The task's scope ended: its warning and escalations go with it.
            session.connection().execute(_DELETE_SLA_JOBS, {"b_instance": row.id, "b_tasks": with_sla})
        reason = row.status if row.status != RUNNING else "the case moved on"
        for view in closed:
            if view.id != completed_task:
                audit.record(session, now, actor, "task_closed", row.id, view.id, view.element_id, {"reason": reason})
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
            sla_jobs += sla_job_rows(row.id, view.id, view.element_id, times.warn_at, times.escalations, now,
                                     engine.job_settings.max_attempts)
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
                "first_claimed_at": None,
                "first_claimed_by": None,
                "escalation_level": 0,
            }
        )
        audit.record(session, now, actor, "task_opened", row.id, view.id, view.element_id, {"lane": view.lane})
    session.connection().execute(_INSERT_TASKS, values)
    insert_jobs(session, sla_jobs)


def _evaluate_sla(
    engine: CaseEngine, session: Session, loaded: LoadedCase, actor: Actor, view: HumanTaskView
) -> sla.SlaTimes | None:
    try:
        return task_sla(engine, loaded, view, loaded.now)
    except (ScriptError, InvalidInput) as exc:
        # A deadline that cannot be computed must not stop the case; it is recorded instead.
        audit.record(session, loaded.now, actor, "sla_invalid", loaded.row.id, view.id, view.element_id,
                     {"message": exc.message})
        return None


def _sync_jobs(
    engine: CaseEngine, session: Session, loaded: LoadedCase, actor: Actor, timers: dict[str, TimerView]
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
            audit.record(session, now, actor, "timer_fired", row.id, task_id, old.element_id,
                         {"due_at": old.due_at.isoformat()})
        if new is None:
            gone.append(task_id)
        elif moved:
            # A cycle timer moved on to its next occurrence.
            session.connection().execute(
                _MOVE_TIMER_JOB, {"b_instance": row.id, "b_task": task_id, "v_due_at": new.due_at}
            )
            announce_due(session, new.due_at)
    if gone:
        session.connection().execute(_DELETE_TIMER_JOBS, {"b_instance": row.id, "b_tasks": gone})
    insert_jobs(session, [
        job_row(TIMER, timer.due_at, now, engine.job_settings.max_attempts, instance_id=row.id, task_id=task_id,
                element_id=timer.element_id)
        for task_id, timer in timers.items()
        if task_id not in before
    ])
    return fired
