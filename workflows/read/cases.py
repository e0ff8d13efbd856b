"""Cases: the case page, and an instance's details for the API and the CLI.

The case page draws the diagram with its progress, the open tasks, the history and the data.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from engine.actors import Actor
from engine.models import ProcessInstance
from engine.queries import instance_detail
from workflows.accounts import require_staff
from workflows.forms import forms_of_version
from workflows.promises import promise_clock
from workflows.requests import request_of_instance, status_label

if TYPE_CHECKING:
    from engine.context import CaseEngine


def case_page(engine: CaseEngine, session: Session, actor: Actor, instance_id: int) -> dict[str, Any]:
    """What the case page shows: the instance, its diagram, element states, history and request.

    The request comes with the status the member reads, in Arabic and English, and the day the
    committee's answer is promised by (None until the request is submitted complete), with its
    ``clock`` (`workflows.promises.PromiseClock`: paused or running, the days used and paused);
    ``forms``: the task forms the case's version was deployed with (empty for older versions).

    Raises:
        Forbidden: a member's account. NotFound: no such instance.
    """
    require_staff(actor)
    page = instance_detail(engine, session, instance_id, with_diagram=True)
    request = request_of_instance(session, instance_id)
    page["request"] = None if request is None else {
        "id": request.id, "reference": request.reference, "member_id": request.member_id,
        "service_type": request.service_type, "status": request.status,
        "status_label": {language: status_label(request.status, language) for language in ("ar", "en")},
        "answer_promised_on": request.answer_promised_on,
        "clock": promise_clock(engine, session, request),
    }
    instance = session.get(ProcessInstance, instance_id)
    page["forms"] = (forms_of_version(engine, session, instance.definition_id) if instance else None) or {}
    return page


def case_detail(engine: CaseEngine, session: Session, actor: Actor, instance_id: int) -> dict[str, Any]:
    """An instance with its definition, current data, open tasks and waiting timers (API and CLI).

    Raises:
        Forbidden: a member's account. NotFound: no such instance.
    """
    require_staff(actor)
    return instance_detail(engine, session, instance_id)
