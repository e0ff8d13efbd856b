"""Timer benchmark: how late timers fire, and how fast a pile of due timers drains.

Prints figures; asserts nothing. Real worker processes (``tawasul worker``) and the real clock.

    .venv/bin/python bench/timers.py            # 1,000 timers over 60 s; 10,000 due at once
    .venv/bin/python bench/timers.py --quick    # 200 timers over 15 s; 2,000 due at once
    PG_BENCH_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test .venv/bin/python bench/timers.py

* lateness: timers spread evenly over a window, one worker; due → fired (the audit event's time)
  p50 / p95 / max, on PostgreSQL and on SQLite;
* drain: N timers all due at the same moment, two workers on PostgreSQL; seconds from the
  workers' start to an empty job table, and duplicates (timers fired more than once).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from bench.engine import machine  # noqa: E402
from engine.actors import SYSTEM  # noqa: E402
from engine.bootstrap import build_engine  # noqa: E402
from engine.clock import FrozenClock  # noqa: E402
from engine.commands import start_instance  # noqa: E402
from engine.context import CaseEngine  # noqa: E402
from engine.definitions import deploy_definition  # noqa: E402
from engine.models import AuditEvent, Job  # noqa: E402
from engine.settings import load_settings  # noqa: E402
from tests.support.databases import fresh_database  # noqa: E402

DIAGRAM = ROOT / "tests" / "bpmn" / "waiting.bpmn"


def spawn_worker(url: str, **settings: object) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAWASUL_")}
    env["TAWASUL_DATABASE_URL"] = url
    for key, value in settings.items():
        env[f"TAWASUL_{key.upper()}"] = str(value)
    return subprocess.Popen([sys.executable, "-m", "web.cli", "worker"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


def pending_jobs(engine: CaseEngine) -> int:
    with engine.unit_of_work(readonly=True) as uow:
        return uow.session.scalar(select(func.count()).select_from(Job))


def wait_empty(engine: CaseEngine, limit: float) -> float:
    started = time.monotonic()
    while pending_jobs(engine) and time.monotonic() - started < limit:
        time.sleep(0.05)
    return time.monotonic() - started


def lateness(kind: str, url: str, count: int, window: float) -> None:
    engine = build_engine(load_settings(), database_url=url)
    engine.run(deploy_definition, SYSTEM, DIAGRAM.read_bytes(), DIAGRAM.name)
    worker = spawn_worker(url, jobs__poll_seconds=2)
    time.sleep(1.5)  # let the worker start
    lead = 5.0 + count * (0.006 if kind == "postgresql" else 0.004)  # all written before the first is due
    first_due = datetime.now(UTC) + timedelta(seconds=lead)
    # Each instance is started "now" with a wait that lands it at its slot in the window.
    for i in range(count):
        due = first_due + timedelta(seconds=window * i / count)
        now = datetime.now(UTC)
        engine.clock = FrozenClock(now)
        engine.run(start_instance, SYSTEM, "waiting", data={"wait_hours": (due - now).total_seconds() / 3600})
    engine.clock = FrozenClock(datetime.now(UTC))
    wait_empty(engine, lead + window + 30)
    stop(worker)
    with engine.unit_of_work(readonly=True) as uow:
        events = uow.session.scalars(select(AuditEvent).where(AuditEvent.action == "timer_fired")).all()
    late = sorted((e.at - datetime.fromisoformat(e.summary["due_at"])).total_seconds() * 1000 for e in events)
    engine.dispose()
    if not late:
        print(f"{kind:10s} lateness: no timer fired")
        return
    p95 = late[min(len(late) - 1, int(len(late) * 0.95))]
    print(f"{kind:10s} lateness of {len(late)}/{count} timers over {window:.0f} s, one worker: "
          f"p50 {statistics.median(late):.0f} ms  p95 {p95:.0f} ms  max {late[-1]:.0f} ms")


def _start_chunk(args: tuple[str, int]) -> None:
    url, n = args
    engine = build_engine(load_settings(), database_url=url, clock=FrozenClock(datetime.now(UTC) - timedelta(hours=1)))
    for _ in range(n):
        engine.run(start_instance, SYSTEM, "waiting", data={"wait_hours": 0.5})
    engine.dispose()


def drain(url: str, count: int, workers: int) -> None:
    engine = build_engine(load_settings(), database_url=url)
    engine.run(deploy_definition, SYSTEM, DIAGRAM.read_bytes(), DIAGRAM.name)
    setup = time.monotonic()
    with multiprocessing.get_context("fork").Pool(2) as pool:
        pool.map(_start_chunk, [(url, count // 2), (url, count - count // 2)])
    setup = time.monotonic() - setup
    processes = [spawn_worker(url, jobs__poll_seconds=1, jobs__batch_size=100) for _ in range(workers)]
    seconds = wait_empty(engine, 600)
    for process in processes:
        stop(process)
    with engine.unit_of_work(readonly=True) as uow:
        fired = uow.session.scalar(select(func.count()).where(AuditEvent.action == "timer_fired"))
        distinct = uow.session.scalar(
            select(func.count(func.distinct(AuditEvent.instance_id))).where(AuditEvent.action == "timer_fired"))
    engine.dispose()
    print(f"postgresql drain of {count} timers due at once, {workers} workers: {seconds:.1f} s "
          f"({count / seconds:.0f} timers/s, includes worker start-up); fired {fired}, "
          f"duplicates {fired - distinct}, missed {count - distinct}  (set-up {setup:.0f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    spread, window, pile = (200, 15.0, 2000) if args.quick else (1000, 60.0, 10000)
    pg_url = os.environ.get("PG_BENCH_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        lateness("postgresql", fresh_database("postgresql", pg_url, Path(tmp)), spread, window)
        lateness("sqlite", fresh_database("sqlite", pg_url, Path(tmp)), spread, window)
        drain(fresh_database("postgresql", pg_url, Path(tmp)), pile, 2)


if __name__ == "__main__":
    main()
