"""Open tasks' deadlines counted again when the working calendar changes (a closure, an Eid correction).

Each open task's SLA is evaluated again by the rule that set it when the task opened
(`engine.casestore.task_sla`), from the moment it opened, on the new calendar: a deadline of
``business_days(n)`` moves with the calendar, a fixed ISO duration (``"PT4H"``) does not. The due
and warning times of the task and its pending warning and escalation jobs follow. One function
serves the preview and the saving (``dry_run``), so what a preview announces is what saving does.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from engine import audit, casestore
from engine.actors import Actor
from engine.calendar import BusinessCalendar
from engine.errors import InvalidInput, ScriptError, error_code
from engine.job_rows import SLA_ESCALATE, SLA_WARN, announce_due
from engine.models import HumanTask, Job, ProcessInstance

#: A calendar change that names no day.
NO_CHANGED_DAY = error_code("calendar_no_day")

if TYPE_CHECKING:
    from engine.context import CaseEngine

#: Deadlines set before `casestore.task_sla` read "now" as the task's opening time were counted
#: from a clock read a few milliseconds later; such a difference is not a move.
_SAME = timedelta(seconds=1)
_TASKS = HumanTask.__table__
_JOBS = Job.__table__


@dataclass(frozen=True)
class MovedTask:
    """One open task whose deadlines move: its due and warning times before and after, and its jobs."""

    task_id: str
    instance_id: int
    process_key: str
    element_id: str
    name: str
    due_before: datetime | None
    due_after: datetime | None
    warn_before: datetime | None
    warn_after: datetime | None
    #: Pending warning and escalation jobs: (job id, kind, due before, due after).
    jobs: tuple[tuple[int, str, datetime, datetime], ...]
    #: Working days the deadline moves (the due time, else the warning), counted on the new
    #: calendar: positive later, negative earlier, 0 when only the clock time or a job moves.
    working_days: int

    def as_dict(self) -> dict[str, Any]:
        """What a preview lists and the audit keeps."""
        return {"task_id": self.task_id, "instance_id": self.instance_id, "process_key": self.process_key,
                "element_id": self.element_id, "name": self.name, "due_before": self.due_before,
                "due_after": self.due_after, "warn_before": self.warn_before, "warn_after": self.warn_after,
                "jobs": len(self.jobs), "working_days": self.working_days}


def shift_deadlines(
    engine: CaseEngine,
    session: Session,
    actor: Actor,
    calendar: BusinessCalendar,
    changed_days: Iterable[date],
    *,
    dry_run: bool,
) -> list[MovedTask]:
    """The open tasks whose deadlines move on ``calendar``; with ``dry_run`` false, move them (flushes).

    Only tasks that opened before the end of the last changed day and have a deadline or a
    pending job on or after the first one can move; each of them is evaluated again. Saving
    locks each case first (instance → task → job, as commands do), writes the new times and one
    ``deadline_moved`` audit event per task (it shows in the case's history).

    Raises:
        InvalidInput: no changed day.
    """
    days = sorted(set(changed_days))
    if not days:
        raise InvalidInput("name at least one day of the calendar that changes", code=NO_CHANGED_DAY)
    first = datetime.combine(days[0], time(0), tzinfo=calendar.tz)
    after_last = datetime.combine(days[-1] + timedelta(days=1), time(0), tzinfo=calendar.tz)
    pending_later = select(_JOBS.c.task_id).where(
        _JOBS.c.status == "pending", _JOBS.c.due_at >= first,
        or_(_JOBS.c.kind == SLA_WARN, _JOBS.c.kind.like(f"{SLA_ESCALATE}_%")))
    candidates = session.execute(
        select(_TASKS.c.id, _TASKS.c.instance_id, _TASKS.c.created_at, _TASKS.c.due_at, _TASKS.c.warn_at)
        .where(_TASKS.c.created_at < after_last,
               or_(_TASKS.c.due_at >= first, _TASKS.c.warn_at >= first, _TASKS.c.id.in_(pending_later)))
        .order_by(_TASKS.c.instance_id, _TASKS.c.id)
    ).all()
    if not candidates:
        return []
    jobs: dict[str, list[Any]] = {}
    for job in session.execute(
        select(_JOBS.c.id, _JOBS.c.task_id, _JOBS.c.kind, _JOBS.c.due_at)
        .where(_JOBS.c.task_id.in_([row.id for row in candidates]), _JOBS.c.status == "pending",
               or_(_JOBS.c.kind == SLA_WARN, _JOBS.c.kind.like(f"{SLA_ESCALATE}_%")))
        .order_by(_JOBS.c.id)
    ):
        jobs.setdefault(job.task_id, []).append(job)
    moved: list[MovedTask] = []
    loaded_id, loaded = None, None
    with engine.calendars.using(calendar):
        for row in candidates:
            if row.instance_id != loaded_id:
                loaded_id = row.instance_id
                if not dry_run:
                    _lock_instance(session, row.instance_id)
                loaded = casestore.load(engine, session, row.instance_id)
            view = loaded.tasks_before.get(row.id) if loaded is not None else None
            if view is None:
                continue  # the projection is ahead of the snapshot: nothing to count from
            try:
                times = casestore.task_sla(engine, loaded, view, row.created_at)
            except (ScriptError, InvalidInput):
                continue  # it could not be computed when the task opened either; it keeps what it has
            if times is None:
                continue
            found = _moved(calendar, row, loaded.case.process.key, view, times, jobs.get(row.id, []))
            if found is not None:
                moved.append(found)
    if not dry_run:
        _write(session, actor, engine.clock.now(), moved)
    return moved


def _moved(calendar: BusinessCalendar, row: Any, process_key: str, view: Any, times: Any,
           jobs: list[Any]) -> MovedTask | None:
    due = row.due_at if _differs(row.due_at, times.due_at) else None
    warn = row.warn_at if _differs(row.warn_at, times.warn_at) else None
    escalations = {f"{SLA_ESCALATE}_{level}": at for level, (at, _) in enumerate(times.escalations, start=1)}
    new_jobs = []
    for job in jobs:
        after = times.warn_at if job.kind == SLA_WARN else escalations.get(job.kind)
        if after is not None and _differs(job.due_at, after):
            new_jobs.append((job.id, job.kind, job.due_at, after))
    if due is None and warn is None and not new_jobs:
        return None
    before, after = (row.due_at, times.due_at) if due is not None else (row.warn_at, times.warn_at)
    if before is None or after is None:
        shift = 0
    else:
        shift = calendar.business_days_between(before.astimezone(calendar.tz).date(),
                                               after.astimezone(calendar.tz).date())
    return MovedTask(
        task_id=row.id, instance_id=row.instance_id, process_key=process_key, element_id=view.element_id,
        name=view.name, due_before=row.due_at, due_after=times.due_at if due is not None else row.due_at,
        warn_before=row.warn_at, warn_after=times.warn_at if warn is not None else row.warn_at,
        jobs=tuple(new_jobs), working_days=shift,
    )


def _differs(before: datetime | None, after: datetime | None) -> bool:
    if before is None or after is None:
        return False  # a deadline is moved, never added or taken away, by a calendar change
    return abs(before - after) >= _SAME


def _lock_instance(session: Session, instance_id: int) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(ProcessInstance.id).where(ProcessInstance.id == instance_id).with_for_update())


def _write(session: Session, actor: Actor, now: datetime, moved: list[MovedTask]) -> None:
    for task in moved:
        session.execute(update(_TASKS).where(_TASKS.c.id == task.task_id)
                        .values(due_at=task.due_after, warn_at=task.warn_after))
        for job_id, _, _, after in task.jobs:
            session.execute(update(_JOBS).where(_JOBS.c.id == job_id, _JOBS.c.status == "pending")
                            .values(due_at=after))
            announce_due(session, after)
        audit.record(session, now, actor, "deadline_moved", task.instance_id, task.task_id, task.element_id, {
            "due": [_iso(task.due_before), _iso(task.due_after)],
            "warn": [_iso(task.warn_before), _iso(task.warn_after)],
            "jobs": len(task.jobs), "working_days": task.working_days, "why": "calendar_changed",
        })
    session.flush()


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
