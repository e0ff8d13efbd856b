"""Cases: open a member's request, start any other process, cancel, retry.

A process that runs a service of the catalogue (``member_request``, ``inquiry``,
``membership_registration``) is started only by opening a request, so that every case has its
member, service, channel, reference and checklist: `start_process` opens one, or refuses and
says what to give.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from engine import commands
from engine.actors import Actor
from engine.commands import InstanceState
from engine.errors import INVALID_DATA, NOT_A_CHOICE, InvalidInput, error_code
from workflows.accounts import require_staff
from workflows.catalogue import ServiceType
from workflows.domain import domain
from workflows.members import get_member, next_number
from workflows.models import CHANNELS, RequestDocument, ServiceRequest
from workflows.operations.members import log_contact
from workflows.promises import end_pauses
from workflows.requests import request_of_instance, set_status

if TYPE_CHECKING:
    from engine.context import CaseEngine

#: The data a request process is started with; the engine's data keys of every request.
REQUEST_FIELDS = ("member_id", "service_type", "channel", "summary")

#: Starting a process (``process``) that runs member requests without a member, service and channel.
REQUEST_DATA_MISSING = error_code("request_data_missing", "process")


@dataclass
class Started:
    """A case that has just started: its instance, and its request when it runs one."""

    instance_id: int
    status: str
    open_tasks: dict[str, str] = field(default_factory=dict)
    request_id: int | None = None
    reference: str | None = None

    def as_dict(self, with_open_tasks: bool = True) -> dict[str, Any]:
        """The JSON the API (with the open tasks) and the CLI (without) answer with."""
        shape: dict[str, Any] = {"instance_id": self.instance_id, "status": self.status}
        if with_open_tasks:
            shape["open_tasks"] = self.open_tasks
        if self.request_id is not None:
            shape.update(request_id=self.request_id, reference=self.reference)
        return shape


def open_request(
    engine: CaseEngine,
    session: Session,
    actor: Actor,
    member_id: int,
    service_type: str,
    channel: str,
    summary: str = "",
) -> ServiceRequest:
    """Open a request for a member from any channel and start the process that runs it.

    The request, its checklist, the contact it came through and the process instance are
    written together.

    Raises:
        InvalidInput: unknown service type or channel.
        NotFound: no such member.
    """
    return _open(engine, session, actor, member_id, service_type, channel, summary)[0]


def _open(
    engine: CaseEngine, session: Session, actor: Actor, member_id: int, service_type: str, channel: str, summary: str
) -> tuple[ServiceRequest, InstanceState]:
    require_staff(actor)
    member = get_member(session, member_id)
    service = domain(engine).catalogue.service(service_type)
    if channel not in CHANNELS:
        raise InvalidInput(f"channel: {channel!r} is not one of {', '.join(CHANNELS)}", code=NOT_A_CHOICE,
                           params={"field": "channel", "value": channel, "allowed": list(CHANNELS)})
    now = engine.clock.now()
    reference = f"REQ-{now.year}-{next_number(session, f'request-{now.year}'):06d}"
    summary = (summary or "").strip()
    request = ServiceRequest(reference=reference, member_id=member.id, service_type=service.key, channel=channel,
                             summary=summary, status="received", opened_at=now, opened_by=actor.name)
    session.add(request)
    session.flush()
    for document in service.documents:
        session.add(RequestDocument(request_id=request.id, kind=document.kind, required=document.required,
                                    state="missing", note=""))
    log_contact(engine, session, actor, member.id, channel, "inbound",
                summary or f"{service.label('ar')} — {reference}", request_id=request.id)
    state = commands.start_instance(
        engine, session, actor, service.process,
        data={"request_id": request.id, "reference": reference, "member_id": member.id,
              "service_type": service.key, "channel": channel},
        business_key=reference,
    )
    request.instance_id = state.id
    session.flush()
    return request, state


def start_process(
    engine: CaseEngine,
    session: Session,
    actor: Actor,
    key: str,
    version: int | None = None,
    data: Mapping[str, Any] | None = None,
    business_key: str | None = None,
) -> Started:
    """Start a process by its key: a service's process opens a request, any other starts as it is.

    Raises:
        InvalidInput: a service's process without a member, service and channel in ``data`` (the
            message says what to give), or data the engine refuses.
        NotFound: no such process, version or member.
    """
    services = [s for s in domain(engine).catalogue.services.values() if s.process == key]
    if not services:
        state = commands.start_instance(engine, session, actor, key, version, data, business_key)
        return Started(state.id, state.status, dict(state.open_tasks))
    given = dict(data or {}) if isinstance(data, Mapping) else data
    if not isinstance(given, dict):
        raise InvalidInput(f"data must be a JSON object, not {type(given).__name__}", code=INVALID_DATA)
    problems = _request_problems(key, services, given, version, business_key)
    if problems:
        raise InvalidInput(f"process {key!r} runs member requests, so starting it opens one: {problems}; "
                           f"give data like {_example(services)}", code=REQUEST_DATA_MISSING, params={"process": key})
    request, state = _open(engine, session, actor, given["member_id"], given["service_type"], given["channel"],
                           str(given.get("summary") or ""))
    return Started(state.id, state.status, dict(state.open_tasks), request.id, request.reference)


def _request_problems(
    key: str, services: list[ServiceType], data: dict[str, Any], version: int | None, business_key: str | None
) -> str:
    problems = []
    missing = [name for name in ("member_id", "service_type", "channel") if data.get(name) in (None, "")]
    if missing:
        problems.append(f"{', '.join(missing)} missing")
    member_id = data.get("member_id")
    if member_id not in (None, "") and (isinstance(member_id, bool) or not isinstance(member_id, int)):
        problems.append("member_id must be a member's number")
    elif isinstance(member_id, int) and not 0 < member_id < 2**31:
        problems.append(f"member_id {member_id} is not a member's number (members are numbered from 1)")
    offered = [s.key for s in services]
    if data.get("service_type") not in (None, "") and data["service_type"] not in offered:
        problems.append(f"service_type {data['service_type']!r} is not run by {key!r} (it runs {', '.join(offered)})")
    unknown = sorted(set(data) - set(REQUEST_FIELDS))
    if unknown:
        problems.append(f"{', '.join(unknown)} cannot be given (the request sets the case's data)")
    if version is not None:
        problems.append("a request always runs the latest version, so leave version out")
    if business_key is not None:
        problems.append("a request's business key is its reference, so leave business_key out")
    return "; ".join(problems)


def _example(services: list[ServiceType]) -> str:
    return (f'{{"member_id": 1, "service_type": "{services[0].key}", "channel": "phone"}} '
            f"(service_type: {' or '.join(s.key for s in services)}; channel: {', '.join(CHANNELS)})")


def cancel_case(
    engine: CaseEngine, session: Session, actor: Actor, instance_id: int, reason: str = ""
) -> InstanceState:
    """Cancel a case: its open tasks and timers close, and its request (if any) is cancelled.

    Raises:
        Forbidden: only a supervisor or the system user may cancel.
        InstanceNotRunning: already completed or cancelled.
    """
    state = commands.cancel_instance(engine, session, actor, instance_id, reason)
    request = request_of_instance(session, instance_id)
    if request is not None:
        set_status(request, "cancelled", engine.clock.now())
        end_pauses(session, request, engine.clock.now(), actor.name)  # no longer waiting on the member
        session.flush()
    return state


def retry_case(
    engine: CaseEngine, session: Session, actor: Actor, instance_id: int, data: Mapping[str, Any] | None = None
) -> InstanceState:
    """Run a case in error again from its failed element, with ``data`` (the fix) merged in.

    Raises:
        Forbidden: only a supervisor or the system user may retry.
        InstanceNotRunning: the case is not in error.
    """
    return commands.retry_instance(engine, session, actor, instance_id, data)
