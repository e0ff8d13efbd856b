"""Web benchmark: inbox latency for concurrent signed-in users, gunicorn on PostgreSQL.

Prints figures; asserts nothing.

    .venv/bin/python bench/web.py            # 100,000 open tasks, 20 users, 30 s
    .venv/bin/python bench/web.py --quick    # 10,000 open tasks, 20 users, 8 s
"""

from __future__ import annotations

import argparse
import http.cookiejar
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, text  # noqa: E402

from bench.engine import machine  # noqa: E402
from engine.actors import SYSTEM  # noqa: E402
from engine.definitions import deploy_definition  # noqa: E402
from engine.models import HumanTask, ProcessInstance  # noqa: E402
from engine.settings import load_settings  # noqa: E402
from tests.support.databases import fresh_database  # noqa: E402
from workflows import identity  # noqa: E402
from workflows.bootstrap import build  # noqa: E402
from workflows.models import Member, ServiceRequest  # noqa: E402
from workflows.operations.accounts import create_user  # noqa: E402

LANES = ["reception", "social_researcher", "committee", "service_delivery"]
ELEMENTS = {"reception": "check_data", "social_researcher": "explain_procedures", "committee": "committee_review",
            "service_delivery": "deliver_service"}


def populate(url: str, tasks: int, users: int) -> None:
    """Open tasks in bulk (rows as the engine writes them), members and requests, staff users."""
    engine = build(load_settings(), database_url=url)
    path = ROOT / "bpmn" / "member_request.bpmn"
    [deployed] = engine.run(deploy_definition, SYSTEM, path.read_bytes(), path.name)
    definition_id = engine.query(lambda e, s: s.execute(text("SELECT id FROM process_definitions")).scalar())
    rng = random.Random(3)
    now = datetime.now(UTC)
    members = max(1000, tasks // 10)
    with engine.unit_of_work() as uow:
        connection = uow.session.connection()
        connection.execute(insert(Member), [
            {"national_id": identity.with_check_digit(f"1{n:08d}"), "name_ar": f"عضو رقم {n}", "name_en": f"Member {n}",
             "status": "active", "language": "ar", "search_name": f"عضو رقم {n} member {n}", "created_at": now,
             "created_by": "bench"} for n in range(members)])
        for start in range(0, tasks, 10000):
            chunk = range(start, min(tasks, start + 10000))
            connection.execute(insert(ProcessInstance), [
                {"id": n + 1, "definition_id": definition_id, "business_key": f"REQ-2026-{n + 1:06d}",
                 "status": "running",
                 "revision": 1, "snapshot": "", "started_at": now, "started_by": "bench", "updated_at": now,
                 "updated_by": "bench"} for n in chunk])
            connection.execute(insert(ServiceRequest), [
                {"reference": f"REQ-2026-{n + 1:06d}", "member_id": rng.randrange(members) + 1,
                 "service_type": "financial_support", "channel": "phone", "summary": "", "status": "checking",
                 "instance_id": n + 1, "opened_at": now, "opened_by": "bench"} for n in chunk])
            rows = []
            for n in chunk:
                lane = LANES[n % len(LANES)]
                due = now + timedelta(hours=rng.randrange(-240, 480))
                rows.append({"id": f"00000000-0000-0000-0000-{n:012d}", "instance_id": n + 1,
                             "element_id": ELEMENTS[lane], "name": ELEMENTS[lane], "lane": lane,
                             "candidate_group": lane, "assignee": None, "created_at": now, "due_at": due,
                             "warn_at": due - timedelta(days=2), "priority": rng.choice((50, 50, 50, 80)),
                             "form_key": None})
            connection.execute(insert(HumanTask), rows)
        connection.execute(text("SELECT setval(pg_get_serial_sequence('process_instances', 'id'), :n)"), {"n": tasks})
        uow.commit()
    for n in range(users):
        engine.run(lambda e, s, n=n: create_user(e, s, SYSTEM, f"staff{n}", "bench-pass-1", f"Staff {n}",
                                                 [LANES[n % len(LANES)]]))
    # What autovacuum would have done by now: statistics, and the visibility map that lets the
    # counts read only the index.
    with engine.db.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE"))
    engine.dispose()
    del deployed


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_load(base: str, users: int, seconds: float, think: float = 0.0) -> list[float]:
    latencies: list[float] = []
    lock = threading.Lock()
    errors = []
    # Every user signs in first (argon2 is deliberately slow); the measured pages start together
    # once all are in, so a sign-in is never counted as an inbox page.
    signed_in = threading.Barrier(users + 1)
    window: dict[str, float] = {}

    def user(n: int) -> None:
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        page = opener.open(base + "/login", timeout=30).read().decode()
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        body = urllib.parse.urlencode({"username": f"staff{n}", "password": "bench-pass-1", "csrf_token": token})
        opener.open(base + "/login", data=body.encode(), timeout=30).read()
        signed_in.wait()
        mine = []
        if think:
            # People do not all press a key in the same millisecond: each starts at a random moment.
            time.sleep(random.uniform(0, think))
        while time.monotonic() < window["stop"]:
            started = time.perf_counter()
            response = opener.open(base + "/inbox", timeout=30)
            response.read()
            mine.append((time.perf_counter() - started) * 1000)
            if response.status != 200:
                errors.append(response.status)
            if think:
                time.sleep(random.uniform(0.5 * think, 1.5 * think))
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=user, args=(n,)) for n in range(users)]
    for thread in threads:
        thread.start()
    window["stop"] = time.monotonic() + 3600
    signed_in.wait()
    window["stop"] = time.monotonic() + seconds
    for thread in threads:
        thread.join()
    if errors:
        print(f"errors: {len(errors)}")
    return latencies


def search_timings(base: str, tasks: int) -> None:
    """One signed-in user searching the inbox by member name, national ID and request reference."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(base + "/login", timeout=30).read().decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    body = urllib.parse.urlencode({"username": "staff0", "password": "bench-pass-1", "csrf_token": token})
    opener.open(base + "/login", data=body.encode(), timeout=30).read()
    rng = random.Random(5)
    members = max(1000, tasks // 10)
    kinds = {
        "member name": lambda: f"عضو رقم {rng.randrange(members)}",
        "national ID": lambda: identity.with_check_digit(f"1{rng.randrange(members):08d}"),
        "reference": lambda: f"REQ-2026-{rng.randrange(tasks) + 1:06d}",
    }
    for kind, make in kinds.items():
        timings = []
        for _ in range(40):
            query = urllib.parse.urlencode({"q": make()})
            started = time.perf_counter()
            opener.open(f"{base}/inbox?{query}", timeout=30).read()
            timings.append((time.perf_counter() - started) * 1000)
        timings.sort()
        print(f"inbox search by {kind}, one user, {tasks} open tasks: p50 {statistics.median(timings):.0f} ms, "
              f"p95 {timings[int(len(timings) * 0.95)]:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--think", type=float, default=2.0,
                        help="mean seconds a user reads a page before the next (second run; first run uses 0)")
    parser.add_argument("--counts-seconds", type=float, default=None,
                        help="inbox.counts_seconds for the server (default: config.yaml; 0 counts on every page)")
    args = parser.parse_args()
    tasks, seconds = (10_000, 8.0) if args.quick else (100_000, 30.0)
    users = 20
    pg_url = os.environ.get("PG_BENCH_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    print(f"machine: {machine()}")
    url = fresh_database("postgresql", pg_url, Path("/tmp"))
    from engine.db import make_engine
    from engine.schema import upgrade_schema
    from workflows.schema import MODEL_MODULES

    upgrade_schema(make_engine(url), MODEL_MODULES)
    started = time.monotonic()
    populate(url, tasks, users)
    print(f"{tasks} open tasks, {users} staff users written in {time.monotonic() - started:.0f} s")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAWASUL_")}
    env.update(TAWASUL_DATABASE_URL=url, TAWASUL_WORKER__EMBEDDED="false", TAWASUL_WEB__SECRET_KEY="bench-secret")
    if args.counts_seconds is not None:
        env["TAWASUL_INBOX__COUNTS_SECONDS"] = str(args.counts_seconds)
    workers = os.cpu_count() or 2
    counts = env.get("TAWASUL_INBOX__COUNTS_SECONDS") or load_settings().get("inbox", {}).get("counts_seconds", 5)
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "--workers", str(workers), "--threads", "4", "--bind",
         f"127.0.0.1:{port}", "--log-level", "warning", "web:create_app()"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/healthz", timeout=2).read()
                break
            except OSError:
                time.sleep(0.2)
        run_load(base, users, 2.0)  # warm up
        search_timings(base, tasks)
        for think in (0.0, args.think):
            latencies = sorted(run_load(base, users, seconds, think))
            p95 = latencies[int(len(latencies) * 0.95)]
            print(f"inbox page, {users} users, think time {think:.1f} s, gunicorn {workers} workers x 4 threads, "
                  f"{tasks} open tasks: {len(latencies) / seconds:.0f} pages/s, "
                  f"p50 {statistics.median(latencies):.0f} ms, p95 {p95:.0f} ms, max {latencies[-1]:.0f} ms "
                  f"(target p95 < 100 ms; counts kept {counts} s)")
    finally:
        server.terminate()
        server.wait(timeout=20)


if __name__ == "__main__":
    main()
