"""Running due work in tests, as a worker would."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from engine.jobs import run_due_jobs


def fire_due_timers(engine: Any, now: datetime | None = None) -> int:
    """Run every job due at ``now`` (default: the engine's clock) through the job table; return timers fired."""
    return run_due_jobs(engine, now).fired
