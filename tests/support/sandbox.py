"""Run a sandbox attack in a child process, so a guard that regressed fails a test instead of
hanging it or exhausting the machine: a time-out, and a 2 GB address-space limit."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
_HARNESS = """
import json, resource, sys, threading, time
resource.setrlimit(resource.RLIMIT_AS, (2 * 1024 ** 3, 2 * 1024 ** 3))
sys.path.insert(0, sys.argv[1])
from engine.sandbox import Sandbox, SandboxLimits
from engine.errors import ScriptError
kind, source, context = sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
sandbox = Sandbox(SandboxLimits(time_limit_ms=int(sys.argv[5]), max_memory_mb=int(sys.argv[6])))
result, gaps = {}, [0.0]

def run():
    started = time.perf_counter()
    try:
        (sandbox.execute if kind == "script" else sandbox.evaluate)(source, context)
        result.update(outcome="ran")
    except ScriptError as exc:
        result.update(outcome="refused", message=exc.message)
    except Exception as exc:
        result.update(outcome="raised", message=f"{type(exc).__name__}: {exc}")
    result["seconds"] = time.perf_counter() - started

# The attack runs in a thread while this one beats every 10 ms, as the server's other threads
# would answer requests: the longest gap between beats is how long the attack froze them.
worker = threading.Thread(target=run)
last = time.perf_counter()
worker.start()
while worker.is_alive():
    time.sleep(0.01)
    now = time.perf_counter()
    gaps[0] = max(gaps[0], now - last)
    last = now
worker.join()
result["frozen_seconds"] = gaps[0]
result["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
print(json.dumps(result))
"""


def attack(source: str, context: dict[str, Any] | None = None, kind: str = "script", time_limit_ms: int = 300,
           memory_mb: int = 256) -> dict[str, Any]:
    """Run ``source`` (a script, or an expression when ``kind`` is "expression") with a 300 ms
    time limit; its outcome ("ran", "refused", "raised"), message, seconds, the longest time the
    other thread was frozen, and the child's peak memory in MB."""
    done = subprocess.run([sys.executable, "-c", _HARNESS, str(ROOT), kind, source, json.dumps(context or {}),
                           str(time_limit_ms), str(memory_mb)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)
