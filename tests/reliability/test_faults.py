"""Faults, on the database the run uses (a SQLite file or PostgreSQL): a worker process killed
with SIGKILL in the middle of a batch of due timers, two workers sharing many timers, and (on
PostgreSQL) the server ending a command's connection half-way. Nothing is half-written, no job is
lost or run twice, and the work recovers without a person.

The worker tests start the real ``tawasul worker`` and use the real clock; every wait is bounded.
The timers are written by an engine whose clock stands two hours back, so they are due now.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from engine.actors import SYSTEM, Actor
from engine.clock import FrozenClock
from engine.commands import complete_task, start_instance
from engine.definitions import deploy_definition
from engine.errors import Conflict
from engine.jobs import run_due_jobs
from engine.models import AuditEvent, HumanTask, Job, ProcessInstance, TaskRecord
from engine.queries import list_tasks
from tests.reliability.diagrams import END, START, chain, diagram, timer
from tests.support.processes import stop
from workflows.bootstrap import build

ROOT = Path(__file__).resolve().parents[2]
#: A review with an interrupting one-hour deadline that opens an escalation task.
DEADLINE = diagram("deadline", START + '<bpmn:userTask id="review" name="Review" />\n'
                   + '<bpmn:boundaryEvent id="overdue" attachedToRef="review" cancelActivity="true">'
                   + timer("timeDuration", '"PT1H"') + "</bpmn:boundaryEvent>\n"
                   + '<bpmn:userTask id="escalated" name="Escalated" />\n<bpmn:endEvent id="escalation_end" />\n'
                   + END, [*chain("start", "review", "end"), *chain("overdue", "escalated", "escalation_end")])


# -- helpers ------------------------------------------------------------------------------------


def past_engine(settings, database_url):
    """An engine whose clock stands two hours ago: the deadlines it writes are an hour overdue."""
    return build(settings, database_url=database_url, clock=FrozenClock(datetime.now(UTC) - timedelta(hours=2)))


def overdue_cases(case_engine, count: int) -> list[int]:
    """Deploy the deadline diagram and start ``count`` cases, each with its deadline overdue."""
    case_engine.run(deploy_definition, SYSTEM, DEADLINE, "deadline.bpmn")
    with ThreadPoolExecutor(max_workers=4) as pool:
        return sorted(pool.map(lambda _: case_engine.run(start_instance, SYSTEM, "deadline").id, range(count)))


def scalar(case_engine, query):
    with case_engine.unit_of_work(readonly=True) as uow:
        return uow.session.scalar(query)


def fired_per_case(case_engine) -> Counter:
    with case_engine.unit_of_work(readonly=True) as uow:
        return Counter(uow.session.scalars(select(AuditEvent.instance_id).where(AuditEvent.action == "timer_fired")))


def jobs_left(case_engine) -> int:
    return scalar(case_engine, select(func.count()).select_from(Job))


def case_states(case_engine, cases: list[int]) -> dict[int, tuple]:
    """Per case: (open task elements, review history outcomes, timer jobs, timer_fired events)."""
    with case_engine.unit_of_work(readonly=True) as uow:
        session = uow.session
        open_tasks = Counter()
        for instance_id, element in session.execute(select(HumanTask.instance_id, HumanTask.element_id)):
            open_tasks[instance_id, element] += 1
        closed = Counter(session.execute(select(TaskRecord.instance_id, TaskRecord.outcome)).all())
        jobs = Counter(session.scalars(select(Job.instance_id)))
    fired = fired_per_case(case_engine)
    return {case: (open_tasks[case, "review"], open_tasks[case, "escalated"], closed[case, "interrupted"],
                   jobs[case], fired[case]) for case in cases}


#: A case whose deadline has not fired yet, and one whose deadline fired (exactly once).
WAITING = (1, 0, 0, 1, 0)
ESCALATED = (0, 1, 1, 0, 1)


def worker_env(database_url: str, **settings: object) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAWASUL_")}
    env["TAWASUL_DATABASE_URL"] = database_url
    env["TAWASUL_SANDBOX__TIME_LIMIT_MS"] = "1000"
    for key, value in settings.items():
        env[f"TAWASUL_{key.upper()}"] = str(value)
    return env


def spawn_worker(env: dict[str, str], log: Path) -> subprocess.Popen:
    with open(log, "ab") as out:
        return subprocess.Popen([sys.executable, "-m", "web.cli", "worker"], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT)


def wait_for(condition, seconds: float, what: str) -> float:
    """Wait until ``condition()``; the seconds it took (fails after ``seconds``)."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if condition():
            return time.monotonic() - started
        time.sleep(0.02)
    raise AssertionError(f"timed out after {seconds}s waiting for {what}")


# -- a worker killed with SIGKILL mid-batch -----------------------------------------------------

KILLED_CASES = 300


def test_a_worker_killed_mid_batch_loses_nothing_and_runs_nothing_twice(settings, database_url, tmp_path):
    past = past_engine(settings, database_url)
    cases = overdue_cases(past, KILLED_CASES)
    assert set(case_states(past, cases).values()) == {WAITING}
    # A big batch, so the kill lands inside one; a short lock, so recovery needs no person.
    env = worker_env(database_url, jobs__batch_size=100, jobs__lock_seconds=3, jobs__poll_seconds=0.5)
    first = spawn_worker(env, tmp_path / "worker-1.log")
    try:
        wait_for(lambda: sum(fired_per_case(past).values()) >= 30, 120, "the first worker to fire 30 timers")
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    assert first.returncode == -signal.SIGKILL

    # What the dead worker left: every case either wholly escalated or wholly waiting, and the
    # rest of its batch still locked in its name.
    at_kill = case_states(past, cases)
    escalated = sum(1 for state in at_kill.values() if state == ESCALATED)
    assert set(at_kill.values()) <= {WAITING, ESCALATED}, Counter(at_kill.values())
    assert 30 <= escalated < KILLED_CASES
    locked = scalar(past, select(func.count()).select_from(Job).where(Job.status == "running"))
    assert locked > 0, "the worker was not killed inside a batch"

    second = spawn_worker(env, tmp_path / "worker-2.log")
    try:
        took = wait_for(lambda: jobs_left(past) == 0, 180, "the second worker to finish every job")
    finally:
        stop(second)
    after = case_states(past, cases)
    assert Counter(after.values()) == Counter({ESCALATED: KILLED_CASES}), Counter(after.values())
    print(f"\nkilled worker: {escalated} of {KILLED_CASES} fired, {locked} locked at the kill; "
          f"the second worker finished in {took:.1f}s")
    past.dispose()


# -- two workers sharing many timers ------------------------------------------------------------

SHARED_CASES = 500


def test_two_workers_fire_500_due_timers_each_exactly_once(settings, database_url):
    """Two workers (their own engine and connections each) drain the same due timers at once,
    in small batches so they contend for almost every one. bench/timers_two_workers.py runs 10,000."""
    past = past_engine(settings, database_url)
    cases = overdue_cases(past, SHARED_CASES)
    workers = [build(settings, database_url=database_url) for _ in range(2)]
    barrier = threading.Barrier(2)
    reports = []

    def drain(case_engine):
        barrier.wait()
        reports.append(run_due_jobs(case_engine, settings=type(case_engine.job_settings)(batch_size=5)))

    started = time.monotonic()
    threads = [threading.Thread(target=drain, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    took = time.monotonic() - started
    assert not any(thread.is_alive() for thread in threads)
    assert len(reports) == 2 and all(report.failed == 0 for report in reports)
    assert sum(report.fired for report in reports) == SHARED_CASES
    assert Counter(case_states(past, cases).values()) == Counter({ESCALATED: SHARED_CASES})
    print(f"\ntwo workers: {[r.fired for r in reports]} fired, {[r.lost for r in reports]} lost races, "
          f"{SHARED_CASES / took:.0f} timers/s")
    for case_engine in (*workers, past):
        case_engine.dispose()


# -- PostgreSQL: the server ends a command's connection half-way --------------------------------


@pytest.mark.postgres_only
@pytest.mark.parametrize("locked, holds_instance", [("process_instances", False), ("human_tasks", True)])
def test_a_command_whose_backend_is_terminated_fails_clearly_writes_nothing_and_the_next_attempt_works(
        engine, clock, locked, holds_instance):
    """A second connection locks a row the completion must write (the case's row: it waits before
    writing anything; the task's row: it waits having updated the case's row), then ends the
    completion's backend with pg_terminate_backend."""
    engine.run(deploy_definition, SYSTEM, DEADLINE, "deadline.bpmn")
    case = engine.run(start_instance, SYSTEM, "deadline")
    [task] = engine.query(list_tasks, SYSTEM, instance_id=case.id)
    before = _rows(engine, case.id)
    admin = create_engine(make_url(engine.database_url))
    holder = admin.connect()
    key = {"process_instances": case.id, "human_tasks": task.id}[locked]
    holder.execute(text(f"SELECT 1 FROM {locked} WHERE id = :key FOR UPDATE"), {"key": key})
    holder_pid = holder.execute(text("SELECT pg_backend_pid()")).scalar()
    outcome = {}

    def complete():
        try:
            outcome["result"] = engine.run(complete_task, Actor.user("clerk1", ["desk"]), task.id, {"approved": True})
        except BaseException as exc:  # noqa: BLE001 - asserted below
            outcome["error"] = exc

    thread = threading.Thread(target=complete)
    thread.start()
    with admin.connect() as watcher:
        def blocked():
            watcher.commit()  # pg_stat_activity is a snapshot per transaction: take a fresh one
            return watcher.execute(text(
                "SELECT pid, query FROM pg_stat_activity WHERE :holder = ANY(pg_blocking_pids(pid))"),
                {"holder": holder_pid}).first()
        wait_for(blocked, 30, "the completion to wait for the row lock")
        pid, query = blocked()
        # Has the waiting completion already written the case's row? Its transaction is then the row's xmax.
        wrote_instance = watcher.execute(text(
            "SELECT (SELECT xmax FROM process_instances WHERE id = :case) IS NOT DISTINCT FROM backend_xid "
            "FROM pg_stat_activity WHERE pid = :pid"), {"case": case.id, "pid": pid}).scalar()
        assert (locked in query, wrote_instance) == (True, holds_instance), query
        assert watcher.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar() is True
        watcher.commit()
    thread.join(timeout=30)
    assert not thread.is_alive()
    holder.rollback()
    holder.close()
    admin.dispose()

    error = outcome.get("error")
    assert type(error) is Conflict, repr(error)  # the engine's error, not the driver's
    assert error.message == ("the connection to the database was lost before the change was saved; "
                             "nothing was saved; try again")
    assert _rows(engine, case.id) == before  # nothing half-written
    state = engine.run(complete_task, Actor.user("clerk1", ["desk"]), task.id, {"approved": True})
    assert state.status == "completed"
    assert _rows(engine, case.id)["history"] == [("review", "completed", "clerk1")]


def _rows(case_engine, instance_id):
    with case_engine.unit_of_work(readonly=True) as uow:
        session = uow.session
        row = session.get(ProcessInstance, instance_id)
        return {
            "instance": (row.status, row.revision, row.snapshot),
            "tasks": sorted(session.scalars(select(HumanTask.element_id).where(HumanTask.instance_id == instance_id))),
            "history": [tuple(r) for r in session.execute(select(
                TaskRecord.element_id, TaskRecord.outcome, TaskRecord.closed_by).where(
                TaskRecord.instance_id == instance_id))],
            "audit": session.scalar(select(func.count()).select_from(AuditEvent).where(
                AuditEvent.instance_id == instance_id)),
            "jobs": sorted(session.scalars(select(Job.element_id).where(Job.instance_id == instance_id))),
        }
