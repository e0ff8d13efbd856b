"""Engine commands. Each runs inside one unit of work (see `CaseEngine.run`).

Every command on an instance follows the same order, which is what keeps SpiffWorkflow's
timer race away (an overdue boundary timer silently discarding a user's decision):

1. load the instance row (its revision is remembered; the UPDATE checks it);
2. thaw the workflow, **refresh timers and run engine steps first** (an overdue timer fires
   now, before anything else happens);
3. check the task is still READY and the actor may act on its lane; if the timer took the task
   away, refuse with a `Conflict` and keep the timer's effect;
4. apply the change, run engine steps;
5. write snapshot, task projection, jobs and audit events together (`engine.casestore`).

A second writer that loaded the same revision fails at step 5 with a conflict, never a lost
update: on PostgreSQL through the revision check, on SQLite because writers queue at BEGIN.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from engine import audit, casestore
from engine.access import require_may_see, require_may_work
from engine.actors import Actor
from engine.casestore import CANCELLED, ERROR, RUNNING, InstanceState, LoadedCase, OpenTask
from engine.clock import FrozenClock
from engine.db import rerunnable
from engine.definitions import find_definition, process_for_definition_id
from engine.errors import (
    ASSIGNEE_MISSING,
    CASE_NOT_RUNNING,
    CLAIMED_BY_OTHER,
    INVALID_DATA,
    NOT_ALLOWED,
    Conflict,
    Forbidden,
    InstanceNotRunning,
    InvalidInput,
)
from engine.spiff import using_clock

if TYPE_CHECKING:
    from engine.context import CaseEngine

#: Checks the data for a task once its row is read and the actor may work on it; returns the
#: data to apply (a form's validation, say). Raises to refuse, before anything is changed.
Prepare = Callable[[OpenTask, dict[str, Any]], dict[str, Any]]

__all__ = [
    "CANCELLED", "ERROR", "RUNNING", "InstanceState", "OpenTask", "Prepare", "assign_task", "cancel_instance",
    "claim_task", "complete_task", "fire_instance_timers", "retry_instance", "start_instance", "unclaim_task",
]


def _data(engine: CaseEngine, data: Mapping[str, Any] | None) -> dict[str, Any]:
    return casestore.check_data(dict(data) if isinstance(data, Mapping) else data, engine.sandbox.reserved_names())


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
        raise InvalidInput("business_key must be text of 1 to 200 characters", code=INVALID_DATA,
                           params={"key": "business_key"})
    data = _data(engine, data)
    definition = find_definition(session, key, version)
    process = process_for_definition_id(engine, session, definition.id)
    now = engine.clock.now()
    with using_clock(engine.clock):
        case = engine.runtime.new(process, data, start_timer=start_timer)
        row = casestore.insert_instance(session, definition.id, business_key, now, actor)
        audit.record(session, now, actor, "started", row.id,
                     summary={"key": key, "version": definition.version, "data": audit.summarize(data)})
        loaded = LoadedCase(row=row, case=case, now=now)
        with casestore.stepping(engine, session, loaded, actor):
            failure = case.advance()
        casestore.save(engine, session, loaded, actor, failure=failure)
    return row


@rerunnable
def claim_task(engine: CaseEngine, session: Session, actor: Actor, task_id: str) -> OpenTask:
    """Take an unassigned task of one of the actor's lanes (a supervisor: of any lane).

    Raises:
        Forbidden: the actor does not hold the task's lane (nor oversees every lane).
        Conflict: someone else holds it, or the task is no longer open.
    """
    task, row = casestore.open_task(session, task_id)
    require_may_see(actor, task)
    if task.assignee == actor.name:
        return task
    if task.assignee is not None:
        raise Conflict(f"task '{task.name}' is already claimed by {task.assignee}", code=CLAIMED_BY_OTHER,
                       params={"task": task.name, "assignee": task.assignee})
    return _set_assignee(engine, session, actor, task, row, actor.name, "claimed")


@rerunnable
def unclaim_task(engine: CaseEngine, session: Session, actor: Actor, task_id: str) -> OpenTask:
    """Give a claimed task back to its lane (the assignee, or a supervisor).

    Raises:
        Forbidden: the task is someone else's and the actor may not assign.
    """
    task, row = casestore.open_task(session, task_id)
    if not actor.may_assign:
        require_may_work(actor, task)
    if task.assignee is None:
        return task
    if task.assignee != actor.name and not actor.may_assign:
        raise Forbidden(f"task '{task.name}' is claimed by {task.assignee}; only they or a supervisor may release it",
                        code=CLAIMED_BY_OTHER, params={"task": task.name, "assignee": task.assignee})
    return _set_assignee(engine, session, actor, task, row, None, "unclaimed")


@rerunnable
def assign_task(
    engine: CaseEngine, session: Session, actor: Actor, task_id: str, assignee: str, reason: str = ""
) -> OpenTask:
    """Assign (or reassign) a task to ``assignee``; supervisors and the system user only.

    A ``reason``, when given, is kept in the audit event (the case's history shows it).

    Raises:
        Forbidden: the actor may not assign.
        InvalidInput: the assignee name is empty.
    """
    if not actor.may_assign:
        raise Forbidden(f"{actor.name} may not assign tasks; a supervisor can", code=NOT_ALLOWED,
                        params={"action": "assign", "actor": actor.name, "roles": ["supervisor"]})
    assignee = (assignee or "").strip()
    if not assignee:
        raise InvalidInput("assignee must be a user name", code=ASSIGNEE_MISSING)
    task, row = casestore.open_task(session, task_id)
    return _set_assignee(engine, session, actor, task, row, assignee, "assigned", reason=(reason or "").strip())


def _set_assignee(
    engine: CaseEngine,
    session: Session,
    actor: Actor,
    task: OpenTask,
    row: InstanceState,
    assignee: str | None,
    action: str,
    reason: str = "",
) -> OpenTask:
    loaded = casestore.load(engine, session, task.instance_id, row)
    casestore.require_running(loaded)
    with casestore.stepping(engine, session, loaded, actor):
        casestore.advance_first(engine, session, loaded, actor)
        casestore.require_ready(loaded, task)
        previous = task.assignee
        # Bump the instance revision: a claim is a change to the case like any other, and two
        # people claiming at once must not both win.
        loaded.row.updated_at = loaded.now
        loaded.row.updated_by = actor.name
        casestore.write_instance(engine, session, loaded.row)
        casestore.write_assignee(session, task, assignee, loaded.now)
        summary = {"assignee": assignee, "previous": previous}
        if reason:
            summary["reason"] = reason
        audit.record(session, loaded.now, actor, action, task.instance_id, task.id, task.element_id, summary)
        audit.flush(session)
    return task


@rerunnable
def complete_task(
    engine: CaseEngine,
    session: Session,
    actor: Actor,
    task_id: str,
    data: Mapping[str, Any] | None = None,
    prepare: Prepare | None = None,
) -> InstanceState:
    """Complete a READY human task with ``data`` and run the case on to its next wait.

    ``prepare`` checks the data against what the task asks for (its form) once the task's row
    is read and the actor may work on it, and gives the data to apply. If an element fails
    after the task (a script, a gateway with no true condition) the user's completion is kept
    and the instance goes to ``error`` at that element.

    Raises:
        Forbidden: lane not held, or the task is claimed by someone else.
        Conflict: the task was completed first, or a timer took it away (the timer wins).
        InstanceNotRunning: the instance is in error, completed or cancelled.
        EngineError: what ``prepare`` raised (nothing is changed).
    """
    data = _data(engine, data)
    task, row = casestore.open_task(session, task_id)
    require_may_work(actor, task)
    if task.assignee is not None and task.assignee != actor.name and not actor.all_lanes:
        raise Forbidden(f"task '{task.name}' is claimed by {task.assignee}; ask a supervisor to reassign it",
                        code=CLAIMED_BY_OTHER, params={"task": task.name, "assignee": task.assignee})
    if prepare is not None:
        data = _data(engine, prepare(task, data))
    loaded = casestore.load(engine, session, task.instance_id, row)
    casestore.require_running(loaded)
    with casestore.stepping(engine, session, loaded, actor):
        casestore.advance_first(engine, session, loaded, actor)
        casestore.require_ready(loaded, task)
        failure = loaded.case.complete_human_task(task.id, data)
        audit.record(session, loaded.now, actor, "completed", task.instance_id, task.id, task.element_id,
                     audit.summarize(data))
        casestore.save(engine, session, loaded, actor, failure=failure, completed_task=task.id)
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
        raise Forbidden(f"{actor.name} may not cancel cases; a supervisor can", code=NOT_ALLOWED,
                        params={"action": "cancel", "actor": actor.name, "roles": ["supervisor"]})
    loaded = casestore.load(engine, session, instance_id)
    if loaded.row.status not in (RUNNING, ERROR):
        raise InstanceNotRunning(f"instance {instance_id} is {loaded.row.status}", code=CASE_NOT_RUNNING,
                                 params={"instance": instance_id, "status": loaded.row.status})
    loaded.case.cancel()
    loaded.row.status = CANCELLED
    loaded.row.ended_at = loaded.now
    audit.record(session, loaded.now, actor, "cancelled", instance_id, summary={"reason": reason or ""})
    casestore.save(engine, session, loaded, actor)
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
        raise Forbidden(f"{actor.name} may not retry cases; an administrator or supervisor can", code=NOT_ALLOWED,
                        params={"action": "retry", "actor": actor.name, "roles": ["administrator", "supervisor"]})
    data = _data(engine, data)
    loaded = casestore.load(engine, session, instance_id)
    if loaded.row.status != ERROR:
        raise InstanceNotRunning(f"instance {instance_id} is {loaded.row.status}, not in error", code=CASE_NOT_RUNNING,
                                 params={"instance": instance_id, "status": loaded.row.status})
    failed_at = loaded.row.error_element_id
    with casestore.stepping(engine, session, loaded, actor):
        loaded.row.status = RUNNING
        loaded.row.error_element_id = loaded.row.error_message = None
        failure = loaded.case.retry_failed(data, failed_at)
        audit.record(session, loaded.now, actor, "retried", instance_id, element_id=failed_at,
                     summary=audit.summarize(data))
        casestore.save(engine, session, loaded, actor, failure=failure)
    return loaded.row


def fire_instance_timers(
    engine: CaseEngine, session: Session, actor: Actor, instance_id: int, now: datetime
) -> int:
    """Fire the due timers of one instance at ``now`` and save it; return how many fired."""
    loaded = casestore.load(engine, session, instance_id)
    if loaded.row.status != RUNNING:
        return 0
    loaded.now = now
    # SpiffWorkflow fires when due < now; a job due exactly now must fire too.
    with casestore.stepping(engine, session, loaded, actor, FrozenClock(now + timedelta(microseconds=1))):
        failure = loaded.case.advance()
        fired = casestore.save(engine, session, loaded, actor, failure=failure)
    return fired
