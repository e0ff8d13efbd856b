"""Reports benchmark: the supervisors' reports on PostgreSQL with 100,000 closed task records and
20,000 open tasks (and 20,000 requests, 8,000 committee decisions), a year of history.

Measures, for three periods (this month, last month, six months), the read model alone
(`workflows.read.reports.supervision_report`) and the whole page (`/supervision/reports` through the
Flask test client: the read model, the tables in the page's language, the template), each counted
afresh (the reports' cache off), then the cache's answer once. Prints figures; asserts nothing.
Target: p95 < 300 ms.

    .venv/bin/python bench/reports.py            # 100,000 closed, 20,000 open, 30 runs each
    .venv/bin/python bench/reports.py --quick    # 10,000 closed, 2,000 open, 10 runs each

``PG_BENCH_URL`` names the server (default ``postgresql+psycopg://postgres@127.0.0.1:5432/test``);
the benchmark makes its own database, ``tawasul_bench_reports``, on it.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, select  # noqa: E402

from bench.engine import machine  # noqa: E402
from engine.actors import SYSTEM, Actor  # noqa: E402
from engine.definitions import deploy_definition  # noqa: E402
from engine.models import HumanTask, ProcessDefinition, ProcessInstance, TaskRecord  # noqa: E402
from engine.settings import load_settings  # noqa: E402
from tests.support.databases import fresh_database  # noqa: E402
from workflows import identity  # noqa: E402
from workflows.bootstrap import build  # noqa: E402
from workflows.models import CHANNELS, Decision, Member, ServiceRequest  # noqa: E402
from workflows.operations.accounts import create_user  # noqa: E402
from workflows.read.reports import parse_period, supervision_report  # noqa: E402

LANES = ["reception", "social_researcher", "committee", "service_delivery"]
PROCESSES = ["member_request", "inquiry", "membership_registration"]
SERVICES = ["financial_support", "in_kind_support", "inquiry", "membership_registration"]
STAFF = [("reception1", ["reception"]), ("reception2", ["reception"]), ("researcher1", ["social_researcher"]),
         ("committee1", ["committee"]), ("delivery1", ["service_delivery"]), ("supervisor1", ["supervisor"])]
CHUNK = 10_000


def populate(url: str, closed: int, open_tasks: int, now: datetime) -> None:
    """Rows as the engine and the domain write them, in bulk: a year of closed tasks, open tasks, requests."""
    engine = build(load_settings(), database_url=url)
    for path in sorted((ROOT / "bpmn").glob("*.bpmn")):
        engine.run(deploy_definition, SYSTEM, path.read_bytes(), path.name)
    for username, roles in STAFF:
        engine.run(create_user, SYSTEM, username, "bench-pass", username, roles)
    definition_id = engine.query(lambda e, s: s.scalar(select(ProcessDefinition.id).limit(1)))
    rng = random.Random(12)
    instances = max(open_tasks, closed // 5)
    year = timedelta(days=365)
    with engine.unit_of_work() as uow:
        connection = uow.session.connection()
        connection.execute(insert(Member), [
            {"national_id": identity.with_check_digit(f"1{n:08d}"), "name_ar": f"عضو {n}", "status": "active",
             "language": "ar", "search_name": f"عضو {n}", "created_at": now, "created_by": "bench"}
            for n in range(1000)])
        for start in range(0, instances, CHUNK):
            chunk = range(start, min(instances, start + CHUNK))
            connection.execute(insert(ProcessInstance), [
                {"id": n + 1, "definition_id": definition_id, "business_key": f"REQ-{n + 1:06d}", "status": "running",
                 "revision": 1, "snapshot": "", "started_at": now, "started_by": "bench", "updated_at": now,
                 "updated_by": "bench"} for n in chunk])
        for start in range(0, closed, CHUNK):
            rows = []
            for n in range(start, min(closed, start + CHUNK)):
                closed_at = now - year * rng.random()
                opened_at = closed_at - timedelta(hours=rng.randrange(1, 200))
                due = opened_at + timedelta(hours=rng.choice((24, 72, 240)))
                lane = LANES[n % len(LANES)]
                rows.append({"task_id": f"c{n}", "instance_id": n % instances + 1, "process_key": PROCESSES[n % 3],
                             "process_version": 1, "element_id": "e", "name": "e", "lane": lane,
                             "candidate_group": lane, "opened_at": opened_at, "first_claimed_at": opened_at,
                             "first_claimed_by": "reception1", "assignee": "reception1", "closed_at": closed_at,
                             "closed_by": "reception1", "outcome": "completed" if n % 20 else "cancelled",
                             "due_at": due, "warn_at": None, "deadline_met": closed_at <= due,
                             "escalation_level": 0})
            connection.execute(insert(TaskRecord), rows)
        for start in range(0, open_tasks, CHUNK):
            rows = []
            for n in range(start, min(open_tasks, start + CHUNK)):
                lane = LANES[n % len(LANES)]
                created = now - timedelta(hours=rng.randrange(1, 24 * 40))
                holder = [u for u, roles in STAFF if lane in roles]
                rows.append({"id": f"00000000-0000-0000-0000-{n:012d}", "instance_id": n + 1, "element_id": "e",
                             "name": "e", "lane": lane, "candidate_group": lane,
                             "assignee": holder[n % len(holder)] if holder and n % 3 == 0 else None,
                             "created_at": created, "due_at": created + timedelta(days=3), "warn_at": None,
                             "priority": 50, "escalation_level": 0})
            connection.execute(insert(HumanTask), rows)
        requests = open_tasks
        for start in range(0, requests, CHUNK):
            rows = []
            for n in range(start, min(requests, start + CHUNK)):
                opened_at = now - year * rng.random()
                done = n % 10 < 7
                rows.append({"reference": f"REQ-{n + 1:06d}", "member_id": n % 1000 + 1,
                             "service_type": SERVICES[n % len(SERVICES)], "channel": CHANNELS[n % len(CHANNELS)],
                             "summary": "", "status": "delivered" if done else "checking", "instance_id": n + 1,
                             "opened_at": opened_at, "opened_by": "bench",
                             "closed_at": opened_at + timedelta(hours=rng.randrange(2, 600)) if done else None,
                             "answer_promised_on": (opened_at + timedelta(days=14)).date() if n % 4 < 2 else None})
            connection.execute(insert(ServiceRequest), rows)
        ids = list(uow.session.scalars(select(ServiceRequest.id).where(ServiceRequest.answer_promised_on.is_not(None))
                                       .order_by(ServiceRequest.id).limit(requests * 2 // 5)))
        connection.execute(insert(Decision), [
            {"request_id": rid, "outcome": "accepted" if rid % 3 else "rejected", "reason": "r",
             "committee_members": ["a"], "decided_at": now - year * rng.random(), "recorded_by": "committee1"}
            for rid in ids])
        uow.commit()
    with engine.unit_of_work() as uow:  # what autovacuum would do after so many rows
        uow.session.connection().exec_driver_sql("ANALYZE")
        uow.commit()
    engine.dispose()


def _figures(timings: list[float]) -> str:
    timings = sorted(timings)
    p95 = timings[min(len(timings) - 1, int(len(timings) * 0.95))]
    return f"p50 {statistics.median(timings):.0f} ms, p95 {p95:.0f} ms, max {timings[-1]:.0f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    closed, open_tasks, runs = (10_000, 2_000, 10) if args.quick else (100_000, 20_000, 30)
    pg_url = os.environ.get("PG_BENCH_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    print(f"machine: {machine()}")
    url = fresh_database("postgresql", pg_url, Path("/tmp"), name="tawasul_bench_reports")
    now = datetime.now(UTC)
    started = time.monotonic()
    populate(url, closed, open_tasks, now)
    print(f"{closed} closed task records, {open_tasks} open tasks, {open_tasks} requests written in "
          f"{time.monotonic() - started:.0f} s")
    # Counted afresh each time (the reports' cache off); the cache is measured apart at the end.
    engine = build(load_settings(**{"reports.cache_seconds": 0}), database_url=url)
    from web import create_app
    from web.current import ENGINE_KEY

    app = create_app({"TESTING": True, "SECRET_KEY": "bench"}, engine=engine)
    assert app.extensions[ENGINE_KEY] is engine
    client = app.test_client()
    from tests.web.helpers import sign_in

    sign_in(client, "supervisor1", "bench-pass")
    actor = Actor.user("supervisor1", ["supervisor"], roles=["supervisor"])
    today = now.astimezone(engine.calendars.get().tz).date()
    six = (today - timedelta(days=182)).isoformat()
    periods = {"this month": ("this_month", None, None), "last month": ("last_month", None, None),
               "six months (custom)": ("custom", six, today.isoformat())}
    for name, (kind, start, end) in periods.items():
        period = parse_period(kind, start, end, today)
        engine.query(supervision_report, actor, period)  # warm: the calendar, the plans
        timings = []
        for _ in range(runs):
            begun = time.perf_counter()
            engine.query(supervision_report, actor, period)
            timings.append((time.perf_counter() - begun) * 1000)
        print(f"report read model, {name}: {_figures(timings)}")
        query = f"period={kind}" + (f"&from={start}&to={end}" if kind == "custom" else "")
        page_timings = []
        for _ in range(runs):
            begun = time.perf_counter()
            response = client.get(f"/supervision/reports?{query}")
            page_timings.append((time.perf_counter() - begun) * 1000)
            assert response.status_code == 200, response.status_code
        print(f"report page (read model, tables, template), {name}: {_figures(page_timings)}")
    cached = build(load_settings(), database_url=url)
    period = parse_period("custom", six, today.isoformat(), today)
    cached.query(supervision_report, actor, period)
    timings = []
    for _ in range(runs):
        begun = time.perf_counter()
        cached.query(supervision_report, actor, period)
        timings.append((time.perf_counter() - begun) * 1000)
    print(f"report read model, six months, served from its cache (nothing committed since): {_figures(timings)}")
    cached.dispose()
    engine.dispose()


if __name__ == "__main__":
    main()
