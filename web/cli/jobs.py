"""Due work: ``jobs run-due``, ``jobs list``, ``worker``, ``incidents`` and ``incidents retry``."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from typing import Any

from engine.actors import Actor
from web.cli.shared import Command, instant, positive_int, safe_url
from workflows.bootstrap import CaseEngine, worker
from workflows.operations.due_work import run_due_work
from workflows.operations.jobs import retry_incident
from workflows.read.jobs import incidents, jobs
from workflows.schema import require_current_schema


def _run_due_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--now", type=instant,
                        help="run what is due at this time (ISO-8601); later than the clock only with --simulate")
    parser.add_argument("--simulate", action="store_true",
                        help="run as if it were --now: the cases move on, and every message is printed here and "
                             "kept in the outbox as simulated, never sent (test and demo databases only)")


def _run_due(engine: CaseEngine, actor: Actor, args: argparse.Namespace) -> dict[str, Any]:
    result = run_due_work(engine, args.now, simulate=args.simulate)
    for message in result.get("messages", ()):
        print(f"tawasul: simulated, not sent: {message['kind']} to {message['recipient']} by {message['channel']}: "
              f"{message['subject']}", file=sys.stderr)
    return result


def _list(engine: CaseEngine, actor: Actor, args: argparse.Namespace) -> list[dict[str, Any]]:
    return engine.query(jobs, actor)


def _incidents(engine: CaseEngine, actor: Actor, args: argparse.Namespace) -> list[dict[str, Any]]:
    return engine.query(incidents, actor)


def _retry_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("job_id", type=positive_int)


def _retry(engine: CaseEngine, actor: Actor, args: argparse.Namespace) -> dict[str, Any]:
    return engine.run(retry_incident, actor, args.job_id)


def run_until_signalled() -> None:
    """Wait until SIGTERM or SIGINT."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    while not stop.wait(1.0):
        pass


def _worker(engine: CaseEngine, actor: Actor, args: argparse.Namespace) -> None:
    require_current_schema(engine.db)  # a worker on an older schema would fail job after job
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # it logs every run at INFO
    running = worker(engine)
    running.start()
    print(json.dumps({"worker": running.owner, "database": safe_url(engine.database_url)}), flush=True)
    try:
        run_until_signalled()
    finally:
        running.stop()


COMMANDS = (
    Command("jobs run-due", "run every job (timers, SLA) due now, or at an earlier --now; a later one with --simulate",
            _run_due, _run_due_arguments),
    Command("jobs list", "pending, running and failed jobs", _list),
    Command("worker", "run a worker process (timers, SLA warnings and escalations)", _worker),
    Command("incidents", "jobs whose retries ran out", _incidents),
    Command("incidents retry", "run an incident's job again", _retry, _retry_arguments),
)
