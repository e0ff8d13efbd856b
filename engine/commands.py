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

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from engine.actors import Actor
from engine.clock import FrozenClock
from engine.definitions import find_definition, parsed_process
from engine.errors import Conflict, Forbidden, InstanceNotRunning, InvalidInput, NotFound
from engine.models import AuditEvent, HumanTask, Job, ProcessDefinition, ProcessInstance
from engine.spiff import Case, StepFailure, using_clock

if TYPE_CHECKING:
    from engine.context import CaseEngine

RUNNING, COMPLETED, CANCELLED, ERROR = "running", "completed", "cancelled", "error"
_SUMMARY_VALUE_CHARS = 120


@dataclass
class _Loaded:
    row: ProcessInstance
    case: Case
    now: datetime


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
    session.add(
        AuditEvent(
            at=now,
            actor=actor if isinstance(actor, str) else actor.name,
            action=action,
            instance_id=instance_id,
            task_id=task_id,
            element_id=element_id,
            summary=summary or {},
        )
    )


def _check_data(data: Any) -> dict[str, Any]:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InvalidInput(f"data must be a JSON object, not {type(data).__name__}")
    for key in data:
        if not isinstance(key, str) or not key.isidentifier() or key.startswith("_"):
            raise InvalidInput(
                f"data key {key!r} is not a valid variable name (letters, digits and _, not starting with _)"
            )
    return data


def _load(engine: CaseEngine, session: Session, instance_id: int) -> _Loaded:
    row = session.get(ProcessInstance, instance_id)
    if row is None:
        raise NotFound(f"no process instance {instance_id}")
    session.info["instance_id"] = instance_id
    definition = session.get(ProcessDefinition, row.definition_id)
    assert definition is not None  # a foreign key guarantees it
    case = engine.runtime.thaw(parsed_process(engine, definition), row.snapshot)
    return _Loaded(row=row, case=case, now=engine.clock.now())


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
    """Step 2: fire overdue timers and run engine steps before the command looks at any task."""
    before = _open_task_ids(loaded.case)
    failure = loaded.case.advance()
    if failure is not None:
        _save(engine, session, loaded, actor, failure=failure)
        error = InstanceNotRunning(
            f"instance {loaded.row.id} failed at element '{failure.element_id}' while its timers ran: "
            f"{failure.message}; an administrator must fix it and retry it"
        )
        error.keep_changes = True  # type: ignore[attr-defined]
        raise error
    if _open_task_ids(loaded.case) != before:
        # A timer fired on load; remember it even if the command is then refused.
        loaded.row.updated_at = loaded.now  # marks the row dirty for _save
        _save(engine, session, loaded, actor)


def _open_task_ids(case: Case) -> tuple[frozenset[str], frozenset[str]]:
    return (
        frozenset(task.id for task in case.human_tasks()),
        frozenset(f"{timer.task_id}@{timer.due_at.isoformat()}" for timer in case.timers()),
    )


def _save(
    engine: CaseEngine,
    session: Session,
    loaded: _Loaded,
    actor: Actor,
    failure: StepFailure | None = None,
) -> int:
    """Step 5: write snapshot, status, task projection, jobs and audit events (flushes).

    Returns:
        How many timers fired since the instance was last saved.
    """
    row, case, now = loaded.row, loaded.case, loaded.now
    row.snapshot = engine.runtime.freeze(case)
    flag_modified(row, "snapshot")  # always UPDATE, so the revision check always runs
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
    fired = _sync_jobs(session, loaded, actor)  # first: a fired timer is the cause of task changes
    _sync_tasks(session, loaded, actor)
    session.flush()
    return fired


def _sync_tasks(session: Session, loaded: _Loaded, actor: Actor) -> None:
    row, case, now = loaded.row, loaded.case, loaded.now
    existing = {task.id: task for task in session.scalars(select(HumanTask).where(HumanTask.instance_id == row.id))}
    views = {view.id: view for view in case.human_tasks()} if row.status in (RUNNING, ERROR) else {}
    for task_id, task in existing.items():
        if task_id not in views:
            session.delete(task)
            if not session.info.get("completed_task") == task_id:
                _audit(session, now, actor, "task_closed", row.id, task_id, task.element_id,
                       {"reason": row.status if row.status != RUNNING else "the case moved on"})
    for task_id, view in views.items():
        if task_id in existing:
            continue
        props = view.properties
        try:
            priority = int(props.get("priority", 50))
        except ValueError:
            priority = 50
        session.add(
            HumanTask(
                id=task_id,
                instance_id=row.id,
                element_id=view.element_id,
                name=view.name,
                lane=view.lane,
                candidate_group=props.get("candidateGroups") or view.lane,
                assignee=None,
                created_at=now,
                due_at=None,
                priority=priority,
                form_key=props.get("formKey") or props.get("formJsonSchemaFilename"),
            )
        )
        _audit(session, now, actor, "task_opened", row.id, task_id, view.element_id, {"lane": view.lane})


def _sync_jobs(session: Session, loaded: _Loaded, actor: Actor) -> int:
    """Make the instance's timer jobs match its waiting timers; audit and count the fired ones.

    A job whose timer is gone (or moved to its next cycle) while it was due has fired; one that
    is gone before it was due had its scope end (task completed, instance cancelled).
    """
    row, case, now = loaded.row, loaded.case, loaded.now
    fired = 0
    existing = {
        job.task_id: job
        for job in session.scalars(select(Job).where(Job.instance_id == row.id, Job.kind == "timer"))
    }
    timers = {timer.task_id: timer for timer in case.timers()} if row.status in (RUNNING, ERROR) else {}
    for task_id, job in existing.items():
        moved = task_id in timers and timers[task_id].due_at != job.due_at
        if (task_id not in timers or moved) and job.due_at <= now:
            fired += 1
            _audit(session, now, actor, "timer_fired", row.id, task_id, job.element_id,
                   {"due_at": job.due_at.isoformat()})
        if task_id not in timers:
            session.delete(job)
    for task_id, timer in timers.items():
        job = existing.get(task_id)
        if job is None:
            session.add(
                Job(
                    kind="timer",
                    instance_id=row.id,
                    task_id=task_id,
                    element_id=timer.element_id,
                    due_at=timer.due_at,
                    status="pending",
                    attempts=0,
                    created_at=now,
                )
            )
        elif job.due_at != timer.due_at:
            # A cycle timer moved on to its next occurrence.
            job.due_at = timer.due_at
            job.status = "pending"
            job.attempts = 0
            job.last_error = None
    return fired


def _open_task(session: Session, task_id: str) -> HumanTask:
    task = session.get(HumanTask, task_id)
    if task is not None:
        return task
    done = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.task_id == task_id, AuditEvent.action.in_(("completed", "task_closed")))
        .order_by(AuditEvent.id.desc())
        .limit(1)
    ).first()
    if done is not None and done.action == "completed":
        raise Conflict(f"task {task_id} was already completed by {done.actor} at {done.at.isoformat(timespec='seconds')}")
    if done is not None:
        raise Conflict(f"task {task_id} is no longer open ({done.summary.get('reason', 'closed')})")
    raise NotFound(f"no open task {task_id}")


def _require_lane(actor: Actor, task: HumanTask) -> None:
    """The actor holds the task's lane, or a supervisor assigned the task to them."""
    if task.assignee == actor.name:
        return
    if actor.holds(task.lane) or (task.candidate_group and actor.holds(task.candidate_group)):
        return
    held = ", ".join(sorted(actor.lanes)) or "none"
    raise Forbidden(f"task '{task.name}' belongs to lane '{task.lane}'; {actor.name} holds lanes: {held}")


def _ready_task_or_conflict(loaded: _Loaded, task: HumanTask) -> None:
    if loaded.case.human_task(task.id) is None:
        error = Conflict(
            f"task '{task.name}' is no longer open: the case moved on before your change "
            "(for example its deadline passed); reload the case"
        )
        error.keep_changes = True  # type: ignore[attr-defined]
        raise error


# -- commands -----------------------------------------------------------------------------------


def start_instance(
    engine: CaseEngine,
    session: Session,
    actor: Actor,
    key: str,
    version: int | None = None,
    data: Mapping[str, Any] | None = None,
    business_key: str | None = None,
) -> ProcessInstance:
    """Start an instance of ``key`` (latest version unless ``version``) and run it to its first wait.

    Raises:
        NotFound: no such definition or version.
        InvalidInput: ``data`` is not an object of valid variable names.
    """
    data = _check_data(dict(data) if isinstance(data, Mapping) else data)
    definition = find_definition(session, key, version)
    process = parsed_process(engine, definition)
    now = engine.clock.now()
    with using_clock(engine.clock):
        case = engine.runtime.new(process, data)
        row = ProcessInstance(
            definition_id=definition.id,
            business_key=business_key,
            status=RUNNING,
            snapshot="",
            started_at=now,
            started_by=actor.name,
            updated_at=now,
            updated_by=actor.name,
        )
        session.add(row)
        session.flush()
        _audit(session, now, actor, "started", row.id,
               summary={"key": key, "version": definition.version, "data": summarize(data)})
        loaded = _Loaded(row=row, case=case, now=now)
        failure = case.advance()
        _save(engine, session, loaded, actor, failure=failure)
    return row


def claim_task(engine: CaseEngine, session: Session, actor: Actor, task_id: str) -> HumanTask:
    """Take an unassigned task of one of the actor's lanes.

    Raises:
        Forbidden: the actor does not hold the task's lane.
        Conflict: someone else holds it, or the task is no longer open.
    """
    task = _open_task(session, task_id)
    _require_lane(actor, task)
    if task.assignee == actor.name:
        return task
    if task.assignee is not None:
        raise Conflict(f"task '{task.name}' is already claimed by {task.assignee}")
    return _set_assignee(engine, session, actor, task, actor.name, "claimed")


def unclaim_task(engine: CaseEngine, session: Session, actor: Actor, task_id: str) -> HumanTask:
    """Give a claimed task back to its lane (the assignee, or a supervisor).

    Raises:
        Forbidden: the task is someone else's and the actor may not assign.
    """
    task = _open_task(session, task_id)
    if not actor.may_assign:
        _require_lane(actor, task)
    if task.assignee is None:
        return task
    if task.assignee != actor.name and not actor.may_assign:
        raise Forbidden(f"task '{task.name}' is claimed by {task.assignee}; only they or a supervisor may release it")
    return _set_assignee(engine, session, actor, task, None, "unclaimed")


def assign_task(engine: CaseEngine, session: Session, actor: Actor, task_id: str, assignee: str) -> HumanTask:
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
    task = _open_task(session, task_id)
    return _set_assignee(engine, session, actor, task, assignee, "assigned")


def _set_assignee(
    engine: CaseEngine, session: Session, actor: Actor, task: HumanTask, assignee: str | None, action: str
) -> HumanTask:
    loaded = _load(engine, session, task.instance_id)
    _require_running(loaded)
    with using_clock(engine.clock):
        _advance_first(engine, session, loaded, actor)
        _ready_task_or_conflict(loaded, task)
        previous = task.assignee
        task.assignee = assignee
        # Bump the instance revision: a claim is a change to the case like any other, and two
        # people claiming at once must not both win.
        loaded.row.updated_at = loaded.now
        loaded.row.updated_by = actor.name
        flag_modified(loaded.row, "updated_at")
        _audit(session, loaded.now, actor, action, task.instance_id, task.id, task.element_id,
               {"assignee": assignee, "previous": previous})
        session.flush()
    return task


def complete_task(
    engine: CaseEngine, session: Session, actor: Actor, task_id: str, data: Mapping[str, Any] | None = None
) -> ProcessInstance:
    """Complete a READY human task with ``data`` and run the case on to its next wait.

    If an element fails after the task (a script, a gateway with no true condition) the
    user's completion is kept and the instance goes to ``error`` at that element.

    Raises:
        Forbidden: lane not held, or the task is claimed by someone else.
        Conflict: the task was completed first, or a timer took it away (the timer wins).
        InstanceNotRunning: the instance is in error, completed or cancelled.
    """
    data = _check_data(dict(data) if isinstance(data, Mapping) else data)
    task = _open_task(session, task_id)
    _require_lane(actor, task)
    if task.assignee is not None and task.assignee != actor.name and not actor.all_lanes:
        raise Forbidden(f"task '{task.name}' is claimed by {task.assignee}; ask a supervisor to reassign it")
    loaded = _load(engine, session, task.instance_id)
    _require_running(loaded)
    with using_clock(engine.clock):
        _advance_first(engine, session, loaded, actor)
        _ready_task_or_conflict(loaded, task)
        failure = loaded.case.complete_human_task(task.id, data)
        _audit(session, loaded.now, actor, "completed", task.instance_id, task.id, task.element_id, summarize(data))
        session.info["completed_task"] = task.id
        _save(engine, session, loaded, actor, failure=failure)
    return loaded.row


def cancel_instance(
    engine: CaseEngine, session: Session, actor: Actor, instance_id: int, reason: str | None = None
) -> ProcessInstance:
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
) -> ProcessInstance:
    """Retry an instance in error: ``data`` (the fix) is merged in and the failed element runs again.

    Raises:
        Forbidden: only a supervisor or the system user may retry.
        InstanceNotRunning: the instance is not in error.
    """
    if not actor.may_assign:
        raise Forbidden(f"{actor.name} may not retry cases; an administrator or supervisor can")
    data = _check_data(dict(data) if isinstance(data, Mapping) else data)
    loaded = _load(engine, session, instance_id)
    if loaded.row.status != ERROR:
        raise InstanceNotRunning(f"instance {instance_id} is {loaded.row.status}, not in error")
    failed_at = loaded.row.error_element_id
    with using_clock(engine.clock):
        loaded.row.status = RUNNING
        loaded.row.error_element_id = loaded.row.error_message = None
        failure = loaded.case.retry_failed(data)
        _audit(session, loaded.now, actor, "retried", instance_id, element_id=failed_at, summary=summarize(data))
        _save(engine, session, loaded, actor, failure=failure)
    return loaded.row


def fire_due_timers(engine: CaseEngine, now: datetime | None = None, actor: Actor | None = None) -> int:
    """Fire every timer due at ``now`` (default: the engine's clock); one transaction per instance.

    Firing is idempotent: a second call at the same instant finds nothing due and fires 0.
    An instance changed concurrently is skipped; its timer stays due for the next run.

    Returns:
        The number of timers that fired.
    """
    from engine.actors import SYSTEM

    actor = actor or SYSTEM
    now = now or engine.clock.now()
    with engine.unit_of_work(readonly=True) as uow:
        instance_ids = list(
            uow.session.scalars(
                select(Job.instance_id)
                .join(ProcessInstance, ProcessInstance.id == Job.instance_id)
                .where(Job.kind == "timer", Job.status == "pending", Job.due_at <= now,
                       ProcessInstance.status == RUNNING)
                .distinct()
                .order_by(Job.instance_id)
            )
        )
    fired = 0
    for instance_id in instance_ids:
        try:
            fired += engine.run(_fire_instance_timers, actor, instance_id=instance_id, now=now)
        except Conflict:
            continue
    return fired


def _fire_instance_timers(
    engine: CaseEngine, session: Session, actor: Actor, instance_id: int, now: datetime
) -> int:
    loaded = _load(engine, session, instance_id)
    if loaded.row.status != RUNNING:
        return 0
    loaded.now = now
    # SpiffWorkflow fires when due < now; a job due exactly now must fire too.
    with using_clock(FrozenClock(now + timedelta(microseconds=1))):
        failure = loaded.case.advance()
        fired = _save(engine, session, loaded, actor, failure=failure)
    return fired

