"""Timers: firing through `fire_due_timers`, idempotence, and the SpiffWorkflow timer race."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from engine.actors import SYSTEM, Actor
from engine.commands import complete_task, start_instance
from engine.errors import Conflict
from engine.models import AuditEvent
from engine.queries import instance_detail, list_tasks
from tests.conftest import T0
from tests.support.jobs import fire_due_timers

RANA = Actor.user("rana", ["reception"])
ALI = Actor.user("ali", ["committee"])


def _open(engine, instance_id):
    return [t.element_id for t in engine.query(list_tasks, SYSTEM, instance_id=instance_id)]


@pytest.fixture
def at_committee(engine, deploy, assert_round_trip):
    """An instance of `review` waiting for the committee, with its 14-day boundary timer."""
    deploy("review")
    row = engine.run(start_instance, SYSTEM, "review", data={"request_no": 1})
    [check] = engine.query(list_tasks, SYSTEM)
    engine.run(complete_task, RANA, check.id, {"complete": True})
    assert_round_trip(row.id)
    return row.id


def test_waiting_timer_is_listed_with_its_due_time(engine, at_committee):
    detail = engine.query(instance_detail, at_committee)
    assert detail["waiting_timers"] == [{"element_id": "decision_due", "due_at": (T0 + timedelta(days=14)).isoformat()}]


def test_nothing_fires_before_the_due_time(engine, at_committee):
    assert fire_due_timers(engine, T0 + timedelta(days=14) - timedelta(seconds=1)) == 0
    assert _open(engine, at_committee) == ["decide"]


def test_timer_fires_exactly_at_its_due_time_and_only_once(engine, at_committee, assert_round_trip):
    due = T0 + timedelta(days=14)
    assert fire_due_timers(engine, due) == 1
    assert_round_trip(at_committee)
    assert _open(engine, at_committee) == ["escalated"]  # interrupting: the decision task is gone
    assert engine.query(instance_detail, at_committee)["waiting_timers"] == []
    assert fire_due_timers(engine, due) == 0  # idempotent
    assert fire_due_timers(engine, due + timedelta(days=1)) == 0
    with engine.unit_of_work(readonly=True) as uow:
        fired = uow.session.scalars(select(AuditEvent).where(AuditEvent.action == "timer_fired")).all()
    assert [(e.element_id, e.actor, e.at) for e in fired] == [("decision_due", "system", due)]


def test_completing_in_time_closes_the_timer(engine, at_committee):
    [decide] = engine.query(list_tasks, SYSTEM, instance_id=at_committee)
    engine.run(complete_task, ALI, decide.id, {"accepted": True})
    assert fire_due_timers(engine, T0 + timedelta(days=30)) == 0
    assert engine.query(instance_detail, at_committee)["status"] == "completed"


def test_timer_race_the_deadline_wins_and_the_user_is_told(engine, clock, at_committee, assert_round_trip):
    """SpiffWorkflow's race: an overdue boundary timer and a user completing the task it guards.

    The worker has not fired the timer yet (it is overdue but its job has not run). Naively
    completing the task lets the engine run the timer afterwards and silently throw the
    decision away. Our commands refresh timers first: the timer fires, the task is gone, and
    the user gets a conflict instead of a lost decision. The timer's effect is saved.
    """
    [decide] = engine.query(list_tasks, SYSTEM, instance_id=at_committee)
    clock.set(T0 + timedelta(days=14, hours=2))
    with pytest.raises(Conflict, match="no longer open.*deadline"):
        engine.run(complete_task, ALI, decide.id, {"accepted": True})
    assert_round_trip(at_committee)
    detail = engine.query(instance_detail, at_committee)
    assert "accepted" not in detail["data"]  # not applied, and the user knows it
    assert _open(engine, at_committee) == ["escalated"]
    assert detail["waiting_timers"] == []
    assert fire_due_timers(engine, clock.now()) == 0  # already fired by the refused command
    with engine.unit_of_work(readonly=True) as uow:
        actions = [e.action for e in uow.session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert actions[-3:] == ["timer_fired", "task_closed", "task_opened"]


def test_timer_race_pinned_in_spiffworkflow_itself(engine, clock, at_committee):
    """Pins the library behaviour the command order protects against (if it changes, revisit)."""
    from engine.definitions import find_definition, parsed_process
    from engine.models import ProcessInstance
    from engine.spiff import using_clock

    with engine.unit_of_work(readonly=True) as uow:
        row = uow.session.get(ProcessInstance, at_committee)
        process = parsed_process(engine, find_definition(uow.session, "review"))
    clock.set(T0 + timedelta(days=15))
    with using_clock(clock):
        case = engine.runtime.thaw(process, row.snapshot)
        case.workflow.refresh_timers()  # the overdue timer is now READY ...
        [decide] = case.human_tasks()
        task = case.human_task(decide.id)
        task.data["accepted"] = True
        task.run()  # ... and the naive order completes the task anyway
        case.workflow.do_engine_steps()
    assert [t.element_id for t in case.human_tasks()] == ["escalated"]  # the decision was discarded


def test_timer_duration_from_data(engine, deploy, assert_round_trip):
    deploy("waiting")
    row = engine.run(start_instance, SYSTEM, "waiting", data={"wait_hours": 36})
    assert_round_trip(row.id)
    assert engine.query(instance_detail, row.id)["waiting_timers"] == [
        {"element_id": "pause", "due_at": (T0 + timedelta(hours=36)).isoformat()}
    ]
    assert _open(engine, row.id) == []
    assert fire_due_timers(engine, T0 + timedelta(hours=35)) == 0
    assert fire_due_timers(engine, T0 + timedelta(hours=36)) == 1
    assert _open(engine, row.id) == ["follow_up"]
    assert_round_trip(row.id)


def test_many_instances_fire_in_one_run(engine, deploy):
    deploy("waiting")
    ids = [engine.run(start_instance, SYSTEM, "waiting", data={"wait_hours": h}).id for h in (1, 2, 3, 48)]
    assert fire_due_timers(engine, T0 + timedelta(hours=3)) == 3
    assert [len(_open(engine, i)) for i in ids] == [1, 1, 1, 0]
