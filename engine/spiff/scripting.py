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


#: How deep task data may nest before it is refused (JSON and the serializer recurse).
_MAX_DATA_DEPTH = 40

#: How much data one command may bring in, as characters of JSON text (estimated on the way):
#: more would be serialized into every snapshot, compressed and stored on every save.
MAX_DATA_CHARS = 5_000_000

_END = object()


def unstorable(value: Any, *, names: bool = False) -> str | None:
    """Why ``value`` cannot be kept in task data (None when it can), naming where inside it.

    Storable: None, bool, int (up to 4300 digits), finite float, str that is valid Unicode (no
    lone surrogate: it cannot be encoded, so neither stored nor shown), Decimal, date, datetime,
    and lists and dicts (with text keys) of those, nested at most 40 deep, in all at most about
    `MAX_DATA_CHARS` characters as JSON. The walk keeps its own stack (no recursion).

    With ``names``, ``value`` is a case's data (variable name -> value; the names stand at level
    0 and share one size budget) and the reason starts with the name: ``'address' holds text
    that is not valid Unicode (...) at address['lines'][0]``.
    """
    found = _first_problem(value, depth=-1 if names else 0)
    if found is None:
        return None
    path, problem = found
    if not names or not path:
        return problem + _where(path)
    return f"{path[0]!r} holds {problem}" + (_where(path) if len(path) > 1 else "")


def _where(path: list[Any]) -> str:
    if not path:
        return ""
    head, rest = path[0], path[1:]
    text = head if isinstance(head, str) and head.isidentifier() else f"[{head!r}]"
    return " at " + text + "".join(f"[{key!r}]" for key in rest)


def _text_problem(text: str) -> str | None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return (f"text that is not valid Unicode (a lone surrogate {text[exc.start]!r} at character "
                f"{exc.start + 1}; it cannot be stored or shown)")
    return None


def _first_problem(value: Any, depth: int = 0) -> tuple[list[Any], str] | None:
    """Walk ``value`` without recursion: (the path to the first problem, the problem), or None.

    ``depth`` is the level ``value`` itself stands at (-1 for a case's data: its names are level 0).
    """
    size = 0
    path: list[Any] = []
    # One entry per open list or dict: an iterator over (key, item) pairs, and whether keys are text.
    stack: list[tuple[Iterator[tuple[Any, Any]], bool]] = []
    current = value
    while True:
        if current is None or current is True or current is False:
            size += 5
        elif isinstance(current, str):
            if current.isascii():
                size += len(current) + 2
            else:
                problem = _text_problem(current)
                if problem:
                    return path, problem
                size += 6 * len(current) + 2  # json.dumps writes \\uXXXX for each character beyond ASCII
        elif isinstance(current, int):
            if current.bit_length() > 14_280:
                return path, "an integer of more than 4300 digits"
            size += current.bit_length() * 3 // 10 + 2
        elif isinstance(current, float):
            if current != current or current in (float("inf"), float("-inf")):
                return path, f"the number {current}"
            size += 24
        elif isinstance(current, date | Decimal):
            size += 40
        elif isinstance(current, list | tuple | dict):
            if depth + len(stack) + (1 if current else 0) > _MAX_DATA_DEPTH:
                return path, f"data nested more than {_MAX_DATA_DEPTH} levels deep"
            is_dict = isinstance(current, dict)
            size += 2 + (4 if is_dict else 1) * len(current)
            stack.append((iter(current.items()) if is_dict else enumerate(current), is_dict))
            path.append(None)
        else:
            return path, f"a {type(current).__name__}"
        if size > MAX_DATA_CHARS:
            return path[:1], f"more data than a case may take in at once (about {MAX_DATA_CHARS:,} characters as JSON)"
        while stack:
            items, is_dict = stack[-1]
            entry = next(items, _END)
            if entry is _END:
                stack.pop()
                path.pop()
                continue
            key, current = entry
            if is_dict:
                if not isinstance(key, str):
                    return path[:-1], f"a dictionary key {key!r} that is not text"
                if not key.isascii() and _text_problem(key):
                    return path[:-1], f"a dictionary key {key!r} that is not valid Unicode (a lone surrogate)"
                size += len(key) if key.isascii() else 6 * len(key)
            path[-1] = key
            break
        else:
            return None


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
        # The script works on a copy: refused data must not stay in the task's data, where the
        # save would meet it (and fail the whole command) instead of the instance error below.
        after = dict(context)
        self.sandbox.execute(script, after)
        problem = unstorable(after, names=True)
        if problem:
            raise ScriptError(f"variable {problem}, which cannot be saved with the case")
        context.clear()
        context.update(after)
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
