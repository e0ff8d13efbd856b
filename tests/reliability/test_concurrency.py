"""Many people acting on the same work at the same moment, as the web does it (one engine, one
unit of work per request, each on its own thread and connection), on a file database (SQLite) or
PostgreSQL: exactly one wins each race, every loser gets the engine's `Conflict` saying who won,
and the case moves on exactly once. An overdue timer racing a user's completion is never a silent
discard: the timer wins and the user is told, in every ordering."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from engine.actors import SYSTEM, Actor
from engine.commands import claim_task, complete_task, start_instance
from engine.db import rerunnable
from engine.definitions import deploy_definition
from engine.errors import CASE_CHANGED, CLAIMED_BY_OTHER, TASK_CLOSED, Conflict
from engine.jobs import acquire_jobs, new_owner, run_due_jobs, run_job
from engine.models import AuditEvent, HumanTask, Job, OutboxMessage, ProcessInstance, TaskRecord
from engine.queries import instance_detail, list_tasks
from tests.reliability.diagrams import END, START, chain, diagram, timer

#: Two user tasks one after the other.
HANDOVER = diagram("handover", START + '<bpmn:userTask id="first" name="First" />\n'
                   + '<bpmn:userTask id="second" name="Second" />\n' + END, chain("start", "first", "second", "end"))
#: A review with an interrupting one-hour deadline that opens an escalation task.
DEADLINE = diagram("deadline", START + '<bpmn:userTask id="review" name="Review" />\n'
                   + '<bpmn:boundaryEvent id="overdue" attachedToRef="review" cancelActivity="true">'
                   + timer("timeDuration", '"PT1H"') + "</bpmn:boundaryEvent>\n"
                   + '<bpmn:userTask id="escalated" name="Escalated" />\n<bpmn:endEvent id="escalation_end" />\n'
                   + END, [*chain("start", "review", "end"), *chain("overdue", "escalated", "escalation_end")])


def clerk(n: int) -> Actor:
    return Actor.user(f"clerk{n:02d}", ["desk"])


def race(count: int, action) -> list[tuple[int, object, BaseException | None]]:
    """Run ``action(n)`` on ``count`` threads released together; (n, result, error) of each."""
    barrier = threading.Barrier(count)
    outcomes: list[tuple[int, object, BaseException | None]] = []
    lock = threading.Lock()

    def one(n: int) -> None:
        barrier.wait()
        try:
            result, error = action(n), None
        except BaseException as exc:  # noqa: BLE001 - every outcome is collected and asserted
            result, error = None, exc
        with lock:
            outcomes.append((n, result, error))

    threads = [threading.Thread(target=one, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a thread is still waiting after 120 s"
    assert len(outcomes) == count
    return sorted(outcomes, key=lambda outcome: outcome[0])


def open_tasks(engine, instance_id):
    return engine.query(list_tasks, SYSTEM, instance_id=instance_id)


def history(engine, task_id):
    return engine.query(lambda e, s: [(r.outcome, r.closed_by) for r in s.scalars(
        select(TaskRecord).where(TaskRecord.task_id == task_id))])


def audit_actions(engine, instance_id):
    return engine.query(lambda e, s: Counter(s.scalars(
        select(AuditEvent.action).where(AuditEvent.instance_id == instance_id))))


def test_fifty_threads_completing_one_task_one_wins_and_the_case_moves_on_once(engine):
    assert engine.db.url.database != ":memory:"  # a file (or a server): every thread has its own connection
    engine.run(deploy_definition, SYSTEM, HANDOVER, "handover.bpmn")
    case = engine.run(start_instance, SYSTEM, "handover")
    [first] = open_tasks(engine, case.id)
    revision = engine.query(lambda e, s: s.get(ProcessInstance, case.id).revision)

    outcomes = race(50, lambda n: engine.run(complete_task, clerk(n), first.id, {"decided_by": n}))

    winners = [(n, result) for n, result, error in outcomes if error is None]
    losers = [(n, error) for n, _, error in outcomes if error is not None]
    assert len(winners) == 1 and len(losers) == 49
    winner = clerk(winners[0][0]).name
    # Each loser gets the conflict (not some other error) and is told who completed the task.
    assert {type(error) for _, error in losers} == {Conflict}
    assert all(winner in error.message for _, error in losers), [error.message for _, error in losers]
    # Every loser finds the task closed: on SQLite writers queue at BEGIN; on PostgreSQL a loser
    # whose write met the winner's revision runs once more and finds it then.
    assert {error.code for _, error in losers} == {TASK_CLOSED}
    # The case advanced exactly once, with the winner's data.
    assert history(engine, first.id) == [("completed", winner)]
    assert [t.element_id for t in open_tasks(engine, case.id)] == ["second"]
    detail = engine.query(instance_detail, case.id)
    assert detail["data"]["decided_by"] == winners[0][0]
    assert engine.query(lambda e, s: s.get(ProcessInstance, case.id).revision) == revision + 1
    actions = audit_actions(engine, case.id)
    assert (actions["completed"], actions["task_opened"]) == (1, 2)  # first and second, each opened once


#: Ten user tasks side by side after a parallel split, joined before the end.
TEN_AT_ONCE = diagram("ten_at_once", START + '<bpmn:parallelGateway id="split" />\n'
                      + "".join(f'<bpmn:userTask id="part{n}" />\n' for n in range(10))
                      + '<bpmn:parallelGateway id="join" />\n' + END,
                      [("start", "split"), *(("split", f"part{n}") for n in range(10)),
                       *((f"part{n}", "join") for n in range(10)), ("join", "end")])


def test_ten_people_completing_ten_parallel_tasks_of_one_case_at_once_all_succeed(engine):
    # Each completion rewrites the same case. One that meets another's newer revision runs once
    # more against it instead of being refused: the tasks are different, so nothing conflicts.
    engine.run(deploy_definition, SYSTEM, TEN_AT_ONCE, "ten.bpmn")
    case = engine.run(start_instance, SYSTEM, "ten_at_once")
    parts = {task.element_id: task.id for task in open_tasks(engine, case.id)}
    assert len(parts) == 10

    outcomes = race(10, lambda n: engine.run(complete_task, clerk(n), parts[f"part{n}"], {f"by{n}": n}))

    assert [error for _, _, error in outcomes] == [None] * 10
    detail = engine.query(instance_detail, case.id)
    assert detail["status"] == "completed"
    assert {key: value for key, value in detail["data"].items() if key.startswith("by")} == {
        f"by{n}": n for n in range(10)}
    assert audit_actions(engine, case.id)["completed"] == 10


def test_twenty_users_claiming_from_one_inbox_each_task_is_claimed_once(engine):
    engine.run(deploy_definition, SYSTEM, HANDOVER, "handover.bpmn")
    cases = [engine.run(start_instance, SYSTEM, "handover").id for _ in range(20)]
    inbox = [open_tasks(engine, case)[0].id for case in cases]

    def claim_all(n: int) -> dict[str, object]:
        """Try every task of the inbox, starting at one's own place in it; what each attempt gave."""
        tried = {}
        for task_id in inbox[n:] + inbox[:n]:
            try:
                tried[task_id] = engine.run(claim_task, clerk(n), task_id).assignee
            except Conflict as exc:
                tried[task_id] = exc
        return tried

    outcomes = race(20, claim_all)

    held = engine.query(lambda e, s: dict(s.execute(select(HumanTask.id, HumanTask.assignee)
                                                    .where(HumanTask.id.in_(inbox))).all()))
    wins = {task_id: clerk(n).name for n, tried, _ in outcomes for task_id, got in tried.items()
            if not isinstance(got, Exception)}
    refusals = [(task_id, got) for _, tried, _ in outcomes for task_id, got in tried.items() if isinstance(got, Exception)]
    assert all(error is None for _, _, error in outcomes)
    # 400 attempts: each task won once, by the one who holds it now; no claim lost or doubled.
    assert len(wins) == 20 and sum(len(tried) for _, tried, _ in outcomes) == 400
    assert held == wins
    assert len(refusals) == 380
    assert all(held[task_id] in error.message for task_id, error in refusals)
    assert {error.code for _, error in refusals} == {CLAIMED_BY_OTHER}
    claims = engine.query(lambda e, s: Counter(s.scalars(select(AuditEvent.task_id).where(AuditEvent.action == "claimed"))))
    assert claims == Counter(inbox)


# -- an overdue timer against a user's completion ---------------------------------------------


@pytest.fixture
def review(engine, clock):
    """A case at ``review``, its one-hour deadline now overdue (the clock is two hours on)."""
    engine.run(deploy_definition, SYSTEM, DEADLINE, "deadline.bpmn")
    case = engine.run(start_instance, SYSTEM, "deadline", data={"applicant": "Noura"})
    [task] = open_tasks(engine, case.id)
    return case.id, task


def assert_escalated_once(engine, case_id, task):
    """The deadline fired once: the review interrupted, one escalation task, no job left for it."""
    assert history(engine, task.id) == [("interrupted", "system")]
    assert [t.element_id for t in open_tasks(engine, case_id)] == ["escalated"]
    actions = audit_actions(engine, case_id)
    assert (actions["timer_fired"], actions["completed"]) == (1, 0)
    assert engine.query(lambda e, s: s.scalar(select(func.count()).select_from(Job).where(Job.instance_id == case_id))) == 0


def complete_late(engine, task):
    with pytest.raises(Conflict) as refused:
        engine.run(complete_task, clerk(1), task.id, {"approved": True})
    return refused.value


def test_the_worker_fires_first_then_the_user_is_told_the_task_closed(engine, clock, review):
    case_id, task = review
    clock.advance(timedelta(hours=2))
    report = run_due_jobs(engine)
    assert (report.ran, report.fired) == (1, 1)
    refused = complete_late(engine, task)
    assert refused.code == TASK_CLOSED
    assert refused.message == f"task {task.id} is no longer open (the case moved on)"
    assert_escalated_once(engine, case_id, task)
    assert "approved" not in engine.query(instance_detail, case_id)["data"]


def test_the_user_completes_first_the_overdue_timer_fires_in_that_command_and_the_user_is_told(engine, clock, review):
    case_id, task = review
    clock.advance(timedelta(hours=2))
    refused = complete_late(engine, task)  # the worker has not run: the command fires the timer first
    assert refused.message.startswith("task 'Review' is no longer open: the case moved on before your change")
    assert_escalated_once(engine, case_id, task)
    assert run_due_jobs(engine).ran == 0  # the timer's job went with the timer: nothing runs twice
    assert_escalated_once(engine, case_id, task)


def test_the_user_completes_while_the_worker_holds_the_job_then_the_job_fires_nothing(engine, clock, review):
    case_id, task = review
    clock.advance(timedelta(hours=2))
    owner = new_owner()
    with engine.unit_of_work() as uow:  # the worker took the job ...
        [job] = acquire_jobs(engine, uow.session, owner, clock.now(), 10, 60)
        uow.commit()
    refused = complete_late(engine, task)  # ... the user's command fires the timer meanwhile ...
    assert refused.message.startswith("task 'Review' is no longer open")
    report = run_job(engine, job, owner, clock.now(), engine.job_settings)  # ... then the worker runs it
    assert (report.ran, report.fired, report.failed) == (1, 0, 0)
    assert_escalated_once(engine, case_id, task)


def test_a_completion_before_the_deadline_wins_and_the_timer_job_is_closed(engine, clock, review):
    case_id, task = review
    clock.advance(timedelta(minutes=59))
    engine.run(complete_task, clerk(1), task.id, {"approved": True})
    clock.advance(timedelta(hours=1))
    assert run_due_jobs(engine).ran == 0
    assert history(engine, task.id) == [("completed", "clerk01")]
    detail = engine.query(instance_detail, case_id)
    assert (detail["status"], detail["data"]["approved"]) == ("completed", True)
    assert audit_actions(engine, case_id)["timer_fired"] == 0


def test_twenty_overdue_deadlines_racing_twenty_completions_the_timer_always_wins(engine, clock, review):
    cases = [engine.run(start_instance, SYSTEM, "deadline").id for _ in range(20)]
    tasks = [open_tasks(engine, case)[0] for case in cases]
    clock.advance(timedelta(hours=2))

    def act(n: int):
        if n == 20:
            return run_due_jobs(engine)
        return engine.run(complete_task, clerk(n), tasks[n].id, {"approved": True})

    outcomes = race(21, act)

    users = [error for n, _, error in outcomes if n < 20]
    assert {type(error) for error in users} == {Conflict}  # every user is told; none silently loses data
    assert outcomes[20][2] is None
    for case, task in zip(cases, tasks, strict=True):
        assert_escalated_once(engine, case, task)



def test_only_a_command_marked_rerunnable_runs_again_after_the_case_changed_under_it(engine):
    calls = []

    def changed_under_it(engine, session, name):
        calls.append(name)
        if len(calls) == 1:
            raise Conflict("the case was changed first by someone", code=CASE_CHANGED)
        return "done"

    with pytest.raises(Conflict) as refused:  # an upload's stream, say, cannot be read twice
        engine.run(changed_under_it, "plain")
    assert (refused.value.code, calls) == (CASE_CHANGED, ["plain"])
    calls.clear()
    assert engine.run(rerunnable(changed_under_it), "marked") == "done"
    assert calls == ["marked", "marked"]


# -- an SLA escalation against a user's completion ---------------------------------------------
# The committee's decision: warned after 8 working days, escalated to the supervisors after 10
# and to the director after 12 (tests/bpmn/committee_sla.bpmn). An escalation does not close the
# task: whoever holds its lane may still complete it. What must never happen is an escalation,
# or a warning, sent or recorded for a task that was already completed.

COMMITTEE = Actor.user("ali", ["committee"])
ESCALATION_DUE = datetime(2026, 12, 17, 8, tzinfo=UTC)  # both levels and the warning are due


def sla_events(engine, instance_id):
    """The case's audit actions about its decision task, in order, and its outbox kinds."""
    actions = engine.query(lambda e, s: list(s.scalars(
        select(AuditEvent.action).where(AuditEvent.instance_id == instance_id,
                                        AuditEvent.action.in_(("sla_warning", "escalated", "completed")))
        .order_by(AuditEvent.id))))
    sent = engine.query(lambda e, s: list(s.scalars(
        select(OutboxMessage.kind).where(OutboxMessage.instance_id == instance_id).order_by(OutboxMessage.id))))
    return actions, sent


def jobs_of(engine, instance_id):
    return engine.query(lambda e, s: s.scalar(select(func.count()).select_from(Job)
                                              .where(Job.instance_id == instance_id)))


@pytest.fixture
def decision(engine, deploy):
    deploy("committee_sla")
    case = engine.run(start_instance, SYSTEM, "committee_sla", data={"request_no": 1})
    [task] = open_tasks(engine, case.id)
    return case.id, task


def test_the_worker_holds_the_escalations_while_the_user_completes_then_none_is_sent(engine, clock, decision):
    case_id, task = decision
    clock.set(ESCALATION_DUE)
    owner = new_owner()
    with engine.unit_of_work() as uow:  # the worker took the warning and both escalations ...
        held = acquire_jobs(engine, uow.session, owner, clock.now(), 10, 60)
        uow.commit()
    assert sorted(job.kind for job in held) == ["sla_escalate_1", "sla_escalate_2", "sla_warn"]
    engine.run(complete_task, COMMITTEE, task.id, {"accepted": True})  # ... the user completes meanwhile ...
    reports = [run_job(engine, job, owner, clock.now(), engine.job_settings) for job in held]  # ... then they run
    assert [(r.ran, r.fired, r.failed) for r in reports] == [(0, 0, 0)] * 3  # nothing ran, nothing failed
    assert sla_events(engine, case_id) == (["completed"], [])
    assert history(engine, task.id) == [("completed", "ali")]
    assert jobs_of(engine, case_id) == 0


def test_an_escalation_that_ran_first_leaves_the_task_to_be_completed_by_its_lane(engine, clock, decision):
    case_id, task = decision
    clock.set(ESCALATION_DUE)
    assert run_due_jobs(engine).ran == 3
    engine.run(complete_task, COMMITTEE, task.id, {"accepted": True})
    assert sla_events(engine, case_id) == (["sla_warning", "escalated", "escalated", "completed"],
                                           ["task_warning", "task_escalated", "task_escalated"])
    assert history(engine, task.id) == [("completed", "ali")]
    assert engine.query(instance_detail, case_id)["status"] == "completed"


def test_twenty_escalations_racing_twenty_completions_none_is_sent_after_its_task_closed(engine, clock, decision):
    cases = [engine.run(start_instance, SYSTEM, "committee_sla", data={"request_no": n}).id for n in range(20)]
    tasks = [open_tasks(engine, case)[0] for case in cases]
    clock.set(ESCALATION_DUE)

    def act(n: int):
        if n == 20:
            return run_due_jobs(engine)
        return engine.run(complete_task, COMMITTEE, tasks[n].id, {"accepted": True})

    outcomes = race(21, act)
    assert [error for _, _, error in outcomes] == [None] * 21  # every completion stands; the worker did not fail
    for case, task in zip(cases, tasks, strict=True):
        actions, sent = sla_events(engine, case)
        assert actions[-1] == "completed", actions  # nothing about the task after it closed
        assert actions.count("completed") == 1
        # What was recorded was sent, once each: the warning and the escalations before the close.
        assert sent == [{"sla_warning": "task_warning", "escalated": "task_escalated"}[a] for a in actions[:-1]]
        assert history(engine, task.id) == [("completed", "ali")]
        assert jobs_of(engine, case) == 0
