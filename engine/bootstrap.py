"""Building a `CaseEngine` with what the engine itself brings: its kinds of job.

`CaseEngine` holds registries and knows no command; this is where they meet, once, so that
commands, job handlers and the engine never import each other in a circle. Layers above build
their engine here and add their own (the domain: `workflows.bootstrap`).
"""

from __future__ import annotations

from typing import Any

from engine.clock import Clock
from engine.context import CaseEngine
from engine.job_handlers import BUILT_IN


def build_engine(
    settings: dict[str, Any] | None = None, *, database_url: str | None = None, clock: Clock | None = None
) -> CaseEngine:
    """A `CaseEngine` from ``settings`` (default: `config.yaml` and the environment), ready to run jobs."""
    engine = CaseEngine(settings, database_url=database_url, clock=clock)
    for kind, handler in BUILT_IN.items():
        engine.register_job_handler(kind, handler)
    return engine
