"""The job table: every BPMN timer kind, retries and incidents, locks, the in-process worker."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from engine.actors import SYSTEM
from engine.bootstrap import build_engine
from engine.commands import complete_task, start_instance
from engine.errors import Conflict
from engine.jobs import (
    JobLost,
    JobRef,
    acquire_jobs,
    finish_job,
    retry_incident,
    run_due_jobs,
)
from engine.models import AuditEvent, Job, ProcessInstance
from engine.queries import instance_detail, list_incidents, list_tasks
from engine.settings import load_settings
from tests.conftest import BPMN_DIR, T0
from tests.support.jobs import fire_due_timers


def _jobs(engine, kind=None):
    with engine.unit_of_work(readonly=True) as uow:
        query = select(Job).order_by(Job.due_at)
        if kind:
            query = query.where(Job.kind == kind)
        return uow.session.scalars(query).all()


def _count(engine, model, *where):
    with engine.unit_of_work(readonly=True) as uow:
        return uow.session.scalar(select(func.count()).select_from(model).where(*where))


def test_non_interrupting_cycle_fires_three_times(engine, deploy, assert_round_trip):
    deploy("reminders")
    row = engine.run(start_instance, SYSTEM, "reminders")
    fired_at = []
    for day in range(1, 6):
        at = T0 + timedelta(days=day)
        fired = fire_due_timers(engine, at)
        assert fire_due_timers(engine, at) == 0  # idempotent at the same instant
        fired_at.append(fired)
        assert_round_trip(row.id)
    assert fired_at == [1, 1, 1, 0, 0]
    detail = engine.query(instance_detail, row.id)
    assert [t["element_id"] for t in detail["open_tasks"]] == ["provide_documents"]  # never interrupted
    assert detail["waiting_timers"] == []


def test_cycle_job_moves_to_its_next_occurrence(engine, deploy):
    deploy("reminders")
    engine.run(start_instance, SYSTEM, "reminders")
    assert [j.due_at for j in _jobs(engine)] == [T0 + timedelta(days=1)]
    fire_due_timers(engine, T0 + timedelta(days=1))
    assert [j.due_at for j in _jobs(engine)] == [T0 + timedelta(days=2)]


def test_completing_the_task_cancels_the_cycle(engine, deploy):
    deploy("reminders")
    engine.run(start_instance, SYSTEM, "reminders")
    [task] = engine.query(list_tasks, SYSTEM)
    engine.run(complete_task, SYSTEM, task.id, {})
    assert _jobs(engine) == []


def test_timer_date_counted_in_working_days(engine, clock, deploy):
    clock.set(datetime(2026, 9, 17, 7, tzinfo=UTC))  # Thursday; the weekend and National Day follow
    deploy("deadline")
    row = engine.run(start_instance, SYSTEM, "deadline")
    due = datetime(2026, 10, 4, 7, tzinfo=UTC)
    assert engine.query(instance_detail, row.id)["waiting_timers"] == [
        {"element_id": "ten_working_days", "due_at": due.isoformat()}]
    assert fire_due_timers(engine, due - timedelta(seconds=1)) == 0
    assert fire_due_timers(engine, due) == 1
    assert [t.element_id for t in engine.query(list_tasks, SYSTEM)] == ["announce"]


def test_timer_start_event_starts_a_new_instance_per_occurrence(engine, deploy):
    deploy("scheduled")
    [job] = _jobs(engine)
    assert (job.kind, job.due_at, job.payload["remaining"]) == ("timer_start", T0 + timedelta(days=1), 2)
    assert _count(engine, ProcessInstance) == 0
    for day in (1, 2, 3, 4):
        run_due_jobs(engine, T0 + timedelta(days=day))
        run_due_jobs(engine, T0 + timedelta(days=day))  # a second run at the same instant starts nothing
    assert _count(engine, ProcessInstance) == 3
    tasks = engine.query(list_tasks, SYSTEM)
    assert [t.element_id for t in tasks] == ["review_open_requests"] * 3  # the start timer did not wait again
    assert _jobs(engine) == []  # three occurrences, then done


def test_a_new_version_replaces_the_timer_start_of_the_old_one(engine, deploy):
    deploy("scheduled")
    xml = (BPMN_DIR / "scheduled.bpmn").read_bytes().replace(b'"R3/P1D"', b'"R2/PT12H"')
    from engine.definitions import deploy_definition

    engine.run(deploy_definition, SYSTEM, xml, "scheduled.bpmn")
    [job] = _jobs(engine)
    assert (job.due_at, job.payload["remaining"]) == (T0 + timedelta(hours=12), 1)


@pytest.fixture
def flaky(engine):
    """A job kind whose handler fails until told otherwise."""
    state = {"fail": True, "calls": 0, "conflict": False}

    def handler(engine, session, job, owner, now):
        state["calls"] += 1
        if state["conflict"]:
            state["conflict"] = False
            raise Conflict("the case was changed first")
        if state["fail"]:
            raise RuntimeError("the SMS gateway is down")
        finish_job(session, job, owner)
        return 0

    engine.job_handlers["flaky"] = handler

    def add_job():
        with engine.unit_of_work() as uow:
            uow.session.add(Job(kind="flaky", instance_id=None, task_id="x", element_id="send_sms", due_at=T0,
                                status="pending", attempts=0, max_attempts=3, payload={}, created_at=T0))
            uow.commit()
        return _jobs(engine, "flaky")[0].id

    state["add"] = add_job
    return state


def test_failing_job_retries_with_backoff_then_becomes_an_incident(engine, flaky):
    job_id = flaky["add"]()
    report = run_due_jobs(engine, T0)
    assert (report.failed, report.incidents) == (1, 0)
    [job] = _jobs(engine, "flaky")
    assert (job.status, job.attempts, job.due_at) == ("pending", 1, T0 + timedelta(seconds=2))
    assert job.last_error == "RuntimeError: the SMS gateway is down"
    assert run_due_jobs(engine, T0 + timedelta(seconds=1)).ran == 0  # not yet: backing off
    run_due_jobs(engine, T0 + timedelta(seconds=2))
    assert _jobs(engine, "flaky")[0].due_at == T0 + timedelta(seconds=2 + 4)  # the backoff doubles
    report = run_due_jobs(engine, T0 + timedelta(seconds=6))
    assert report.incidents == 1
    [incident] = engine.query(list_incidents)
    assert (incident["id"], incident["attempts"], incident["error"]) == (job_id, 3, "RuntimeError: the SMS gateway is down")
    assert run_due_jobs(engine, T0 + timedelta(days=1)).ran == 0  # an incident waits for a person

    flaky["fail"] = False
    assert engine.run(retry_incident, SYSTEM, job_id)["status"] == "pending"
    assert run_due_jobs(engine, engine.clock.now()).ran == 1
    assert _jobs(engine, "flaky") == [] and engine.query(list_incidents) == []
    with engine.unit_of_work(readonly=True) as uow:
        actions = uow.session.scalars(select(AuditEvent.action).where(AuditEvent.action.like("incident%"))).all()
    assert actions == ["incident", "incident_retried"]
    pending_id = flaky["add"]()
    with pytest.raises(Conflict, match="is pending, not an incident"):
        engine.run(retry_incident, SYSTEM, pending_id)


def test_a_conflict_does_not_use_up_an_attempt(engine, flaky):
    flaky["add"]()
    flaky["conflict"], flaky["fail"] = True, False
    report = run_due_jobs(engine, T0)
    assert report.ran == 1 and report.failed == 0  # retried at once, in the same run
    assert flaky["calls"] == 2
    assert _jobs(engine, "flaky") == []


def test_expired_lock_is_taken_again_and_the_slow_owner_is_fenced(engine, deploy):
    deploy("scheduled")
    due = T0 + timedelta(days=1)
    with engine.unit_of_work() as uow:
        [first] = acquire_jobs(engine, uow.session, "worker-a", due, 10, lock_seconds=30)
        uow.commit()
    with engine.unit_of_work() as uow:
        assert acquire_jobs(engine, uow.session, "worker-b", due + timedelta(seconds=10), 10, 30) == []  # held
        uow.commit()
    with engine.unit_of_work() as uow:
        [again] = acquire_jobs(engine, uow.session, "worker-b", due + timedelta(seconds=31), 10, 30)  # expired
        uow.commit()
    assert again.id == first.id
    from engine.job_handlers import handle_timer_start

    with pytest.raises(JobLost):  # worker-a wakes up late: its work is refused and rolled back
        engine.run(handle_timer_start, first, "worker-a", due + timedelta(seconds=40))
    engine.run(handle_timer_start, again, "worker-b", due + timedelta(seconds=40))
    assert _count(engine, ProcessInstance) == 1


def test_unknown_job_kind_becomes_an_incident(engine):
    with engine.unit_of_work() as uow:
        uow.session.add(Job(kind="mystery", instance_id=None, task_id="x", element_id="x", due_at=T0,
                            status="pending", attempts=0, max_attempts=1, payload={}, created_at=T0))
        uow.commit()
    assert run_due_jobs(engine, T0).incidents == 1
    assert "no handler for job kind 'mystery'" in engine.query(list_incidents)[0]["error"]


def test_timer_jobs_of_an_instance_in_error_wait_for_its_retry(engine, deploy):
    """A job is not taken while its instance is in error; the retry fires the overdue timer."""
    from engine.commands import retry_instance

    deploy("waiting")
    row = engine.run(start_instance, SYSTEM, "waiting", data={"wait_hours": 1})
    with engine.unit_of_work() as uow:
        uow.session.get(ProcessInstance, row.id).status = "error"
        uow.commit()
    assert run_due_jobs(engine, T0 + timedelta(hours=2)).ran == 0
    with engine.unit_of_work() as uow:
        instance = uow.session.get(ProcessInstance, row.id)
        instance.error_element_id, instance.error_message = "start", "simulated failure"
        uow.commit()
    engine.clock.set(T0 + timedelta(hours=2))
    engine.run(retry_instance, SYSTEM, instance_id=row.id)
    assert [t.element_id for t in engine.query(list_tasks, SYSTEM)] == ["follow_up"]
    assert _jobs(engine) == []


def test_worker_wakes_at_the_due_time_of_a_job_committed_in_its_process(database_url, deploy_with):
    """No slow polling: a timer written by a command in this process fires on time.

    The safety poll is set to 10 minutes, so only the re-arm at the job's due time can fire
    the 0.72-second timer within the test's few seconds. (A real clock here: a worker's timing
    is what is under test.)
    """
    import time

    from engine.clock import SystemClock
    from engine.worker import Worker

    settings = load_settings(**{"jobs.poll_seconds": 600})
    engine = build_engine(settings, database_url=database_url, clock=SystemClock())
    worker = Worker(engine, listen=False)
    try:
        deploy_with(engine, "waiting")
        worker.start()
        started = time.monotonic()
        row = engine.run(start_instance, SYSTEM, "waiting", data={"wait_hours": 0.0002})  # 0.72 s
        assert engine.query(list_tasks, SYSTEM, instance_id=row.id) == []
        deadline = started + 10
        while not engine.query(list_tasks, SYSTEM, instance_id=row.id) and time.monotonic() < deadline:
            worker.drained.clear()
            worker.drained.wait(0.5)
        assert [t.element_id for t in engine.query(list_tasks, SYSTEM, instance_id=row.id)] == ["follow_up"]
        assert time.monotonic() - started < 5
        assert worker.totals.fired == 1
    finally:
        worker.stop()
        engine.dispose()


def test_job_settings_are_checked(database_url):
    from engine.errors import ConfigError

    with pytest.raises(ConfigError, match="must be positive"):
        build_engine(load_settings(**{"jobs.batch_size": 0}), database_url=database_url)
    with pytest.raises(ConfigError, match="jobs settings"):
        build_engine(load_settings(**{"jobs.lock_seconds": "soon"}), database_url=database_url)


def test_jobref_shape():
    job = JobRef(1, "timer", 2, None, "t", "e", T0, 0, 5)
    assert job.payload == {}


def test_a_timer_job_that_finds_nothing_due_is_given_back_for_later(engine, deploy):
    """A job whose timer the engine does not consider due is not taken again in the same run."""
    deploy("waiting")
    row = engine.run(start_instance, SYSTEM, "waiting", data={"wait_hours": 5})
    with engine.unit_of_work() as uow:  # a job row claiming an earlier time than the timer's own
        uow.session.execute(Job.__table__.update().values(due_at=T0 + timedelta(hours=1)))
        uow.commit()
    report = run_due_jobs(engine, T0 + timedelta(hours=2))
    assert (report.ran, report.fired) == (1, 0)
    [job] = _jobs(engine)
    assert job.status == "pending" and job.due_at == T0 + timedelta(hours=2, seconds=1)
    assert engine.query(instance_detail, row.id)["open_tasks"] == []


def test_jobs_of_a_case_in_error_do_not_count_as_due(engine, deploy):
    """Otherwise a worker is woken again and again for a job it may not take (a busy loop)."""
    from engine.jobs import next_due_at

    deploy("waiting")
    row = engine.run(start_instance, SYSTEM, "waiting", data={"wait_hours": 1})
    assert next_due_at(engine) == T0 + timedelta(hours=1)
    with engine.unit_of_work() as uow:
        uow.session.get(ProcessInstance, row.id).status = "error"
        uow.commit()
    assert next_due_at(engine) is None


def test_a_cycle_that_missed_occurrences_fires_once(engine, deploy):
    deploy("reminders")
    row = engine.run(start_instance, SYSTEM, "reminders")
    assert fire_due_timers(engine, T0 + timedelta(days=10)) == 1  # workers were down for ten days
    detail = engine.query(instance_detail, row.id)
    assert detail["waiting_timers"] == []  # R3: the missed occurrences are used up
    with engine.unit_of_work(readonly=True) as uow:
        fired = uow.session.scalars(select(AuditEvent).where(AuditEvent.action == "timer_fired")).all()
    assert len(fired) == 1


def test_a_start_timer_that_missed_occurrences_starts_one_instance(engine, deploy):
    deploy("scheduled")  # R3/P1D from T0
    run_due_jobs(engine, T0 + timedelta(days=10))
    assert _count(engine, ProcessInstance) == 1
    assert _jobs(engine) == []


def test_the_heartbeat_renews_only_the_jobs_in_hand(engine, deploy):
    from engine.jobs import renew_locks

    deploy("waiting")
    for hours in (1, 2):
        engine.run(start_instance, SYSTEM, "waiting", data={"wait_hours": hours})
    with engine.unit_of_work() as uow:
        first, second = acquire_jobs(engine, uow.session, "w", T0 + timedelta(hours=3), 10, 30)
        uow.commit()
    assert renew_locks(engine, "w", 60, {first.id}) == 1
    assert renew_locks(engine, "w", 60, set()) == 0


def test_a_timer_date_without_a_zone_is_read_in_the_calendar_zone(engine, deploy, tmp_path):
    xml = (BPMN_DIR / "deadline.bpmn").read_bytes().replace(b"business_days(10)", b'"2026-12-02T10:00:00"')
    from engine.definitions import deploy_definition

    engine.run(deploy_definition, SYSTEM, xml, "deadline.bpmn")
    row = engine.run(start_instance, SYSTEM, "deadline")
    # 10:00 in Riyadh (the calendar's zone), whatever the server's zone: 07:00 UTC
    assert engine.query(instance_detail, row.id)["waiting_timers"][0]["due_at"] == "2026-12-02T07:00:00+00:00"
