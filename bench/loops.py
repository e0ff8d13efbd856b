"""Loop benchmark: the cost of one task completion as a case loops through a user task.

Prints figures; asserts nothing. On SQLite, three loops are taken N times (default 1,000): a
user task (``review`` → gateway → ``review`` …), a parallel split into two user tasks joined
again, and an embedded subprocess holding a user task; the figures are the median time of a
turn's last completion and the stored state's size in the first, middle and last tenth; then a
script loop of 700 turns run in one command. Usage:

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
from tests.reliability.diagrams import parallel_loop, review_loop, script_loop, subprocess_loop  # noqa: E402
from tests.support.databases import fresh_database  # noqa: E402
from workflows.bootstrap import build  # noqa: E402


def _turns(engine, key: str, turns: int, per_turn: int) -> tuple[list[float], list[int]]:
    """Complete ``per_turn`` tasks a turn for ``turns`` turns; the last completion's time and the
    stored state's size after each turn."""
    row = engine.run(start_instance, SYSTEM, key)
    times, sizes = [], []
    for turn in range(1, turns + 1):
        for _ in range(per_turn):
            task = engine.query(list_tasks, SYSTEM, instance_id=row.id)[0]
            started = time.perf_counter()
            engine.run(complete_task, SYSTEM, task.id, {"more": turn < turns})
            elapsed = (time.perf_counter() - started) * 1000
        times.append(elapsed)
        sizes.append(engine.query(lambda e, s: len(s.scalar(select(ProcessInstance.snapshot)
                                                            .where(ProcessInstance.id == row.id)))))
    return times, sizes


def _report(name: str, turns: int, times: list[float], sizes: list[int]) -> None:
    tenth = max(turns // 10, 1)
    for part_name, part in (("first", slice(0, tenth)),
                            ("middle", slice(turns // 2 - tenth // 2, turns // 2 + tenth // 2)),
                            ("last", slice(turns - tenth, turns))):
        print(f"{name}, {part_name} tenth: completion p50 {statistics.median(times[part]):.2f} ms, "
              f"stored state {statistics.median(sizes[part]):.0f} bytes")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=1000)
    turns = parser.parse_args().turns
    print(f"machine: CPython {platform.python_version()}, {platform.processor() or platform.machine()}")
    engine = build(load_settings(), database_url=fresh_database("sqlite", None, Path(tempfile.mkdtemp())))
    engine.run(deploy_definition, SYSTEM, review_loop("reviewing"), "reviewing.bpmn")
    engine.run(deploy_definition, SYSTEM, parallel_loop("branching"), "branching.bpmn")
    engine.run(deploy_definition, SYSTEM, subprocess_loop("nesting"), "nesting.bpmn")
    engine.run(deploy_definition, SYSTEM, script_loop("counting", "n &lt; 700"), "counting.bpmn")
    for name, key, per_turn in (("user task loop", "reviewing", 1),
                                ("parallel split and join loop (2 tasks a turn)", "branching", 2),
                                ("subprocess loop", "nesting", 1)):
        _report(name, turns, *_turns(engine, key, turns, per_turn))
    started = time.perf_counter()
    counted = engine.run(start_instance, SYSTEM, "counting")
    print(f"script loop of 700 turns in one command: {(time.perf_counter() - started) * 1000:.0f} ms, "
          f"status {counted.status}")
    engine.dispose()


if __name__ == "__main__":
    main()
