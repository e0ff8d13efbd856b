"""Two writers on one instance: exactly one wins, the other gets a conflict, nothing is lost."""

import threading

import pytest
from sqlalchemy import select

import engine.casestore as casestore_module
from engine.actors import SYSTEM, Actor
from engine.commands import claim_task, complete_task, start_instance
from engine.errors import TASK_CLOSED, Conflict
from engine.models import AuditEvent
from engine.queries import instance_detail, list_tasks

RANA = Actor.user("rana", ["reception"])
OMAR = Actor.user("omar", ["reception"])


def _race(engine, monkeypatch, first, second):
    """Run ``first`` and ``second`` in two threads; ``first`` loads the instance, then waits.

    On PostgreSQL ``second`` commits while ``first`` holds a stale revision (its UPDATE fails
    the revision check). On SQLite writers queue at BEGIN IMMEDIATE: ``second`` waits for
    ``first`` and then finds the task gone. Both ways: one success, one conflict.
    """
    loaded, second_done = threading.Event(), threading.Event()
    original_load = casestore_module.load

    def slow_load(*args, **kwargs):
        result = original_load(*args, **kwargs)
        if threading.current_thread().name == "first":
            loaded.set()
            second_done.wait(timeout=1.0)
        return result

    monkeypatch.setattr(casestore_module, "load", slow_load)
    outcomes = {}

    def run(name, call):
        try:
            outcomes[name] = call()
        except Exception as exc:  # noqa: BLE001 - the test inspects what happened
            outcomes[name] = exc
        finally:
            if name == "second":
                second_done.set()

    t1 = threading.Thread(target=run, name="first", args=("first", first))
    t1.start()
    assert loaded.wait(timeout=10)
    t2 = threading.Thread(target=run, name="second", args=("second", second))
    t2.start()
    t1.join(timeout=30)
    t2.join(timeout=30)
    return outcomes


@pytest.fixture
def task(engine, deploy):
    deploy("review")
    row = engine.run(start_instance, SYSTEM, "review", data={"request_no": 1})
    [task] = engine.query(list_tasks, SYSTEM)
    return row.id, task.id


def test_two_sessions_completing_the_same_task(engine, monkeypatch, task):
    instance_id, task_id = task
    outcomes = _race(
        engine,
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
    outcomes = _race(
        engine,
        monkeypatch,
        lambda: engine.run(claim_task, RANA, task_id),
        lambda: engine.run(claim_task, OMAR, task_id),
    )
    assert sum(isinstance(o, Conflict) for o in outcomes.values()) == 1, outcomes
    [open_task] = engine.query(list_tasks, SYSTEM)
    winner = next(o for o in outcomes.values() if not isinstance(o, Exception))
    assert open_task.assignee == winner.assignee
