"""Scripts inside SpiffWorkflow: every script, condition and expression runs in our sandbox.

The script environment compiles through `engine.sandbox` (RestrictedPython, time and memory
limits), refuses results that cannot be stored with the case, checks the value a timer
expression gives, and hands service tasks to the dispatcher of the running command.
"""

from __future__ import annotations

import contextvars
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, tzinfo
from decimal import Decimal
from typing import Any

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import TaskDataEnvironment
from SpiffWorkflow.exceptions import SpiffWorkflowException

from engine.errors import ScriptError
from engine.sandbox import Sandbox
from engine.spiff.timers import is_timer, value_problem, with_zone

#: How deep task data may nest before it is refused (JSON and the serializer recurse).
_MAX_DATA_DEPTH = 40

#: Runs a service task: (handler name, element id, task data, parameters) -> result.
ServiceDispatcher = Callable[[str, str, dict[str, Any], dict[str, Any]], Any]

_dispatcher: contextvars.ContextVar[ServiceDispatcher | None] = contextvars.ContextVar(
    "tawasul_service_dispatcher", default=None)


@contextmanager
def serving(dispatcher: ServiceDispatcher) -> Iterator[None]:
    """Let service tasks reached in the block run through ``dispatcher``."""
    token = _dispatcher.set(dispatcher)
    try:
        yield
    finally:
        _dispatcher.reset(token)


def unstorable(value: Any, depth: int = 0) -> str | None:
    """Why ``value`` cannot be kept in task data (None when it can).

    Storable: None, bool, int (up to 4300 digits), finite float, str, Decimal, date, datetime,
    and lists and dicts (with text keys) of those, nested at most 40 deep.
    """
    if depth > _MAX_DATA_DEPTH:
        return f"data nested more than {_MAX_DATA_DEPTH} levels deep"
    if value is None or isinstance(value, bool | str | date | Decimal):
        return None
    if isinstance(value, int):
        return "an integer of more than 4300 digits" if value.bit_length() > 14_280 else None
    if isinstance(value, float):
        return None if value == value and value not in (float("inf"), float("-inf")) else f"the number {value}"
    if isinstance(value, list | tuple):
        for item in value:
            problem = unstorable(item, depth + 1)
            if problem:
                return problem
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                return f"a dictionary key {key!r} that is not text"
            problem = unstorable(item, depth + 1)
            if problem:
                return problem
        return None
    return f"a {type(value).__name__}"


class _SandboxEnvironment(TaskDataEnvironment):
    """SpiffWorkflow's script environment, running everything through our sandbox."""

    def __init__(self, sandbox: Sandbox) -> None:
        super().__init__({})
        self.sandbox = sandbox

    def evaluate(self, expression: str, context: dict[str, Any], external_context: Any = None) -> Any:
        scope = dict(external_context or {})
        scope.update(context)
        return self.sandbox.evaluate(expression, scope)

    def execute(self, script: str, context: dict[str, Any], external_context: Any = None) -> bool:
        self.sandbox.execute(script, context)
        for name, value in context.items():
            problem = unstorable(value)
            if problem:
                raise ScriptError(f"variable '{name}' holds {problem}, which cannot be saved with the case")
        return True

    def call_service(self, context: dict[str, Any], **kwargs: Any) -> str:
        name = str(kwargs.get("operation_name") or "")
        dispatcher = _dispatcher.get()
        if dispatcher is None:
            raise ScriptError(f"service task {name!r} ran outside an engine command")
        params = {key: value["value"] for key, value in (kwargs.get("operation_params") or {}).items()}
        result = dispatcher(name, str(kwargs.get("element_id") or "?"), context, params)
        problem = unstorable(result)
        if problem:
            raise ScriptError(f"service {name!r} returned {problem}, which cannot be saved with the case")
        return json.dumps(result)


class _ScriptEngine(PythonScriptEngine):
    def __init__(self, sandbox: Sandbox, default_tz: tzinfo | None) -> None:
        super().__init__(environment=_SandboxEnvironment(sandbox))
        #: A timer date-time written without a zone is read in this one (the calendar's).
        self.default_tz = default_tz or UTC

    def evaluate(self, task: Any, expression: Any, external_context: Any = None) -> Any:
        value = super().evaluate(task, expression, external_context)
        event = getattr(task.task_spec, "event_definition", None)
        if is_timer(event) and expression == event.expression:
            value = with_zone(value, self.default_tz)
            problem = value_problem(event, value)
            if problem:
                raise WorkflowTaskException(problem, task=task)
        return value

    def call_service(self, task: Any, **kwargs: Any) -> Any:
        # SpiffWorkflow's own version masks every failure as NameError('script'); keep the real one.
        try:
            return self.environment.call_service(task.data, element_id=task.task_spec.bpmn_id, **kwargs)
        except SpiffWorkflowException:
            raise
        except Exception as exc:
            raise WorkflowTaskException(f"{type(exc).__name__}: {exc}", task=task, exception=exc) from exc


def script_engine(sandbox: Sandbox, default_tz: tzinfo | None = None) -> PythonScriptEngine:
    """SpiffWorkflow's script engine running every script and expression in ``sandbox``.

    A timer date-time written without a zone is read in ``default_tz`` (the calendar's), not the
    server's.
    """
    return _ScriptEngine(sandbox, default_tz)
