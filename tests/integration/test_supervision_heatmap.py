"""The heat map's read model and the incidents' operations, on known data."""

from datetime import timedelta
from itertools import count

import pytest
from sqlalchemy import select

from engine.actors import SYSTEM
from engine.commands import start_instance
from engine.errors import Conflict, Forbidden, InvalidInput, NotFound
from engine.jobs import run_due_jobs
from engine.models import AuditEvent, Job, OutboxMessage, TaskRecord
from tests.conftest import T0
from tests.support.desk import RECEPTION, SUPERVISOR
from workflows.operations.incidents import dismiss_job, retry_job, retry_message
from workflows.read.figures import percentile
from workflows.read.heatmap import band, heatmap, processes
from workflows.read.incidents import incident_count, incidents

_NUMBERS = count()


def _record(instance_id, element, opened, claimed, closed, met, outcome="completed", version=1):
    return TaskRecord(task_id=f"t{next(_NUMBERS)}", instance_id=instance_id,
                      process_key="failing", process_version=version, element_id=element, name=element, lane=None,
                      candidate_group=None, opened_at=opened, first_claimed_at=claimed, first_claimed_by=None,
                      assignee=None, closed_at=closed, closed_by="x", outcome=outcome,
                      due_at=None, warn_at=None, deadline_met=met, escalation_level=0)


@pytest.fixture
def history(engine, deploy):
    """The failing diagram with one case open (at «enter» and «note») and a known history at «enter»."""
    deploy("failing")
    row = engine.run(start_instance, SYSTEM, "failing")
    with engine.unit_of_work() as uow:
        for hours in range(1, 11):  # waited 1..10 hours, then worked 2, 4, ... 20 hours
            opened = T0 - timedelta(days=20)
            claimed = opened + timedelta(hours=hours)
            uow.session.add(_record(row.id, "enter", opened, claimed, claimed + timedelta(hours=2 * hours),
                                    met=hours > 3))  # 3 of 10 missed
        # never claimed: waited until it closed; no deadline
        uow.session.add(_record(row.id, "enter", T0 - timedelta(days=20), None, T0 - timedelta(days=20, hours=-11),
                                met=None))
        # cancelled: not waited on nor worked, but it missed its deadline
        uow.session.add(_record(row.id, "enter", T0 - timedelta(days=20), None, T0 - timedelta(days=10),
                                met=False, outcome="cancelled"))
        # Tuesday 11:00 in Riyadh: 48 h is Thursday (2 working days), 72 h Friday (still 2)
        for hours in (48, 72):
            uow.session.add(_record(row.id, "note", T0, None, T0 + timedelta(hours=hours), met=True))
        uow.commit()
    return row


def test_percentiles_are_linear_between_the_nearest_ranks():
    assert percentile([], 0.5) is None
    assert percentile([7.0], 0.9) == 7.0
    assert percentile([float(h) for h in range(1, 11)], 0.5) == pytest.approx(5.5)
    assert percentile([float(h) for h in range(10, 0, -1)], 0.9) == pytest.approx(9.1)
    assert [band(r) for r in (None, 0, 0.05, 0.1, 0.24, 0.25, 1)] == ["none", "met", "low", "medium", "medium",
                                                                      "high", "high"]


def test_the_heat_map_gives_tokens_times_and_breaches_per_user_task(engine, history):
    found = engine.query(heatmap, SUPERVISOR, "failing")
    assert (found["key"], found["version"], found["versions"]) == ("failing", 1, [1])
    tasks = {t["element_id"]: t for t in found["tasks"]}
    assert set(tasks) == {"note", "enter", "task_a", "task_b"}  # every user task of the diagram
    enter = tasks["enter"]
    assert (enter["live"], enter["live_unclaimed"]) == (1, 1)
    assert [c["instance_id"] for c in enter["open_cases"]] == [history.id]
    # waiting: 1..10 h claimed, plus 11 h never claimed (the cancelled one is left out)
    assert enter["waiting"]["count"] == 11
    assert enter["waiting"]["median_hours"] == pytest.approx(6.0)
    assert enter["waiting"]["p90_hours"] == pytest.approx(10.0)
    assert enter["working"]["count"] == 10
    assert enter["working"]["median_hours"] == pytest.approx(11.0)
    assert enter["working"]["p90_hours"] == pytest.approx(18.2)
    assert (enter["breached"], enter["with_deadline"]) == (4, 11)  # the cancelled one missed its deadline too
    assert enter["breach_rate"] == pytest.approx(4 / 11) and enter["band"] == "high"
    note = tasks["note"]
    assert (note["waiting"]["median_hours"], note["waiting"]["median_days"], note["waiting"]["p90_days"]) == (
        60.0, 2.0, 2.0)
    assert (note["breach_rate"], note["band"], note["working"]["count"]) == (0, "met", 0)
    assert (tasks["task_a"]["band"], tasks["task_a"]["live"], tasks["task_a"]["open_cases"]) == ("none", 0, [])


def test_another_version_has_its_own_history_and_an_unknown_one_is_not_found(engine, history):
    with engine.unit_of_work() as uow:
        uow.session.add(_record(history.id, "enter", T0, T0, T0 + timedelta(hours=1), met=False, version=2))
        uow.commit()
    assert engine.query(heatmap, SUPERVISOR, "failing", 1)["tasks"][1]["with_deadline"] == 11
    with pytest.raises(NotFound):
        engine.query(heatmap, SUPERVISOR, "failing", 2)  # records of it, but no such version deployed
    with pytest.raises(NotFound):
        engine.query(heatmap, SUPERVISOR, "nothing")
    with pytest.raises(Forbidden):
        engine.query(heatmap, RECEPTION, "failing")
    [listed] = engine.query(processes, SUPERVISOR)
    assert (listed["key"], listed["versions"], listed["open_tasks"]) == ("failing", [1], 2)


def _incident(engine, instance_id):
    """A job of the case whose handler does not exist: its one attempt fails, and it is an incident."""
    with engine.unit_of_work() as uow:
        job = Job(kind="mystery", instance_id=instance_id, task_id="x", element_id="enter", due_at=T0,
                  status="pending", attempts=0, max_attempts=1, payload={}, created_at=T0)
        uow.session.add(job)
        uow.commit()
        job_id = job.id
    assert run_due_jobs(engine, T0).incidents == 1
    return job_id


def _failed_message(engine, instance_id):
    with engine.unit_of_work() as uow:
        message = OutboxMessage(created_at=T0, kind="task_warning", recipient="group:reception",
                                instance_id=instance_id, payload={"channel": "email"}, status="failed", attempts=5,
                                last_error="SMTPError: refused")
        uow.session.add(message)
        uow.commit()
        return message.id


def _actions(engine, instance_id):
    return engine.query(lambda e, s: s.scalars(select(AuditEvent.action).where(
        AuditEvent.instance_id == instance_id).order_by(AuditEvent.id)).all())


def test_an_incident_is_listed_with_its_case_and_element_and_retried_once(engine, history):
    job_id = _incident(engine, history.id)
    assert engine.query(incident_count, SUPERVISOR) == 1
    [job] = engine.query(incidents, SUPERVISOR)["jobs"]
    assert (job["id"], job["element_name"]["ar"], job["case"]["id"]) == (job_id, "Enter figures", history.id)
    assert "no handler for job kind 'mystery'" in job["error"]
    with pytest.raises(Forbidden):
        engine.query(incidents, RECEPTION)
    with pytest.raises(Forbidden):
        engine.run(retry_job, RECEPTION, job_id)
    assert engine.run(retry_job, SUPERVISOR, job_id)["status"] == "pending"
    with pytest.raises(Conflict):
        engine.run(retry_job, SUPERVISOR, job_id)  # already retried
    with pytest.raises(NotFound):
        engine.run(retry_job, SUPERVISOR, 9999)
    assert engine.query(incident_count, SUPERVISOR) == 0
    assert _actions(engine, history.id)[-2:] == ["incident", "incident_retried"]


def test_dismissing_needs_a_reason_and_keeps_the_job_out_of_the_workers_hands(engine, history):
    job_id = _incident(engine, history.id)
    with pytest.raises(InvalidInput):
        engine.run(dismiss_job, SUPERVISOR, job_id, "   ")
    assert engine.query(lambda e, s: s.get(Job, job_id).status) == "incident"  # nothing half-written
    assert "incident_dismissed" not in _actions(engine, history.id)
    done = engine.run(dismiss_job, SUPERVISOR, job_id, "  the step was done by hand ")
    assert (done["status"], done["reason"]) == ("dismissed", "the step was done by hand")
    assert run_due_jobs(engine, T0 + timedelta(days=1)).ran == 0
    with pytest.raises(Conflict):
        engine.run(dismiss_job, SUPERVISOR, job_id, "again")
    event = engine.query(lambda e, s: s.scalars(select(AuditEvent).where(
        AuditEvent.action == "incident_dismissed")).one())
    assert (event.actor, event.instance_id, event.summary["reason"]) == ("supervisor1", history.id,
                                                                         "the step was done by hand")
    assert engine.query(incidents, SUPERVISOR)["jobs"] == []


def test_a_failed_message_goes_back_to_pending_with_fresh_attempts(engine, history, clock):
    message_id = _failed_message(engine, history.id)
    [listed] = engine.query(incidents, SUPERVISOR)["messages"]
    assert (listed["id"], listed["recipient_kind"], listed["channel"], listed["error"], listed["case"]["id"]) == (
        message_id, "group", "email", "SMTPError: refused", history.id)
    assert engine.query(incident_count, SUPERVISOR) == 1
    engine.run(retry_message, SUPERVISOR, message_id)
    message = engine.query(lambda e, s: s.get(OutboxMessage, message_id))
    assert (message.status, message.attempts, message.next_attempt_at) == ("pending", 0, clock.now())
    with pytest.raises(Conflict):
        engine.run(retry_message, SUPERVISOR, message_id)
    with pytest.raises(NotFound):
        engine.run(retry_message, SUPERVISOR, 9999)
    assert _actions(engine, history.id)[-1] == "message_retried"
    assert engine.query(incident_count, SUPERVISOR) == 0
