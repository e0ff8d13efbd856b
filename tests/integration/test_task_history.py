"""Task history: every human task that closes is recorded in the same transaction, with who had
it, how it closed and whether its deadline held; what SLA reports will read."""

from datetime import timedelta

import pytest
from sqlalchemy import inspect, select

from engine.actors import SYSTEM, Actor
from engine.commands import assign_task, cancel_instance, claim_task, complete_task, start_instance, unclaim_task
from engine.errors import Conflict
from engine.models import TaskRecord
from engine.queries import list_tasks
from tests.integration.test_sla import DUE
from tests.support.jobs import fire_due_timers

RANA = Actor.user("rana", ["reception"])
ALI = Actor.user("ali", ["committee"])
SARA = Actor.user("sara", ["supervisor"], may_assign=True)


def _records(engine):
    with engine.unit_of_work(readonly=True) as uow:
        return list(uow.session.scalars(select(TaskRecord).order_by(TaskRecord.id)))


def _open(engine, element):
    [task] = [t for t in engine.query(list_tasks, SYSTEM) if t.element_id == element]
    return task


def test_a_completed_task_keeps_who_had_it_and_when(engine, deploy, clock):
    deploy("review")
    started = clock.now()
    row = engine.run(start_instance, SYSTEM, "review", data={"request_no": 7})
    check = _open(engine, "check")
    clock.advance(minutes=10)
    engine.run(claim_task, RANA, check.id)
    claimed_at = clock.now()
    clock.advance(minutes=5)
    engine.run(unclaim_task, RANA, check.id)  # the first claim is what is kept
    engine.run(assign_task, SARA, check.id, "omar")
    clock.advance(hours=1)
    engine.run(complete_task, Actor.user("omar", ["reception"]), check.id, {"complete": True, "needs_referral": False})
    [record] = _records(engine)
    assert (record.task_id, record.instance_id, record.process_key, record.process_version) == (check.id, row.id,
                                                                                                "review", 1)
    assert (record.element_id, record.name, record.lane, record.candidate_group) == ("check", "Check completeness",
                                                                                     "reception", "reception")
    assert (record.opened_at, record.first_claimed_at, record.first_claimed_by) == (started, claimed_at, "rana")
    assert (record.assignee, record.closed_by, record.closed_at, record.outcome) == ("omar", "omar", clock.now(),
                                                                                     "completed")
    assert (record.due_at, record.deadline_met, record.escalation_level) == (None, None, 0)  # no SLA on it
    # It is closed for good: a second completion names who did it, from the history.
    with pytest.raises(Conflict) as caught:
        engine.run(complete_task, RANA, check.id, {})
    assert caught.value.message == f"task {check.id} was already completed by omar at {clock.now().isoformat()}"


def test_a_deadline_met_or_missed_and_the_escalation_level_reached(engine, deploy, clock):
    deploy("committee_sla")
    engine.run(start_instance, SYSTEM, "committee_sla", data={"request_no": 1})
    engine.run(start_instance, SYSTEM, "committee_sla", data={"request_no": 2})
    first, second = engine.query(list_tasks, SYSTEM)
    clock.set(DUE - timedelta(hours=1))
    engine.run(complete_task, ALI, first.id, {})
    clock.set(DUE + timedelta(days=1))  # the first escalation level passed; the second is at 12 working days
    fire_due_timers(engine)
    engine.run(complete_task, SYSTEM, second.id, {})
    on_time, late = _records(engine)
    assert (on_time.task_id, on_time.due_at, on_time.deadline_met, on_time.escalation_level) == (first.id, DUE, True, 0)
    assert (late.task_id, late.deadline_met, late.escalation_level, late.candidate_group) == (second.id, False, 1,
                                                                                            "supervisor")


def test_a_task_a_timer_took_away_and_one_cancelled_with_its_case(engine, deploy, clock):
    deploy("review")
    row = engine.run(start_instance, SYSTEM, "review", data={"request_no": 8})
    engine.run(complete_task, RANA, _open(engine, "check").id, {"complete": True, "needs_referral": False})
    decide = _open(engine, "decide")
    clock.advance(days=15)  # the two-week boundary timer fires
    fire_due_timers(engine)
    escalated = _open(engine, "escalated")
    clock.advance(minutes=1)
    engine.run(cancel_instance, SARA, row.id, "withdrawn")
    check, timed_out, cancelled = _records(engine)
    assert check.outcome == "completed"
    assert (timed_out.task_id, timed_out.outcome, timed_out.closed_by) == (decide.id, "interrupted", "system")
    assert (cancelled.task_id, cancelled.outcome, cancelled.closed_by, cancelled.closed_at) == (
        escalated.id, "cancelled", "sara", clock.now())
    assert timed_out.deadline_met is None  # it had no deadline of its own


def test_a_timer_that_fires_inside_someones_command_closes_the_task_as_the_system(engine, deploy, clock):
    deploy("review")
    engine.run(start_instance, SYSTEM, "review", data={"request_no": 9})
    engine.run(complete_task, RANA, _open(engine, "check").id, {"complete": True, "needs_referral": False})
    decide = _open(engine, "decide")
    clock.advance(days=15)  # the boundary timer is due, but no worker has fired it yet
    with pytest.raises(Conflict):  # ali's completion loads the case, the timer fires first and wins
        engine.run(complete_task, ALI, decide.id, {"approved": True})
    timed_out = _records(engine)[-1]
    assert (timed_out.task_id, timed_out.outcome, timed_out.closed_by) == (decide.id, "interrupted", "system")


def test_the_history_is_indexed_for_lane_process_and_month(engine):
    indexes = {tuple(index["column_names"]) for index in inspect(engine.db).get_indexes("task_history")}
    assert {("lane", "closed_at"), ("process_key", "process_version", "closed_at"), ("closed_at",)} <= indexes
