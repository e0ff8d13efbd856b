"""Two commands on one case at the same moment: the first loads it, then waits while the second runs."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import engine.casestore as casestore_module


def race(monkeypatch: Any, first: Callable[[], Any], second: Callable[[], Any]) -> dict[str, Any]:
    """Run ``first`` and ``second`` in two threads; ``first`` loads the instance, then waits.

    On PostgreSQL ``second`` commits while ``first`` holds a stale revision (its UPDATE fails
    the revision check). On SQLite writers queue at BEGIN IMMEDIATE: ``second`` waits for
    ``first`` and then finds the case changed. Returns each one's result or exception by name.
    """
    loaded, second_done = threading.Event(), threading.Event()
    original_load = casestore_module.load

    def slow_load(*args: Any, **kwargs: Any) -> Any:
        result = original_load(*args, **kwargs)
        if threading.current_thread().name == "first":
            loaded.set()
            second_done.wait(timeout=1.0)
        return result

    monkeypatch.setattr(casestore_module, "load", slow_load)
    outcomes: dict[str, Any] = {}

    def run(name: str, call: Callable[[], Any]) -> None:
        try:
            outcomes[name] = call()
        except Exception as exc:  # noqa: BLE001 - the test inspects what happened
            outcomes[name] = exc
        finally:
            if name == "second":
                second_done.set()

    t1 = threading.Thread(target=run, name="first", args=("first", first))
    t1.start()
    assert loaded.wait(timeout=10)
    t2 = threading.Thread(target=run, name="second", args=("second", second))
    t2.start()
    t1.join(timeout=30)
    t2.join(timeout=30)
    return outcomes
