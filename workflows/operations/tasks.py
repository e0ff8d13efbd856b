"""Tasks: claim, release, assign, complete (checked against the task's form), save a draft.

Completing reads the task's row once (in the engine command, which hands it to the form check)
and loads its form once, in the one transaction of the command.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from engine import commands
from engine.access import require_may_work
from engine.actors import Actor
from engine.casestore import closed_task_error
from engine.commands import InstanceState, OpenTask
from engine.db import rerunnable
from engine.errors import NO_SUCH, REQUIRED, TOO_LONG, InvalidInput, error_code
from engine.models import HumanTask
from workflows.accounts import users_with_lane
from workflows.forms import NO_FORM, data_from_fields, form_of_task, validate
from workflows.models import TaskDraft, User

if TYPE_CHECKING:
    from engine.context import CaseEngine

_DELETE_DRAFT = delete(TaskDraft.__table__)

#: The person a task is reassigned to (``assignee``) does not hold its lane (``lane``).
ASSIGNEE_NOT_IN_LANE = error_code("assignee_not_in_lane", "assignee", "lane")
#: The longest reason kept for a reassignment.
REASON_CHARS = 300


@rerunnable
def claim_task(engine: CaseEngine, session: Session, actor: Actor, task_id: str) -> OpenTask:
    """Take an unassigned task of one of the actor's lanes.

    Raises:
        Forbidden: the actor does not hold the task's lane.
        Conflict: someone else holds it, or the task is no longer open.
    """
    return commands.claim_task(engine, session, actor, task_id)


@rerunnable
def release_task(engine: CaseEngine, session: Session, actor: Actor, task_id: str) -> OpenTask:
    """Give a claimed task back to its lane (its assignee, or a supervisor).

    Raises:
        Forbidden: the task is someone else's and the actor may not assign.
    """
    return commands.unclaim_task(engine, session, actor, task_id)


@rerunnable
def assign_task(
    engine: CaseEngine,
    session: Session,
    actor: Actor,
    task_id: str,
    assignee: str,
    reason: str | None = None,
    *,
    lane_holders_only: bool = False,
) -> OpenTask:
    """Assign (or reassign) a task to a user who can sign in; supervisors only.

    ``reason`` (the supervisors' board asks for one: pass it, even empty, to require it) is kept in
    the task's history. With ``lane_holders_only`` the person must hold the task's lane (the board
    offers only them); the inbox may also hand a task to someone outside it.

    Raises:
        Forbidden: the actor may not assign.
        InvalidInput: no active user has that name; the reason is missing or too long; the person
            does not hold the lane. Nothing is changed.
        Conflict: the task has closed. NotFound: no such task.
    """
    name = (assignee or "").strip()
    known = select(User.id).where(User.username == name, User.is_active.is_(True))
    if actor.may_assign and name and session.scalar(known) is None:  # who may not assign learns no names
        raise InvalidInput(f"no user named {name!r}", code=NO_SUCH, params={"what": "user", "ident": name})
    why = (reason or "").strip()
    if actor.may_assign and reason is not None:
        if not why:
            raise InvalidInput("reason: say why the task is reassigned", code=REQUIRED, params={"field": "reason"})
        if len(why) > REASON_CHARS:
            raise InvalidInput(f"reason: at most {REASON_CHARS} characters", code=TOO_LONG,
                               params={"field": "reason", "limit": REASON_CHARS})
    if actor.may_assign and lane_holders_only and name:
        task = session.get(HumanTask, task_id)
        if task is None:
            raise closed_task_error(session, task_id)
        if task.lane and name not in {u.username for u in users_with_lane(session, task.lane)}:
            raise InvalidInput(f"{name} does not hold the lane {task.lane!r}", code=ASSIGNEE_NOT_IN_LANE,
                               params={"assignee": name, "lane": task.lane})
    return commands.assign_task(engine, session, actor, task_id, name, reason=why)


@rerunnable
def complete_task(
    engine: CaseEngine,
    session: Session,
    actor: Actor,
    task_id: str,
    data: Mapping[str, Any] | None = None,
    *,
    fields: Mapping[str, str] | None = None,
) -> InstanceState:
    """Complete a task with ``data`` (or the text ``fields`` of a submitted page) checked against its form.

    The form the task names validates the data on the server, every wrong field named, before
    the engine sees it; the task's draft goes with it.

    Raises:
        FormErrors: the data does not fit the form (nothing is changed).
        Forbidden, Conflict, NotFound, InstanceNotRunning: as `engine.commands.complete_task`.
    """

    def check(task: OpenTask, given: dict[str, Any]) -> dict[str, Any]:
        form = form_of_task(engine, session, task)
        if fields is not None:
            given = data_from_fields(form or NO_FORM, fields)
        return validate(form, given) if form is not None else given

    state = commands.complete_task(engine, session, actor, task_id, data, prepare=check)
    session.connection().execute(_DELETE_DRAFT.where(TaskDraft.__table__.c.task_id == task_id))
    return state


def save_draft(
    engine: CaseEngine,
    session: Session,
    actor: Actor,
    task_id: str,
    data: Mapping[str, Any] | None = None,
    *,
    fields: Mapping[str, str] | None = None,
) -> TaskDraft:
    """Keep form values for an open task without checking or completing it.

    Raises:
        Conflict: the task has closed. NotFound: no such task.
        Forbidden: the actor may not work on the task.
    """
    task = session.get(HumanTask, task_id)
    if task is None:
        raise closed_task_error(session, task_id)
    require_may_work(actor, task)
    if fields is not None:
        data = data_from_fields(form_of_task(engine, session, task) or NO_FORM, fields)
    draft = session.get(TaskDraft, task_id)
    if draft is None:
        draft = TaskDraft(task_id=task_id)
        session.add(draft)
    draft.data = dict(data or {})
    draft.saved_by = actor.name
    draft.saved_at = engine.now()
    session.flush()
    return draft
