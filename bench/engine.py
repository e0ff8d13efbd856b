"""Engine benchmark: SpiffWorkflow alone in memory vs. the persisted commands (SQLite, PostgreSQL).

Prints figures; asserts nothing. Usage:

    .venv/bin/python bench/engine.py            # full run
    .venv/bin/python bench/engine.py --quick    # under 30 s
    PG_BENCH_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test .venv/bin/python bench/engine.py

Figures:
* ``ceiling``: SpiffWorkflow alone, in memory, its default script engine, one lifecycle =
  start + 6 user tasks of ``bench/bpmn/bench_request.bpmn`` (17 tasks in all);
* ``in-memory+ser``: the same through our sandboxed runtime with one serialize/deserialize
  per command (what a persisted engine must do at least);
* ``persisted``: the same through ``CaseEngine.run`` commands on a real database;
  ``ratio`` = persisted / in-memory+ser;
* ``starts/s``: instance starts through ``start_instance`` (one and two processes);
* ``snapshot``: bytes of the stored state at mid-point (waiting for the committee), as stored
  (compressed) and, for the in-memory run, as plain JSON.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from engine.actors import SYSTEM, Actor  # noqa: E402
from engine.bootstrap import build_engine  # noqa: E402
from engine.commands import complete_task, start_instance  # noqa: E402
from engine.context import CaseEngine  # noqa: E402
from engine.definitions import deploy_definition  # noqa: E402
from engine.models import AuditEvent, ProcessInstance  # noqa: E402
from engine.settings import load_settings  # noqa: E402
from tests.support.databases import fresh_database  # noqa: E402

DIAGRAM = ROOT / "bench" / "bpmn" / "bench_request.bpmn"
KEY = "bench_request"
STEPS = [
    ("intake", {"channel": "in_person", "summary": "wants financial support"}),
    ("check", {"complete": True}),
    ("acknowledge", {"acknowledged": True, "acknowledgement_version": 1}),
    ("review", {"accepted": True, "reason": "meets the criteria"}),
    ("register", {"membership_no": "M-000123"}),
    ("deliver", {"delivered": True}),
]
MID_STEP = 3  # after acknowledge: waiting for the committee


def machine() -> str:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} cores, {cpu}"


# -- in memory ----------------------------------------------------------------------------------


def ceiling(n: int) -> float:
    """SpiffWorkflow alone: its own parser and default script engine, nothing persisted."""
    from SpiffWorkflow.bpmn import BpmnWorkflow
    from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser
    from SpiffWorkflow.util.task import TaskState

    parser = SpiffBpmnParser(validator=VALIDATOR)
    parser.add_bpmn_file(str(DIAGRAM))
    spec, subspecs = parser.get_spec(KEY), parser.get_subprocess_specs(KEY)
    started = time.perf_counter()
    for i in range(n):
        wf = BpmnWorkflow(spec, subspecs)
        wf.get_tasks(state=TaskState.READY)[0].data.update({"request_no": i})
        wf.do_engine_steps()
        for element, data in STEPS:
            [task] = [t for t in wf.get_tasks(state=TaskState.READY, manual=True) if t.task_spec.bpmn_id == element]
            task.data.update(data)
            task.run()
            wf.refresh_timers()
            wf.do_engine_steps()
        assert wf.is_completed()
    return n / (time.perf_counter() - started)


def in_memory_with_serialization(engine: CaseEngine, n: int) -> tuple[float, int]:
    """Our runtime (sandbox included), one thaw + freeze around every command."""
    from engine.definitions import find_definition, parsed_process

    with engine.unit_of_work(readonly=True) as uow:
        process = parsed_process(engine, find_definition(uow.session, KEY))
    runtime = engine.runtime
    mid_bytes = 0
    started = time.perf_counter()
    for i in range(n):
        case = runtime.new(process, {"request_no": i})
        case.advance()
        snapshot = runtime.freeze(case, compress=False)  # the baseline: SpiffWorkflow's JSON, no compression
        for step, (element, data) in enumerate(STEPS):
            case = runtime.thaw(process, snapshot)
            case.advance()
            [task] = [t for t in case.human_tasks() if t.element_id == element]
            case.complete_human_task(task.id, data)
            snapshot = runtime.freeze(case, compress=False)
            if step == MID_STEP - 1:
                mid_bytes = len(snapshot.encode())
        assert case.is_completed
    return n / (time.perf_counter() - started), mid_bytes


# -- persisted ----------------------------------------------------------------------------------


def make_engine_for(url: str) -> CaseEngine:
    engine = build_engine(load_settings(), database_url=url)
    engine.run(deploy_definition, SYSTEM, DIAGRAM.read_bytes(), DIAGRAM.name)
    return engine


def persisted_lifecycles(engine: CaseEngine, n: int) -> tuple[float, int, list[float]]:
    """Full lifecycles through the commands; returns (per second, mid-point bytes, submit ms)."""
    mid_bytes = 0
    submit_ms: list[float] = []
    started = time.perf_counter()
    for i in range(n):
        row = engine.run(start_instance, SYSTEM, KEY, data={"request_no": i})
        open_tasks = row.open_tasks  # each command reports the case's open tasks after it
        for step, (element, data) in enumerate(STEPS):
            [task_id] = [t for t, e in open_tasks.items() if e == element]
            t = time.perf_counter()
            open_tasks = engine.run(complete_task, SYSTEM, task_id, data).open_tasks
            submit_ms.append((time.perf_counter() - t) * 1000)
            if step == MID_STEP - 1 and i == 0:
                with engine.unit_of_work(readonly=True) as uow:
                    mid_bytes = len(uow.session.get(ProcessInstance, row.id).snapshot.encode())
    rate = n / (time.perf_counter() - started)
    with engine.unit_of_work(readonly=True) as uow:
        done = uow.session.scalar(select(func.count()).where(ProcessInstance.status == "completed"))
        assert done >= n, done
    return rate, mid_bytes, submit_ms


def _start_worker(url: str, n: int, queue: multiprocessing.Queue) -> None:
    engine = build_engine(load_settings(), database_url=url)
    engine.run(start_instance, SYSTEM, KEY, data={"request_no": -1})  # warm the spec cache
    queue.put("ready")
    started = time.perf_counter()
    for i in range(n):
        engine.run(start_instance, SYSTEM, KEY, data={"request_no": i})
    queue.put(time.perf_counter() - started)
    engine.dispose()


def starts_per_second(url: str, n: int, processes: int) -> float:
    ctx = multiprocessing.get_context("fork")
    queue: multiprocessing.Queue = ctx.Queue()
    per = n // processes
    workers = [ctx.Process(target=_start_worker, args=(url, per, queue)) for _ in range(processes)]
    wall = time.perf_counter()
    for worker in workers:
        worker.start()
    results = [queue.get() for _ in range(2 * processes)]
    for worker in workers:
        worker.join()
    wall = time.perf_counter() - wall
    elapsed = max(r for r in results if isinstance(r, float))
    del wall
    return per * processes / elapsed


def rows_and_bytes_per_instance(engine: CaseEngine) -> tuple[float, float]:
    with engine.unit_of_work(readonly=True) as uow:
        instances = uow.session.scalar(select(func.count()).select_from(ProcessInstance))
        events = uow.session.scalar(select(func.count()).select_from(AuditEvent))
        finished = uow.session.scalars(
            select(ProcessInstance.snapshot).where(ProcessInstance.status == "completed").limit(50)
        ).all()
    return events / max(instances, 1), statistics.mean(len(s.encode()) for s in finished) if finished else 0.0


def member_request_snapshot(workdir: Path) -> tuple[int, int]:
    """(stored, JSON) bytes of bpmn/member_request.bpmn waiting for the committee, after a referral."""
    from engine.clock import FrozenClock
    from engine.queries import list_tasks
    from engine.spiff import decode_snapshot
    from workflows import identity
    from workflows.bootstrap import build
    from workflows.operations.cases import open_request
    from workflows.operations.members import register_member
    from workflows.operations.tasks import complete_task as complete_with_form
    from workflows.requests import documents, mark_document

    url = fresh_database("sqlite", None, workdir)
    settings = load_settings(**{"notifications.sms": {"backend": "log", "path": str(workdir / "sms.log")},
                                "notifications.email": {"backend": "log", "path": str(workdir / "email.log")}})
    engine = build(settings, database_url=url, clock=FrozenClock())
    path = ROOT / "bpmn" / "member_request.bpmn"
    engine.run(deploy_definition, SYSTEM, path.read_bytes(), path.name)
    staff = Actor.user("bench", ["reception", "social_researcher", "committee"])
    member = engine.run(register_member, staff, name_ar="عضو", national_id=identity.with_check_digit("108765432"))
    request = engine.run(open_request, staff, member.id, "financial_support", "phone")

    def complete(element: str, data: dict) -> None:
        [task] = [t for t in engine.query(list_tasks, SYSTEM) if t.element_id == element]
        engine.run(complete_with_form, staff, task.id, data)

    complete("intake", {"visit_summary": "استقبال العضو", "inquiries_answered": True})
    complete("check_data", {"complete": False, "needs_referral": True})
    complete("explain_procedures", {"explanation": "شرح الإجراءات", "procedures_clear": True})
    for item in engine.query(lambda e, s: documents(s, request.id)):
        engine.run(mark_document, staff, request.id, item.kind, "verified")
    complete("check_data", {"complete": True, "needs_referral": False})
    complete("acknowledgement", {"acknowledged": True, "ack_channel": "in_person"})
    with engine.unit_of_work(readonly=True) as uow:
        stored = uow.session.get(ProcessInstance, request.instance_id).snapshot
    engine.dispose()
    return len(stored.encode()), len(decode_snapshot(stored).encode())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small N; finishes in under 30 s")
    parser.add_argument("-n", type=int, help="lifecycles per measurement")
    args = parser.parse_args()
    n = args.n or (60 if args.quick else 400)
    n_starts = 200 if args.quick else 2000
    pg_url = os.environ.get("PG_BENCH_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    print(f"machine: {machine()}")
    print(f"lifecycle: start + {len(STEPS)} user tasks of {DIAGRAM.name}; N={n}, starts N={n_starts}")

    t0 = time.perf_counter()
    ceiling_rate = ceiling(n)
    print(f"ceiling (SpiffWorkflow alone, in memory): {ceiling_rate:8.1f} lifecycles/s")

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        results = {}
        for kind in ("sqlite", "postgresql"):
            try:
                url = fresh_database(kind, pg_url, workdir)
            except Exception as exc:  # noqa: BLE001 - report and go on with the other database
                print(f"{kind}: skipped ({type(exc).__name__}: {exc})")
                continue
            engine = make_engine_for(url)
            if kind == "sqlite":
                mem_rate, mem_mid = in_memory_with_serialization(engine, n)
                print(f"in-memory + 1 serialize/deserialize per command: {mem_rate:8.1f} lifecycles/s")
            rate, mid_bytes, submit_ms = persisted_lifecycles(engine, n)
            submit_ms.sort()
            p50 = submit_ms[len(submit_ms) // 2]
            p95 = submit_ms[int(len(submit_ms) * 0.95)]
            events, finished_bytes = rows_and_bytes_per_instance(engine)
            engine.dispose()
            starts1 = starts_per_second(url, n_starts, 1)
            starts2 = starts_per_second(url, n_starts, 2)
            results[kind] = rate
            print(
                f"{kind:10s} persisted: {rate:8.1f} lifecycles/s  ratio {rate / mem_rate:.2f}  "
                f"task submit p50 {p50:.2f} ms p95 {p95:.2f} ms  "
                f"starts/s {starts1:.0f} (1 process) {starts2:.0f} (2 processes)"
            )
            print(
                f"{kind:10s} snapshot at mid-point {mid_bytes} bytes (in-memory run: {mem_mid}); "
                f"finished instance snapshot {finished_bytes:.0f} bytes; audit rows per instance {events:.1f}"
            )
        stored, plain = member_request_snapshot(workdir / "mr")
        print(f"member_request waiting for the committee (after a referral loop): {stored} bytes stored, "
              f"{plain} bytes of JSON")
    print(f"total time: {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
