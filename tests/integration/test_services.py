"""Service tasks call registered handlers inside the command's transaction."""

import pytest
from sqlalchemy import func, select

from engine.actors import SYSTEM, Actor
from engine.commands import complete_task, retry_instance, start_instance
from engine.errors import InvalidDefinition
from engine.models import AuditEvent, OutboxMessage
from engine.queries import instance_detail, list_tasks

RANA = Actor.user("rana", ["reception"])


@pytest.fixture
def stamping(engine, deploy):
    calls = []

    def stamp_request(call):
        calls.append(call)
        if call.data.get("fail"):
            raise RuntimeError("the numbering service is down")
        # written with the command's session: commits or rolls back with the step
        call.session.add(OutboxMessage(created_at=call.now, kind="stamped", recipient="group:reception",
                                       instance_id=call.instance_id, payload={"by": call.scope.actor.name}))
        return {"reference": f"{call.params['prefix']}-{call.instance_id:06d}", "element": call.element_id}

    engine.register_service("stamp_request", stamp_request)
    deploy("with_service")
    return calls


def _outbox(engine):
    with engine.unit_of_work(readonly=True) as uow:
        return uow.session.scalar(select(func.count()).select_from(OutboxMessage))


def test_handler_runs_in_the_command_and_its_result_is_data(engine, stamping):
    row = engine.run(start_instance, SYSTEM, "with_service", data={"year": 2026})
    [enter] = engine.query(list_tasks, SYSTEM)
    engine.run(complete_task, RANA, enter.id, {})
    [call] = stamping
    assert (call.instance_id, call.element_id, call.params, call.scope.actor.name) == (row.id, "stamp", {"prefix": "REQ-2026"}, "rana")
    detail = engine.query(instance_detail, row.id)
    assert detail["data"]["stamp"] == {"reference": f"REQ-2026-{row.id:06d}", "element": "stamp"}
    assert _outbox(engine) == 1


def test_a_failing_handler_puts_the_instance_in_error_and_writes_nothing(engine, stamping):
    row = engine.run(start_instance, SYSTEM, "with_service", data={"year": 2026, "fail": True})
    [enter] = engine.query(list_tasks, SYSTEM)
    row = engine.run(complete_task, RANA, enter.id, {})
    assert row.status == "error"
    error = engine.query(instance_detail, row.id)["error"]
    assert error["element_id"] == "stamp" and "the numbering service is down" in error["message"]
    assert _outbox(engine) == 0
    row = engine.run(retry_instance, SYSTEM, instance_id=row.id, data={"fail": False})
    assert row.status == "running" and _outbox(engine) == 1


def test_unknown_handlers_are_refused_at_deploy(engine, deploy):
    with pytest.raises(InvalidDefinition, match="element 'stamp': the service task «[^»]+» calls stamp_request, which is not a handler"):
        deploy("with_service")
    with engine.unit_of_work(readonly=True) as uow:
        assert uow.session.scalar(select(func.count()).select_from(AuditEvent)) == 0


def test_an_element_named_like_its_operator_is_refused_clearly(engine, stamping, deploy):
    with pytest.raises(InvalidDefinition, match="the id stamp_request names both an element and a service task's handler"):
        deploy("operator_clash")
