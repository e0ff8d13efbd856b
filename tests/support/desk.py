"""A front desk for tests: the three diagrams deployed, one member, and staff who drive requests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select

from engine.actors import SYSTEM, Actor
from engine.definitions import deploy_definition
from engine.models import HumanTask, OutboxMessage
from engine.queries import instance_detail, list_tasks
from workflows import identity
from workflows.models import Member, ServiceRequest
from workflows.operations.cases import open_request
from workflows.operations.members import register_member
from workflows.operations.tasks import complete_task
from workflows.requests import documents, mark_document

PROJECT_BPMN_DIR = Path(__file__).resolve().parents[2] / "bpmn"
DIAGRAMS = ("member_request", "inquiry", "membership_registration")

RECEPTION = Actor.user("reception1", ["reception"], roles=["reception"])
RESEARCHER = Actor.user("researcher1", ["social_researcher"], roles=["social_researcher"])
COMMITTEE = Actor.user("committee1", ["committee"], roles=["committee"])
DELIVERY = Actor.user("delivery1", ["service_delivery"], roles=["service_delivery"])
SUPERVISOR = Actor.user("supervisor1", ["supervisor"], may_assign=True, roles=["supervisor"])
#: The member every desk starts with.
NOURA = {"national_id": identity.with_check_digit("108765432"), "name_ar": "نورة العتيبي",
         "name_en": "Noura Alotaibi", "mobile": "0551234567", "email": "noura@example.org"}


def deploy_project_diagrams(engine: Any) -> None:
    """Deploy the project's three diagrams (``bpmn/``)."""
    for name in DIAGRAMS:
        path = PROJECT_BPMN_DIR / f"{name}.bpmn"
        engine.run(deploy_definition, SYSTEM, path.read_bytes(), path.name)


class Desk:
    """The project's diagrams deployed, the member ``NOURA`` registered, and helpers to drive her requests."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        deploy_project_diagrams(engine)
        self.member: Member = engine.run(register_member, RECEPTION, **NOURA)

    def open(self, service_type: str, channel: str = "in_person") -> ServiceRequest:
        """Open a request for the member, as reception."""
        return self.engine.run(open_request, RECEPTION, self.member.id, service_type, channel, "طلب دعم")

    def task(self, request: ServiceRequest, element: str) -> HumanTask:
        """The open task of ``element`` in the request's case (fails the test when there is none)."""
        tasks = self.engine.query(list_tasks, SYSTEM, instance_id=request.instance_id)
        found = [t for t in tasks if t.element_id == element]
        assert found, f"no open {element}; open: {[t.element_id for t in tasks]}"
        return found[0]

    def open_elements(self, request: ServiceRequest) -> list[str]:
        """The elements of the request's open tasks, sorted."""
        return sorted(t.element_id for t in self.engine.query(list_tasks, SYSTEM, instance_id=request.instance_id))

    def complete(self, actor: Actor, request: ServiceRequest, element: str, data: dict[str, Any]) -> Any:
        """Complete the open task of ``element`` as ``actor``, the data checked against its form."""
        return self.engine.run(complete_task, actor, self.task(request, element).id, data)

    def verify_all(self, request: ServiceRequest) -> None:
        """Mark every item of the request's checklist verified, as reception."""
        for item in self.engine.query(lambda e, s: documents(s, request.id)):
            self.engine.run(mark_document, RECEPTION, request.id, item.kind, "verified")

    def request(self, request: ServiceRequest) -> ServiceRequest:
        """The request as it is now."""
        return self.engine.query(lambda e, s: s.get(ServiceRequest, request.id))

    def outbox(self) -> list[tuple[str, str]]:
        """(template, channel) of every message written to a member, in order."""
        return self.engine.query(lambda e, s: [(m.kind, m.payload["channel"]) for m in s.scalars(
            select(OutboxMessage).where(OutboxMessage.recipient.like("member:%")).order_by(OutboxMessage.id))])

    def detail(self, request: ServiceRequest) -> dict[str, Any]:
        """The request's case: status, data, open tasks, waiting timers."""
        return self.engine.query(instance_detail, request.instance_id)
