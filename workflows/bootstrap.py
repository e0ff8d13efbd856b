"""Building the application's engine: the case engine with the member-services domain installed.

Every entry point (the web app, the ``tawasul`` command, a worker process, the tests) builds its
engine here, once: the service catalogue and the society from the settings, the handlers service
tasks call, the deploy check of every form, the outbox sender run after each job drain.
"""

from __future__ import annotations

from typing import Any

from engine import bpmn_problems
from engine.bootstrap import build_engine
from engine.clock import Clock
from engine.context import CaseEngine
from engine.errors import DefinitionProblem
from engine.worker import Worker
from workflows.domain import Domain, attach
from workflows.forms import lint_form_key
from workflows.handlers import HANDLERS
from workflows.notifications import dispatch_outbox
from workflows.read.inbox import count_cache, refresh_seconds

__all__ = ["CaseEngine", "Worker", "build", "install", "worker"]


def install(engine: CaseEngine) -> CaseEngine:
    """Install the domain on ``engine`` (once; a second call changes nothing).

    Raises:
        ConfigError: a setting of the domain is missing or malformed (named).
    """
    if not attach(engine, Domain.from_settings(engine.settings)):
        return engine
    for name, handler in HANDLERS.items():
        engine.register_service(name, handler)
    engine.drain_hooks.append(dispatch_outbox)
    engine.property_lints.append(_form_problems)
    count_cache(engine)  # a bad inbox setting stops the start, not the first inbox page
    refresh_seconds(engine)
    return engine


def _form_problems(properties: Any) -> list[DefinitionProblem]:
    """`lint_form_key`'s findings as problems with their code (the form named)."""
    key = str(properties.get("formKey") or properties.get("formJsonSchemaFilename") or "")
    return [bpmn_problems.problem(bpmn_problems.FORM_MISSING, form=key, message=str(found),
                                  detail=bpmn_problems.clean(str(found).removeprefix("formKey: ")))
            for found in lint_form_key(properties)]


def build(
    settings: dict[str, Any] | None = None, *, database_url: str | None = None, clock: Clock | None = None
) -> CaseEngine:
    """The application's engine from ``settings`` (default: `config.yaml` and the environment)."""
    return install(build_engine(settings, database_url=database_url, clock=clock))


def worker(engine: CaseEngine) -> Worker:
    """A worker running the engine's due jobs in this process (not started)."""
    return Worker(engine)
