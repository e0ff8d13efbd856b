"""Engine commands end to end on the database, with a save/restore round trip after each step."""

import pytest
from sqlalchemy import select

from engine.actors import SYSTEM, Actor
from engine.commands import (
    assign_task,
    cancel_instance,
    claim_task,
    complete_task,
    retry_instance,
    start_instance,
    unclaim_task,
)
from engine.errors import Conflict, Forbidden, InstanceNotRunning, InvalidInput, NotFound
from engine.models import AuditEvent, HumanTask, Job
from engine.queries import instance_detail, list_tasks

RANA = Actor.user("rana", ["reception"])
OMAR = Actor.user("omar", ["reception"])
ALI = Actor.user("ali", ["committee"])
SUPERVISOR = Actor.user("sara", ["supervisor"], may_assign=True)


def _tasks(engine, actor=SYSTEM, element_id=None, **filters):
    tasks = engine.query(list_tasks, actor, **filters)
    return [t for t in tasks if element_id is None or t.element_id == element_id]


def _audit(engine, instance_id):
    with engine.unit_of_work(readonly=True) as uow:
        return [
            (e.action, e.actor, e.element_id)
            for e in uow.session.scalars(
                select(AuditEvent).where(AuditEvent.instance_id == instance_id).order_by(AuditEvent.id)
            )
        ]


@pytest.fixture
def review(engine, deploy, assert_round_trip):
    deploy("review")

    def start(**data):
        row = engine.run(start_instance, SYSTEM, "review", data={"request_no": 7, **data}, business_key="REQ-7")
        assert_round_trip(row.id)
        return row

    return start


def test_start_runs_to_the_first_human_task(engine, review, clock):
    row = review()
    assert row.status == "running"
    [task] = _tasks(engine)
    assert (task.element_id, task.name, task.lane, task.candidate_group) == (
        "check", "Check completeness", "reception", "reception")
    assert (task.form_key, task.priority, task.assignee, task.created_at) == ("check.json", 70, None, clock.now())
    detail = engine.query(instance_detail, row.id)
    assert detail["status"] == "running"
    assert detail["business_key"] == "REQ-7"
    assert detail["definition"] == {"key": "review", "version": 1}
    assert detail["data"] == {"request_no": 7, "checks": 0, "reference": "REQ-7"}  # the script ran
    assert [t["element_id"] for t in detail["open_tasks"]] == ["check"]
    assert detail["waiting_timers"] == []
    assert _audit(engine, row.id) == [("started", "system", None), ("task_opened", "system", "check")]


def test_start_checks_its_input(engine, review):
    with pytest.raises(NotFound):
        engine.run(start_instance, SYSTEM, "review", version=3)
    with pytest.raises(InvalidInput, match="JSON object"):
        engine.run(start_instance, SYSTEM, "review", data=[1, 2])
    with pytest.raises(InvalidInput, match="not a valid variable name"):
        engine.run(start_instance, SYSTEM, "review", data={"bad key": 1})
    with pytest.raises(InvalidInput, match="not a valid variable name"):
        engine.run(start_instance, SYSTEM, "review", data={"_private": 1})


def test_full_lifecycle_with_claims(engine, review, assert_round_trip, clock):
    row = review()
    [check] = _tasks(engine)
    assert engine.run(claim_task, RANA, check.id).assignee == "rana"
    assert_round_trip(row.id)
    with pytest.raises(Conflict, match="already claimed by rana"):
        engine.run(claim_task, OMAR, check.id)
    with pytest.raises(Forbidden, match="claimed by rana"):
        engine.run(complete_task, OMAR, check.id, {"complete": True})
    with pytest.raises(Forbidden, match="only they or a supervisor"):
        engine.run(unclaim_task, OMAR, check.id)
    assert engine.run(unclaim_task, RANA, check.id).assignee is None
    assert engine.run(claim_task, OMAR, check.id).assignee == "omar"
    clock.advance(minutes=5)
    engine.run(complete_task, OMAR, check.id, {"complete": True})
    assert_round_trip(row.id)

    [decide] = _tasks(engine)
    assert (decide.element_id, decide.lane) == ("decide", "committee")
    detail = engine.query(instance_detail, row.id)
    assert detail["waiting_timers"] == [{"element_id": "decision_due", "due_at": "2026-12-15T08:05:00+00:00"}]
    with pytest.raises(Forbidden, match="belongs to lane 'committee'; rana holds lanes: reception"):
        engine.run(complete_task, RANA, decide.id, {})
    engine.run(complete_task, ALI, decide.id, {"accepted": True})
    assert_round_trip(row.id)

    detail = engine.query(instance_detail, row.id)
    assert detail["status"] == "completed"
    assert detail["ended_at"] == clock.now().isoformat()
    assert detail["open_tasks"] == [] and detail["waiting_timers"] == []
    assert detail["data"]["accepted"] is True
    with engine.unit_of_work(readonly=True) as uow:
        assert uow.session.scalars(select(Job)).all() == []  # the timer's job closed with its scope
    actions = [a for a, _, _ in _audit(engine, row.id)]
    assert actions == ["started", "task_opened", "claimed", "unclaimed", "claimed", "completed", "task_opened",
                       "completed", "instance_completed"]


def test_completed_data_is_summarised_in_the_audit_log(engine, review):
    row = review()
    [check] = _tasks(engine)
    engine.run(complete_task, RANA, check.id, {"complete": False, "note": "x" * 500, "docs": [1, 2]})
    with engine.unit_of_work(readonly=True) as uow:
        event = uow.session.scalars(select(AuditEvent).where(AuditEvent.action == "completed")).one()
    assert event.actor == "rana" and event.element_id == "check" and event.task_id == check.id
    assert event.summary["complete"] is False
    assert event.summary["docs"] == "[2 items]"
    assert len(event.summary["note"]) == 121
    assert engine.query(instance_detail, row.id)["status"] == "completed"  # the "returned" path


def test_completing_a_completed_task_is_a_conflict_naming_who(engine, review):
    review()
    [check] = _tasks(engine)
    engine.run(complete_task, RANA, check.id, {"complete": True})
    with pytest.raises(Conflict, match="already completed by rana"):
        engine.run(complete_task, OMAR, check.id, {"complete": True})
    with pytest.raises(NotFound, match="no open task"):
        engine.run(complete_task, OMAR, "not-a-task", {})


def test_supervisor_assigns_and_reassigns(engine, review):
    review()
    [check] = _tasks(engine)
    with pytest.raises(Forbidden, match="may not assign"):
        engine.run(assign_task, RANA, check.id, "omar")
    with pytest.raises(InvalidInput):
        engine.run(assign_task, SUPERVISOR, check.id, "  ")
    assert engine.run(assign_task, SUPERVISOR, check.id, "omar").assignee == "omar"
    assert engine.run(assign_task, SUPERVISOR, check.id, "rana").assignee == "rana"
    assert engine.run(unclaim_task, SUPERVISOR, check.id).assignee is None
    assert [t.id for t in _tasks(engine, RANA, assignee=None)] == [check.id]


def test_task_list_shows_only_the_actors_lanes_and_filters(engine, review):
    first, second = review(), review()
    assert len(_tasks(engine, RANA)) == 2
    assert _tasks(engine, ALI) == []
    assert [t.instance_id for t in _tasks(engine, SYSTEM, instance_id=second.id)] == [second.id]
    assert len(_tasks(engine, SYSTEM, lane="reception")) == 2
    assert _tasks(engine, SYSTEM, lane="committee") == []
    [task] = _tasks(engine, SYSTEM, instance_id=first.id)
    engine.run(assign_task, SUPERVISOR, task.id, "ali")  # assigned outside his lane: he sees it
    assert [t.id for t in _tasks(engine, ALI)] == [task.id]
    assert [t.id for t in _tasks(engine, SYSTEM, assignee="ali")] == [task.id]


def test_cancel_closes_tasks_and_timers(engine, review, assert_round_trip):
    row = review()
    [check] = _tasks(engine)
    engine.run(complete_task, RANA, check.id, {"complete": True})
    with pytest.raises(Forbidden):
        engine.run(cancel_instance, RANA, instance_id=row.id)
    engine.run(cancel_instance, SUPERVISOR, instance_id=row.id, reason="member withdrew")
    assert_round_trip(row.id)
    detail = engine.query(instance_detail, row.id)
    assert (detail["status"], detail["open_tasks"], detail["waiting_timers"]) == ("cancelled", [], [])
    with pytest.raises(InstanceNotRunning, match="cancelled"):
        engine.run(cancel_instance, SUPERVISOR, instance_id=row.id)
    with pytest.raises(NotFound):
        engine.run(cancel_instance, SUPERVISOR, instance_id=999)


def test_failing_script_puts_the_instance_in_error_and_retry_fixes_it(engine, deploy, assert_round_trip):
    deploy("failing")
    row = engine.run(start_instance, SYSTEM, "failing", data={"total": 10})
    enter, note = sorted(_tasks(engine), key=lambda t: t.element_id != "enter")
    row = engine.run(complete_task, RANA, enter.id, {"count": 0, "route": "a"})
    assert row.status == "error"  # the user's completion is kept; the script failed after it
    assert_round_trip(row.id)
    detail = engine.query(instance_detail, row.id)
    assert detail["error"]["element_id"] == "compute"
    assert "ZeroDivisionError" in detail["error"]["message"]
    assert detail["data"]["count"] == 0
    with pytest.raises(InstanceNotRunning, match="in error at element 'compute'.*retry it first"):
        engine.run(complete_task, RANA, note.id, {})  # the parallel branch waits for the fix
    with pytest.raises(InstanceNotRunning, match="in error"):
        engine.run(claim_task, RANA, note.id)
    with pytest.raises(Forbidden):
        engine.run(retry_instance, RANA, instance_id=row.id, data={"count": 2})

    row = engine.run(retry_instance, SUPERVISOR, instance_id=row.id, data={"count": 2})
    assert row.status == "running"
    assert_round_trip(row.id)
    assert sorted(t.element_id for t in _tasks(engine)) == ["note", "task_a"]
    assert engine.query(instance_detail, row.id)["data"]["ratio"] == 5
    with pytest.raises(InstanceNotRunning, match="not in error"):
        engine.run(retry_instance, SUPERVISOR, instance_id=row.id)


def test_gateway_without_a_true_condition_is_an_error_until_fixed(engine, deploy, assert_round_trip):
    deploy("failing")
    row = engine.run(start_instance, SYSTEM, "failing", data={"total": 10})
    [enter] = _tasks(engine, element_id="enter")
    row = engine.run(complete_task, RANA, enter.id, {"count": 5, "route": "c"})
    assert row.status == "error"
    detail = engine.query(instance_detail, row.id)
    assert detail["error"]["element_id"] == "route_gw"
    assert_round_trip(row.id)
    row = engine.run(retry_instance, SYSTEM, instance_id=row.id, data={"route": "b"})
    assert row.status == "running"
    assert sorted(t.element_id for t in _tasks(engine)) == ["note", "task_b"]
    actions = [a for a, _, _ in _audit(engine, row.id)]
    assert "failed" in actions and "retried" in actions


def test_runaway_script_is_stopped_and_recorded(engine, deploy):
    deploy("runaway")
    row = engine.run(start_instance, SYSTEM, "runaway")
    detail = engine.query(instance_detail, row.id)
    assert detail["status"] == "error"
    assert detail["error"]["element_id"] == "spin"
    assert "time limit" in detail["error"]["message"]


def test_projection_rows_are_only_open_tasks(engine, review):
    row = review()
    [check] = _tasks(engine)
    engine.run(complete_task, RANA, check.id, {"complete": True})
    with engine.unit_of_work(readonly=True) as uow:
        rows = uow.session.scalars(select(HumanTask)).all()
    assert [(r.instance_id, r.element_id) for r in rows] == [(row.id, "decide")]


def test_commands_report_the_open_tasks_after_them(engine, review):
    row = review()
    [check] = _tasks(engine)
    assert row.open_tasks == {check.id: "check"}
    after = engine.run(complete_task, RANA, check.id, {"complete": True})
    [decide] = _tasks(engine)
    assert after.open_tasks == {decide.id: "decide"}
