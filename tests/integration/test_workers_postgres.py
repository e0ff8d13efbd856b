"""Several worker processes on PostgreSQL: each job runs once, a killed worker loses nothing,
and a deployment of gunicorn plus two workers carries a request with a timer from start to end.

These start real processes and use the real clock (what is under test is their timing and
locking); every wait is bounded.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine.actors import SYSTEM
from engine.bootstrap import build_engine
from engine.clock import FrozenClock
from engine.commands import start_instance
from engine.models import AuditEvent, HumanTask, Job
from tests.support.processes import stop

pytestmark = pytest.mark.postgres_only
ROOT = Path(__file__).resolve().parents[2]


def _env(database_url, **settings):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAWASUL_")}
    env["TAWASUL_DATABASE_URL"] = database_url
    for key, value in settings.items():
        env[f"TAWASUL_{key.upper()}"] = str(value)
    return env


def _spawn(args, env):
    return subprocess.Popen([sys.executable, "-m", "web.cli", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _count(engine, *query):
    with engine.unit_of_work(readonly=True) as uow:
        return uow.session.scalar(*query)


def _wait_for(condition, seconds, what):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {seconds}s waiting for {what}")


def _past_engine(database_url, settings):
    """An engine whose clock stands an hour ago, to write timers that are due now."""
    return build_engine(settings, database_url=database_url,
                      clock=FrozenClock(datetime.now(UTC) - timedelta(hours=1)))


def _start_many(engine, key, count, data):
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda _: engine.run(start_instance, SYSTEM, key, data=data), range(count)))


def _fired_per_instance(engine):
    with engine.unit_of_work(readonly=True) as uow:
        rows = uow.session.execute(
            select(AuditEvent.instance_id, func.count())
            .where(AuditEvent.action == "timer_fired")
            .group_by(AuditEvent.instance_id)
        ).all()
    return {instance_id: n for instance_id, n in rows}


def test_two_workers_fire_2000_timers_due_at_once_exactly_once(database_url, settings, deploy_with):
    past = _past_engine(database_url, settings)
    deploy_with(past, "waiting")
    _start_many(past, "waiting", 2000, {"wait_hours": 0.5})  # all due 30 minutes ago
    assert _count(past, select(func.count()).select_from(Job)) == 2000
    env = _env(database_url, jobs__poll_seconds=0.5, jobs__batch_size=50)
    workers = [_spawn(["worker"], env) for _ in range(2)]
    try:
        _wait_for(lambda: _count(past, select(func.count()).select_from(Job)) == 0, 180, "the jobs to drain")
    finally:
        for worker in workers:
            stop(worker)
    fired = _fired_per_instance(past)
    assert len(fired) == 2000 and set(fired.values()) == {1}  # every timer, each exactly once
    assert _count(past, select(func.count()).select_from(HumanTask).where(HumanTask.element_id == "follow_up")) == 2000
    past.dispose()


def test_a_killed_worker_loses_nothing_and_nothing_runs_twice(database_url, settings, deploy_with):
    past = _past_engine(database_url, settings)
    deploy_with(past, "slow_after_timer")
    _start_many(past, "slow_after_timer", 40, {"wait_hours": 0.5})
    env = _env(database_url, jobs__poll_seconds=0.2, jobs__batch_size=20, jobs__lock_seconds=2)
    first = _spawn(["worker"], env)
    try:
        _wait_for(lambda: sum(_fired_per_instance(past).values()) >= 3, 60, "the first worker to fire some timers")
    finally:
        first.send_signal(signal.SIGKILL)
        first.communicate(timeout=10)
    fired_before = sum(_fired_per_instance(past).values())
    still_locked = _count(past, select(func.count()).select_from(Job).where(Job.status == "running"))
    assert fired_before < 40 and still_locked > 0  # killed in the middle of a batch, holding locks
    second = _spawn(["worker"], env)
    try:
        _wait_for(lambda: _count(past, select(func.count()).select_from(Job)) == 0, 120, "the second worker to finish")
    finally:
        stop(second)
    fired = _fired_per_instance(past)
    assert len(fired) == 40 and set(fired.values()) == {1}
    assert _count(past, select(func.count()).select_from(HumanTask).where(HumanTask.element_id == "follow_up")) == 40
    past.dispose()


def test_gunicorn_and_two_workers_carry_a_request_with_a_timer(database_url, deploy, engine):
    deploy("waiting")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = _env(database_url, api__token="deploy-test", worker__embedded="false", jobs__poll_seconds=1)
    web = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "--workers", "2", "--bind", f"127.0.0.1:{port}",
         "web:create_app()"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    workers = [_spawn(["worker"], env) for _ in range(2)]
    base = f"http://127.0.0.1:{port}"

    def call(method, path, body=None):
        request = urllib.request.Request(
            base + path, method=method, data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": "Bearer deploy-test", "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    try:
        def healthy():
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=2) as response:
                    return response.status == 200
            except OSError:
                return False

        _wait_for(healthy, 30, "gunicorn to answer")
        started = call("POST", "/api/v1/instances", {"key": "waiting", "data": {"wait_hours": 0.0005}})  # 1.8 s
        instance_id = started["instance_id"]
        assert started["open_tasks"] == {}
        assert call("GET", f"/api/v1/instances/{instance_id}")["waiting_timers"][0]["element_id"] == "pause"
        _wait_for(lambda: call("GET", f"/api/v1/tasks?instance={instance_id}"), 30, "a worker to fire the timer")
        [task] = call("GET", f"/api/v1/tasks?instance={instance_id}")
        assert task["element_id"] == "follow_up"
        assert call("POST", f"/api/v1/tasks/{task['id']}/complete", {"data": {"note": "done"}})["status"] == "completed"
        detail = call("GET", f"/api/v1/instances/{instance_id}")
        assert detail["status"] == "completed" and detail["data"]["note"] == "done"
    finally:
        for process in [web, *workers]:
            stop(process)


def test_notify_wakes_a_worker_in_another_process_at_once(database_url, settings, deploy_with):
    """With its safety poll at 10 minutes, only LISTEN/NOTIFY can tell the worker of a new job."""
    from engine.clock import SystemClock
    from engine.queries import list_tasks

    engine = build_engine(settings, database_url=database_url, clock=SystemClock())
    deploy_with(engine, "waiting")
    worker = _spawn(["worker"], _env(database_url, jobs__poll_seconds=600))
    try:
        worker.stdout.readline()  # the worker's start line: it is listening
        time.sleep(0.5)  # its first drain (at start) has found nothing
        row = engine.run(start_instance, SYSTEM, "waiting", data={"wait_hours": 0.0003})  # about 1 s
        started = time.monotonic()
        _wait_for(lambda: engine.query(list_tasks, SYSTEM, instance_id=row.id), 20, "the timer to fire")
        assert time.monotonic() - started < 10
    finally:
        stop(worker)
        engine.dispose()
