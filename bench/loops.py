"""Loop benchmark: the cost of one task completion as a case loops through a user task.

Prints figures; asserts nothing. A case of ``review`` → gateway → ``review`` … is completed
N times (default 1,000) on SQLite; the figures are the median completion time and the stored
state's size in the first, middle and last tenth, and a script loop of 700 turns run in one
command. Usage:

    .venv/bin/python bench/loops.py [--turns 1000]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from engine.actors import SYSTEM  # noqa: E402
from engine.commands import complete_task, start_instance  # noqa: E402
from engine.definitions import deploy_definition  # noqa: E402
from engine.models import ProcessInstance  # noqa: E402
from engine.queries import list_tasks  # noqa: E402
from engine.settings import load_settings  # noqa: E402
from tests.reliability.diagrams import review_loop, script_loop  # noqa: E402
from tests.support.databases import fresh_database  # noqa: E402
from workflows.bootstrap import build  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=1000)
    turns = parser.parse_args().turns
    print(f"machine: CPython {platform.python_version()}, {platform.processor() or platform.machine()}")
    engine = build(load_settings(), database_url=fresh_database("sqlite", None, Path(tempfile.mkdtemp())))
    engine.run(deploy_definition, SYSTEM, review_loop("reviewing"), "reviewing.bpmn")
    engine.run(deploy_definition, SYSTEM, script_loop("counting", "n &lt; 700"), "counting.bpmn")
    row = engine.run(start_instance, SYSTEM, "reviewing")
    times, sizes = [], []
    for turn in range(1, turns + 1):
        [task] = engine.query(list_tasks, SYSTEM, instance_id=row.id)
        started = time.perf_counter()
        engine.run(complete_task, SYSTEM, task.id, {"more": turn < turns})
        times.append((time.perf_counter() - started) * 1000)
        sizes.append(engine.query(lambda e, s: len(s.scalar(select(ProcessInstance.snapshot)
                                                            .where(ProcessInstance.id == row.id)))))
    tenth = max(turns // 10, 1)
    for name, part in (("first", slice(0, tenth)), ("middle", slice(turns // 2 - tenth // 2, turns // 2 + tenth // 2)),
                       ("last", slice(turns - tenth, turns))):
        print(f"user task loop, {name} tenth: completion p50 {statistics.median(times[part]):.2f} ms, "
              f"stored state {statistics.median(sizes[part]):.0f} bytes")
    started = time.perf_counter()
    counted = engine.run(start_instance, SYSTEM, "counting")
    print(f"script loop of 700 turns in one command: {(time.perf_counter() - started) * 1000:.0f} ms, "
          f"status {counted.status}")
    engine.dispose()


if __name__ == "__main__":
    main()
