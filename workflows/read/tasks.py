"""Tasks as staff see them: the task page (the task with all that goes beside its form), task lists."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.access import may_work, require_may_see
from engine.actors import Actor
from engine.casestore import closed_task_error
from engine.definitions import process_for_definition_id
from engine.errors import NotFound
from engine.models import AuditEvent, HumanTask, ProcessInstance
from engine.queries import list_tasks, task_as_dict
from workflows.accounts import require_staff, users_with_lane
from workflows.catalogue import DocumentKind
from workflows.documents import FILE_GONE, upload_path
from workflows.domain import domain
from workflows.forms import NO_FORM, form_of_task
from workflows.members import member_contacts
from workflows.models import Contact, Member, RequestDocument, ServiceRequest, TaskDraft
from workflows.promises import PromiseClock, promise_clock
from workflows.read.definitions import english_names_of_version
from workflows.requests import documents, get_request, request_of_instance, unverified_required

if TYPE_CHECKING:
    from engine.context import CaseEngine

__all__ = ["TaskPage", "document_file", "task_as_dict", "task_list", "task_page"]


@dataclass
class TaskPage:
    """The open task and all that goes beside its form."""

    task: HumanTask
    instance: ProcessInstance
    form: dict[str, Any]
    #: The name drawn on each element of the task's diagram, by element id.
    element_names: dict[str, str]
    #: The task's English name (``tawasul:nameEn`` in its diagram), if it gives one.
    english_name: str | None
    case: ServiceRequest | None
    member: Member | None
    checklist: list[RequestDocument]
    kinds: dict[str, DocumentKind]
    draft: TaskDraft | None
    history: list[AuditEvent]
    contacts: list[Contact]
    #: For each form field naming people (``x-people-of-lane``), the names of those who hold that lane.
    people: dict[str, list[str]]
    #: False for a supervisor looking at another lane's task: they see it, and work on it once it is theirs.
    may_work: bool = True
    #: Where the promise of the committee's answer stands (paused while the case waits on the member).
    promise: PromiseClock | None = None

    @property
    def keeps_checklist(self) -> bool:
        """True when the task's form marks the request's checklist (a verification task)."""
        return bool(self.form.get("x-checklist")) and self.case is not None

    @property
    def unverified_documents(self) -> list[RequestDocument]:
        """On a verification task, the required documents not verified yet.

        While any is, the request is not complete, whatever the form says: it goes on to ask for them.
        """
        return unverified_required(self.checklist) if self.keeps_checklist else []


def task_page(
    engine: CaseEngine, session: Session, actor: Actor, task_id: str, history: int = 15, contacts: int = 10
) -> TaskPage:
    """The task page of an open task the actor may see (a supervisor's other lanes read-only).

    Raises:
        Conflict: the task has closed (who completed it, and when). NotFound: no such task.
        Forbidden: the actor may not see it.
    """
    require_staff(actor)
    task = session.get(HumanTask, task_id)
    if task is None:
        raise closed_task_error(session, task_id)
    require_may_see(actor, task)
    instance = session.get(ProcessInstance, task.instance_id)
    assert instance is not None
    case = request_of_instance(session, task.instance_id)
    member = session.get(Member, case.member_id) if case else None
    kinds = {d.kind: d for d in domain(engine).catalogue.service(case.service_type).documents} if case else {}
    form = form_of_task(engine, session, task) or NO_FORM
    people = {name: sorted(u.display_name for u in users_with_lane(session, spec["x-people-of-lane"]))
              for name, spec in (form.get("properties") or {}).items() if spec.get("x-people-of-lane")}
    return TaskPage(
        task=task,
        instance=instance,
        form=form,
        element_names=process_for_definition_id(engine, session, instance.definition_id).element_names(),
        english_name=english_names_of_version(session, instance.definition_id).get(task.element_id),
        case=case,
        member=member,
        checklist=documents(session, case.id) if case else [],
        kinds=kinds,
        draft=session.get(TaskDraft, task_id),
        history=list(session.scalars(select(AuditEvent).where(AuditEvent.instance_id == task.instance_id)
                                     .order_by(AuditEvent.id.desc()).limit(history))),
        contacts=member_contacts(session, member.id)[:contacts] if member else [],
        people=people,
        may_work=may_work(actor, task.lane, task.candidate_group, task.assignee),
        promise=promise_clock(engine, session, case) if case else None,
    )


def task_list(
    engine: CaseEngine,
    session: Session,
    actor: Actor,
    instance_id: int | None = None,
    lane: str | None = None,
    assignee: str | None = None,
    sla: str | None = None,
) -> list[dict[str, Any]]:
    """The open tasks the actor may see, as JSON, oldest deadline first, each with its SLA state.

    Raises:
        InvalidInput: ``sla`` is not one of on_track, at_risk, late, no_deadline.
    """
    now = engine.clock.now()
    tasks = list_tasks(engine, session, actor, instance_id, lane, assignee, sla=sla)
    return [task_as_dict(task, now) for task in tasks]


def document_file(engine: CaseEngine, session: Session, actor: Actor, request_id: int, kind: str) -> Path:
    """The stored file of a checklist item, for staff.

    Raises:
        Forbidden: a member's account. NotFound: no such request, item or file.
    """
    require_staff(actor)
    get_request(session, request_id)
    stored = session.scalar(select(RequestDocument.file_name).where(RequestDocument.request_id == request_id,
                                                                   RequestDocument.kind == kind))
    if not stored:
        raise NotFound("the document has no file", code=FILE_GONE)
    return upload_path(engine, stored)
