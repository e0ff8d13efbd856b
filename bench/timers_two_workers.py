"""Two workers × 10,000 due timers: every timer fires exactly once; how fast they drain.

Prints figures and the count of duplicates and misses (0 and 0 when the engine is right; the
exit status is 1 otherwise). 10,000 cases of a review with an interrupting one-hour deadline are
started through the engine with a clock two hours back (so every deadline is overdue), then two
real ``tawasul worker`` processes are started on the database and the run ends when the job table is empty.
Usage:

    .venv/bin/python bench/timers_two_workers.py [--db sqlite|postgresql] [--timers 10000] [--workers 2]
        [--pg-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres] [--batch-size 50]
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from engine.settings import load_settings  # noqa: E402
from tests.reliability.test_faults import (  # noqa: E402
    fired_per_case,
    jobs_left,
    overdue_cases,
    past_engine,
    spawn_worker,
    stop,
    worker_env,
)
from tests.support.databases import drop_postgres, fresh_database  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--timers", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    if args.timers < 1 or args.workers < 1 or args.batch_size < 1:
        parser.error("--timers, --workers and --batch-size must be at least 1")
    print(f"machine: CPython {platform.python_version()}, {platform.processor() or platform.machine()}; "
          f"database: {args.db}")
    workdir = Path(tempfile.mkdtemp())
    url = fresh_database(args.db, args.pg_url, workdir, name="tawasul_bench_timers")
    settings = load_settings(**{"sandbox.time_limit_ms": 1000})
    past = past_engine(settings, url)
    try:
        started = time.perf_counter()
        cases = overdue_cases(past, args.timers)
        print(f"{len(cases)} cases with an overdue deadline written in {time.perf_counter() - started:.1f} s")
        env = worker_env(url, jobs__batch_size=args.batch_size, jobs__poll_seconds=0.5)
        started = time.perf_counter()
        workers = [spawn_worker(env, workdir / f"worker-{n}.log") for n in range(args.workers)]
        try:
            while jobs_left(past):
                if any(worker.poll() is not None for worker in workers):
                    print(f"a worker exited; see {workdir}/worker-*.log")
                    return 1
                time.sleep(0.05)
        finally:
            for worker in workers:
                stop(worker)
        took = time.perf_counter() - started
        fired = fired_per_case(past)
        duplicates = sum(n - 1 for n in fired.values() if n > 1)
        missing = sum(1 for case in cases if fired[case] == 0)
        escalated = _escalated(past)
        print(f"{args.workers} workers (batch {args.batch_size}): {sum(fired.values())} timers fired in {took:.1f} s "
              f"(worker start-up included) = {sum(fired.values()) / took:.0f} jobs/s")
        print(f"duplicates={duplicates} missing={missing} escalation tasks={escalated} "
              f"(per case: {dict(Counter(fired[case] for case in cases))})")
        return 0 if duplicates == 0 and missing == 0 and escalated == len(cases) else 1
    finally:
        past.dispose()
        if args.db == "postgresql":
            drop_postgres(args.pg_url, "tawasul_bench_timers")


def _escalated(past) -> int:
    from engine.models import HumanTask

    with past.unit_of_work(readonly=True) as uow:
        return uow.session.scalar(select(func.count()).select_from(HumanTask)
                                  .where(HumanTask.element_id == "escalated"))


if __name__ == "__main__":
    sys.exit(main())
