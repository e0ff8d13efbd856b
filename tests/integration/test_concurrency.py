"""Two writers on one instance: exactly one wins, the other gets a conflict, nothing is lost."""


import pytest
from sqlalchemy import select

from engine.actors import SYSTEM, Actor
from engine.commands import claim_task, complete_task, start_instance
from engine.errors import TASK_CLOSED, Conflict
from engine.models import AuditEvent
from engine.queries import instance_detail, list_tasks
from tests.support.race import race

RANA = Actor.user("rana", ["reception"])
OMAR = Actor.user("omar", ["reception"])


@pytest.fixture
def task(engine, deploy):
    deploy("review")
    row = engine.run(start_instance, SYSTEM, "review", data={"request_no": 1})
    [task] = engine.query(list_tasks, SYSTEM)
    return row.id, task.id


def test_two_sessions_completing_the_same_task(engine, monkeypatch, task):
    instance_id, task_id = task
    outcomes = race(
        monkeypatch,
        lambda: engine.run(complete_task, RANA, task_id, {"complete": True, "by": "rana"}),
        lambda: engine.run(complete_task, OMAR, task_id, {"complete": True, "by": "omar"}),
    )
    conflicts = [name for name, outcome in outcomes.items() if isinstance(outcome, Conflict)]
    winners = [name for name, outcome in outcomes.items() if not isinstance(outcome, Exception)]
    assert len(conflicts) == 1 and len(winners) == 1, outcomes
    winner = "rana" if winners == ["first"] else "omar"
    # The loser is told the task is done (on PostgreSQL after running once more past the winner).
    assert outcomes[conflicts[0]].code == TASK_CLOSED, outcomes
    detail = engine.query(instance_detail, instance_id)
    assert detail["data"]["by"] == winner  # the winner's data, not a mix, not lost
    assert [t["element_id"] for t in detail["open_tasks"]] == ["decide"]
    with engine.unit_of_work(readonly=True) as uow:
        completed = uow.session.scalars(select(AuditEvent).where(AuditEvent.action == "completed")).all()
    assert [e.actor for e in completed] == [winner]


def test_two_people_claiming_at_once(engine, monkeypatch, task):
    _, task_id = task
    outcomes = race(
        monkeypatch,
        lambda: engine.run(claim_task, RANA, task_id),
        lambda: engine.run(claim_task, OMAR, task_id),
    )
    assert sum(isinstance(o, Conflict) for o in outcomes.values()) == 1, outcomes
    [open_task] = engine.query(list_tasks, SYSTEM)
    winner = next(o for o in outcomes.values() if not isinstance(o, Exception))
    assert open_task.assignee == winner.assignee
