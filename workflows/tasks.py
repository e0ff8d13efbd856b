"""What a staff member sees while working a task.

The task with its request, member, checklist, draft, recent contacts and history, read in one
query unit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.definitions import parsed_process
from engine.models import AuditEvent, HumanTask, ProcessDefinition, ProcessInstance
from workflows.forms import load_draft
from workflows.members import member_contacts
from workflows.models import Member, ServiceRequest
from workflows.requests import documents, domain, get_request

if TYPE_CHECKING:
    from engine.context import CaseEngine


def task_context(engine: CaseEngine, session: Session, task_id: str, history: int = 15,
                 contacts: int = 10) -> dict[str, Any] | None:
    """The open task and all that goes beside its form; None when the task is not open."""
    task = session.get(HumanTask, task_id)
    if task is None:
        return None
    case = session.scalars(select(ServiceRequest).where(ServiceRequest.instance_id == task.instance_id)).first()
    member = session.get(Member, case.member_id) if case else None
    kinds = {d.kind: d for d in domain(engine).catalogue.service(case.service_type).documents} if case else {}
    instance = session.get(ProcessInstance, task.instance_id)
    definition = session.get(ProcessDefinition, instance.definition_id) if instance else None
    return {
        "task": task,
        "instance": instance,
        "element_names": parsed_process(engine, definition).element_names() if definition else {},
        "case": case,
        "member": member,
        "checklist": documents(session, case.id) if case else [],
        "kinds": kinds,
        "draft": load_draft(session, task_id),
        "history": session.scalars(select(AuditEvent).where(AuditEvent.instance_id == task.instance_id)
                                   .order_by(AuditEvent.id.desc()).limit(history)).all(),
        "contacts": member_contacts(session, member.id)[:contacts] if member else [],
    }


def stored_file(session: Session, request_id: int, kind: str) -> str | None:
    """The stored name of the file attached to a checklist item, if any.

    Raises:
        NotFound: no such request.
    """
    get_request(session, request_id)
    return next((d.file_name for d in documents(session, request_id) if d.kind == kind), None)
