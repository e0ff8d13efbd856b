"""Incidents: jobs whose retries ran out, and notifications that could not be sent.

A job becomes an ``incident`` when its attempts are used up (`engine.jobs.run_job`); an outbox
message becomes ``failed`` when its sends are used up, or when it cannot be written at all
(`workflows.notifications.dispatch_outbox`). Both wait for a supervisor: retry, or (a job) dismiss.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lxml import etree
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.actors import Actor
from engine.models import Job, OutboxMessage, ProcessDefinition, ProcessInstance
from workflows.accounts import require_role
from workflows.models import ServiceRequest
from workflows.read.definitions import english_names_of_version

if TYPE_CHECKING:
    from engine.context import CaseEngine

#: The status of a job whose retries ran out, and of a message that could not be sent.
INCIDENT, FAILED = "incident", "failed"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


def element_names_of(xml: str) -> dict[str, str]:
    """Every named element of a diagram by id (its ``name`` as drawn)."""
    try:
        root = etree.fromstring(xml.encode("utf-8"), _PARSER)
    except etree.XMLSyntaxError:
        return {}
    return {element.get("id"): element.get("name").strip() for element in root.iter()
            if isinstance(element.tag, str) and element.get("id") and (element.get("name") or "").strip()}


def incident_count(engine: CaseEngine, session: Session, actor: Actor) -> int:
    """How many jobs are incidents and messages failed (the navigation's badge).

    Raises:
        Forbidden: not a supervisor or administrator.
    """
    require_role(actor, "supervisor", "administrator")
    jobs = session.scalar(select(func.count(Job.id)).where(Job.status == INCIDENT)) or 0
    messages = session.scalar(select(func.count(OutboxMessage.id)).where(OutboxMessage.status == FAILED)) or 0
    return jobs + messages


def incidents(engine: CaseEngine, session: Session, actor: Actor) -> dict[str, list[dict[str, Any]]]:
    """Incident jobs (oldest first) and failed messages (oldest first), each with its case.

    A job gives its element's name as drawn in its case's diagram version (Arabic, and English
    where the diagram gives one); a case that runs a request gives its reference.

    Raises:
        Forbidden: not a supervisor or administrator.
    """
    require_role(actor, "supervisor", "administrator")
    jobs = list(session.scalars(select(Job).where(Job.status == INCIDENT).order_by(Job.id)))
    messages = list(session.scalars(select(OutboxMessage).where(OutboxMessage.status == FAILED)
                                    .order_by(OutboxMessage.id)))
    instance_ids = {row.instance_id for row in (*jobs, *messages) if row.instance_id is not None}
    cases: dict[int, dict[str, Any]] = {}
    if instance_ids:
        for instance_id, definition_id, key, reference in session.execute(
                select(ProcessInstance.id, ProcessInstance.definition_id, ProcessDefinition.key,
                       ServiceRequest.reference)
                .join(ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id)
                .outerjoin(ServiceRequest, ServiceRequest.instance_id == ProcessInstance.id)
                .where(ProcessInstance.id.in_(sorted(instance_ids)))):
            cases[instance_id] = {"id": instance_id, "definition_id": definition_id, "process": key,
                                  "reference": reference}
    names: dict[int, tuple[dict[str, str], dict[str, str]]] = {}

    def element_name(definition_id: int | None, element_id: str) -> dict[str, str]:
        if definition_id is None:
            return {"ar": element_id, "en": element_id}
        if definition_id not in names:
            xml = session.scalar(select(ProcessDefinition.xml).where(ProcessDefinition.id == definition_id)) or ""
            names[definition_id] = (element_names_of(xml), english_names_of_version(session, definition_id))
        arabic, english = names[definition_id]
        name = arabic.get(element_id) or element_id
        return {"ar": name, "en": english.get(element_id) or name}

    listed_jobs = []
    for job in jobs:
        found = cases.get(job.instance_id) if job.instance_id is not None else None
        definition_id = found["definition_id"] if found else job.definition_id
        listed_jobs.append({"id": job.id, "kind": job.kind, "error": job.last_error or "", "attempts": job.attempts,
                            "due_at": job.due_at, "element_id": job.element_id,
                            "element_name": element_name(definition_id, job.element_id), "case": found})
    listed_messages = []
    for message in messages:
        payload = message.payload or {}
        listed_messages.append({"id": message.id, "kind": message.kind, "error": message.last_error or "",
                                "attempts": message.attempts, "created_at": message.created_at,
                                "recipient_kind": message.recipient.partition(":")[0],
                                "channel": payload.get("channel") or "",
                                "case": cases.get(message.instance_id) if message.instance_id is not None else None})
    return {"jobs": listed_jobs, "messages": listed_messages}
