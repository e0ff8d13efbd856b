"""The one module that talks to SpiffWorkflow.

It parses BPMN (with XSD validation), lints every script, condition and timer expression
against the sandbox, runs workflows with the sandboxed script engine, reads the engine's clock
for timers, and serializes state *without* the process spec: the spec is parsed once per
definition version and cached by sha256, and a snapshot only names the process it belongs to.

An engine upgrade should touch this file only.
"""

from __future__ import annotations

import base64
import contextvars
import json
import logging
import re
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any
from uuid import UUID

from lxml import etree
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import TaskDataEnvironment
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter
from SpiffWorkflow.bpmn.specs.event_definitions import timer as timer_module
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimeDateEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.exceptions import SpiffWorkflowException, WorkflowException
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.util.task import TaskState

from engine.clock import Clock, SystemClock, ensure_utc
from engine.errors import DefinitionProblem, ScriptError
from engine.sandbox import Sandbox, check_expression, check_script
from engine.services import ServiceCall, current_scope

# SpiffWorkflow logs whole task data at INFO; task data holds personal data (PDPL).
for _name in ("spiff", "spiff.task", "spiff.workflow", "spiff.metrics"):
    logging.getLogger(_name).setLevel(logging.WARNING)

# -- clock ------------------------------------------------------------------------------------

_clock: contextvars.ContextVar[Clock | None] = contextvars.ContextVar("tawasul_clock", default=None)
_SYSTEM_CLOCK = SystemClock()


class _ClockedDatetime(datetime):
    """Stands in for ``datetime`` inside SpiffWorkflow's timer module, reading our clock.

    SpiffWorkflow fires a timer when ``due < now`` (strictly); the job runner fires a job due
    at T with the clock at T plus one microsecond, so ``--now 08:00:00`` fires a timer due then.
    """

    @classmethod
    def now(cls, tz: Any = None) -> datetime:  # type: ignore[override]
        current = (_clock.get() or _SYSTEM_CLOCK).now()
        return current.astimezone(tz) if tz is not None else current.replace(tzinfo=None)


def _install_clock_adapter() -> None:
    if timer_module.datetime is not _ClockedDatetime:
        timer_module.datetime = _ClockedDatetime


def current_clock() -> Clock | None:
    """The clock set by `using_clock` around the running command, if any."""
    return _clock.get()


@contextmanager
def using_clock(clock: Clock) -> Iterator[None]:
    """Make SpiffWorkflow's timers read ``clock`` for the duration of the block."""
    _install_clock_adapter()
    token = _clock.set(clock)
    try:
        yield
    finally:
        _clock.reset(token)


# -- parsing and linting ----------------------------------------------------------------------


@dataclass
class ParsedProcess:
    """A parsed, linted process ready to run; cached per (sha256, key)."""

    key: str
    name: str
    spec: Any
    subprocess_specs: dict[str, Any]
    lanes: list[str] = field(default_factory=list)

    def element_names(self) -> dict[str, str]:
        """The name drawn on each BPMN element that has one, by element id (subprocesses too)."""
        names: dict[str, str] = {}
        for spec in (self.spec, *self.subprocess_specs.values()):
            for task_spec in spec.task_specs.values():
                element, name = getattr(task_spec, "bpmn_id", None), getattr(task_spec, "bpmn_name", None)
                if element and name:
                    names.setdefault(str(element), " ".join(str(name).split()))
        return names


class ParseFailed(Exception):
    """Parsing or linting found problems; ``problems`` names each."""

    def __init__(self, problems: list[DefinitionProblem]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


_ISO_LIKE = re.compile(r"^(R\d*/)?P[0-9T]|^\d{4}-\d{2}-\d{2}")


PropertyLint = Callable[[Mapping[str, str]], list[str]]


def parse_bpmn(
    xml: bytes,
    source: str,
    property_lint: PropertyLint | None = None,
    services: Iterable[str] | None = None,
) -> list[ParsedProcess]:
    """Parse BPMN XML with XSD validation and lint it; return its executable processes.

    Raises:
        ParseFailed: malformed XML (with its line), XSD or structural errors (with the element),
            scripts or expressions the sandbox refuses, or no executable process.
    """
    try:
        tree = etree.fromstring(xml, etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as exc:
        raise ParseFailed([DefinitionProblem(f"malformed XML: {exc.msg}", line=exc.lineno)]) from None
    clashes = _operator_id_clashes(tree)
    if clashes:
        raise ParseFailed([
            DefinitionProblem(f"the id '{clash}' names both an element and a service operator; SpiffWorkflow "
                              "cannot tell them apart, so give the element another id", element_id=clash)
            for clash in clashes
        ])
    parser = SpiffBpmnParser(validator=VALIDATOR)
    try:
        parser.add_bpmn_str(xml, filename=source)
        process_ids = parser.get_process_ids()
        if not process_ids:
            raise ParseFailed([DefinitionProblem("no executable process (isExecutable=\"true\") in the file")])
        processes = []
        for key in process_ids:
            spec = parser.get_spec(key)
            subspecs = parser.get_subprocess_specs(key)
            processes.append(
                ParsedProcess(
                    key=key,
                    name=spec.description or key,
                    spec=spec,
                    subprocess_specs=subspecs,
                    lanes=_lanes_of(spec, subspecs),
                )
            )
    except ValidationException as exc:
        raise ParseFailed([_problem_from_validation(exc, tree)]) from None
    except SpiffWorkflowException as exc:
        raise ParseFailed([DefinitionProblem(str(exc))]) from None
    problems: list[DefinitionProblem] = []
    known = set(services) if services is not None else None
    for process in processes:
        problems.extend(lint_process(process, property_lint, known))
    if problems:
        raise ParseFailed(problems)
    return processes


_NAMESPACES = {
    "http://www.omg.org/spec/BPMN/20100524/MODEL": "bpmn",
    "http://spiffworkflow.org/bpmn/schema/1.0/core": "spiffworkflow",
}


def _operator_id_clashes(tree: Any) -> list[str]:
    namespaces = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
                  "spiffworkflow": "http://spiffworkflow.org/bpmn/schema/1.0/core"}
    operators = set(tree.xpath("//spiffworkflow:serviceTaskOperator/@id", namespaces=namespaces))
    elements = set(tree.xpath("//bpmn:*/@id", namespaces=namespaces))
    return sorted(operators & elements)


def _problem_from_validation(exc: ValidationException, tree: Any) -> DefinitionProblem:
    message = str(exc.args[0]) if exc.args else str(exc)
    message = re.sub(r"\{([^}]+)\}", lambda m: _NAMESPACES.get(m.group(1), m.group(1)) + ":", message)
    line = exc.line_number if isinstance(exc.line_number, int) and exc.line_number > 0 else None
    element_id = exc.id or (_element_at_line(tree, line) if line else None)
    return DefinitionProblem(message, element_id=element_id, line=line)


def _element_at_line(tree: Any, line: int) -> str | None:
    """The id of the element on ``line``, or of its nearest ancestor that has one."""
    for node in tree.iter():
        if node.sourceline == line:
            while node is not None:
                if node.get("id"):
                    return str(node.get("id"))
                node = node.getparent()
    return None


def _lanes_of(spec: Any, subspecs: Mapping[str, Any]) -> list[str]:
    lanes: set[str] = set()
    for each in [spec, *subspecs.values()]:
        for task_spec in each.task_specs.values():
            if getattr(task_spec, "lane", None):
                lanes.add(task_spec.lane)
    return sorted(lanes)


def lint_process(
    process: ParsedProcess, property_lint: PropertyLint | None = None, services: set[str] | None = None
) -> list[DefinitionProblem]:
    """Check every script, condition and timer expression of a process under the sandbox rules.

    ``property_lint`` checks the extension properties of each task (the SLA expressions).
    """
    problems: list[DefinitionProblem] = []
    seen: set[int] = set()
    for each in [process.spec, *process.subprocess_specs.values()]:
        for task_spec in each.task_specs.values():
            if id(task_spec) in seen:
                continue
            seen.add(id(task_spec))
            element = getattr(task_spec, "bpmn_id", None) or task_spec.name
            problems.extend(_lint_task_spec(task_spec, element))
            operation = getattr(task_spec, "operation_name", None)
            if services is not None and operation and operation not in services:
                known = ", ".join(sorted(services)) or "none"
                problems.append(DefinitionProblem(
                    f"service task calls {operation!r}, which is not a registered handler (known: {known})",
                    element_id=element))
            properties = (getattr(task_spec, "extensions", None) or {}).get("properties") or {}
            if property_lint is not None and properties:
                problems.extend(DefinitionProblem(message, element_id=element) for message in property_lint(properties))
    return problems


def _lint_task_spec(task_spec: Any, element: str) -> Iterator[DefinitionProblem]:
    for attr, what in (("script", "script"), ("prescript", "pre-script"), ("postscript", "post-script")):
        source = getattr(task_spec, attr, None)
        if isinstance(source, str) and source.strip():
            error = check_script(source)
            if error:
                yield DefinitionProblem(f"{what} refused: {error}", element_id=element)
    for condition, target in getattr(task_spec, "cond_task_specs", None) or []:
        if condition is None:
            continue
        # SpiffWorkflow wraps the expression in an operator object; the text is its first arg.
        condition = condition.args[0] if hasattr(condition, "args") and condition.args else condition
        if not isinstance(condition, str):
            continue
        error = check_expression(condition)
        if error:
            yield DefinitionProblem(f"condition of the flow to '{target}' refused: {error}", element_id=element)
    for attr in ("condition", "cardinality", "completion_condition"):
        source = getattr(task_spec, attr, None)
        if isinstance(source, str) and source.strip():
            error = check_expression(source)
            if error:
                yield DefinitionProblem(f"{attr.replace('_', ' ')} refused: {error}", element_id=element)
    for name, param in (getattr(task_spec, "operation_params", None) or {}).items():
        source = param.get("value") if isinstance(param, dict) else None
        if isinstance(source, str) and source.strip():
            error = check_expression(source)
            if error:
                yield DefinitionProblem(f"parameter '{name}' refused: {error}", element_id=element)
    event = getattr(task_spec, "event_definition", None)
    if isinstance(event, TimerEventDefinition):
        yield from _lint_timer(event, element)


def _lint_timer(event: TimerEventDefinition, element: str) -> Iterator[DefinitionProblem]:
    expression = (event.expression or "").strip()
    if not expression:
        yield DefinitionProblem("timer has no expression", element_id=element)
        return
    if _ISO_LIKE.match(expression):
        yield DefinitionProblem(
            f'timer expression {expression} must be a quoted Python string: write "{expression}"',
            element_id=element,
        )
        return
    error = check_expression(expression)
    if error:
        yield DefinitionProblem(f"timer expression refused: {error}", element_id=element)
        return
    # A literal string can be checked now rather than when the timer starts.
    try:
        literal = _literal(expression)
    except ValueError:
        return
    if not isinstance(literal, str):
        yield DefinitionProblem(f"timer expression {expression} is not a string", element_id=element)
        return
    try:
        if isinstance(event, CycleTimerEventDefinition):
            TimerEventDefinition.parse_iso_recurring_interval(literal)
        elif isinstance(event, DurationTimerEventDefinition):
            TimerEventDefinition.parse_iso_duration(literal)
        elif isinstance(event, TimeDateEventDefinition) and not isinstance(
            TimerEventDefinition.parse_time_or_duration(literal), datetime
        ):
            raise ValueError(literal)
    except Exception:  # noqa: BLE001 - SpiffWorkflow raises bare Exception / ValueError / AttributeError
        kind = {
            CycleTimerEventDefinition: "cycle such as R3/PT1H",
            DurationTimerEventDefinition: "duration such as P10D or PT2H",
        }.get(type(event), "date-time such as 2026-12-01T08:00:00+03:00")
        yield DefinitionProblem(f"timer value {literal!r} is not an ISO-8601 {kind}", element_id=element)


def duration_after(text: str, start: datetime) -> datetime:
    """``start`` plus an ISO-8601 duration (``P10D``, ``PT4H``, ``P1M``); months count real lengths.

    Raises:
        ValueError: ``text`` is not an ISO-8601 duration.
    """
    try:
        parsed = TimerEventDefinition.parse_iso_duration(text)
        return start + TimerEventDefinition.get_timedelta_from_start(parsed, start)
    except Exception:  # noqa: BLE001 - SpiffWorkflow raises bare Exception for bad durations
        raise ValueError(f"not an ISO-8601 duration: {text!r}") from None


@dataclass
class StartTimerPlan:
    """When a timer start event first fires, how many more times, and how far apart."""

    element_id: str
    due_at: datetime
    #: Further occurrences after the first: 0 for a date or a duration, -1 for an unbounded cycle.
    remaining: int
    interval_seconds: float


def start_timer_plans(sandbox: Sandbox, process: ParsedProcess, now: datetime) -> list[StartTimerPlan]:
    """The timer start events of a process and their first occurrence after ``now``.

    Raises:
        ScriptError: the timer expression fails or is not an ISO-8601 value.
    """
    plans = []
    for task_spec in process.spec.task_specs.values():
        event = getattr(task_spec, "event_definition", None)
        if type(task_spec).__name__ != "StartEvent" or not isinstance(event, TimerEventDefinition):
            continue
        element = task_spec.bpmn_id or task_spec.name
        try:
            value = sandbox.evaluate(event.expression, {})
        except ScriptError:
            raise
        except Exception as exc:  # noqa: BLE001 - the expression's own failure, reported as such
            raise ScriptError(f"timer start event '{element}': {type(exc).__name__}: {exc}") from None
        token = _clock.set(_FixedClock(now))
        try:
            if isinstance(event, CycleTimerEventDefinition):
                cycles, start, duration = TimerEventDefinition.parse_iso_recurring_interval(value)
                if cycles == 0:
                    continue
                remaining = -1 if cycles < 0 else cycles - 1
                plans.append(StartTimerPlan(element, _plain(start), remaining, duration.total_seconds()))
            elif isinstance(event, DurationTimerEventDefinition):
                plans.append(StartTimerPlan(element, duration_after(value, now), 0, 0.0))
            else:
                plans.append(StartTimerPlan(element, _plain(TimerEventDefinition.get_datetime(value)), 0, 0.0))
        except ScriptError:
            raise
        except Exception:  # noqa: BLE001 - SpiffWorkflow raises bare Exception for bad values
            raise ScriptError(f"timer start event '{element}': {value!r} is not an ISO-8601 timer value") from None
        finally:
            _clock.reset(token)
    return plans


class _FixedClock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


def _plain(value: datetime) -> datetime:
    return ensure_utc(datetime.fromisoformat(value.isoformat()))


def _with_zone(value: Any, zone: tzinfo) -> Any:
    """An ISO date-time without a zone, given ``zone``; anything else unchanged."""
    if not isinstance(value, str) or value.upper().startswith(("P", "R")):
        return value
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return value
    return parsed.replace(tzinfo=zone).isoformat() if parsed.tzinfo is None else value


def _timer_value_problem(event: TimerEventDefinition, value: Any) -> str | None:
    """Why a timer expression's value cannot drive ``event``, or None when it can."""
    if not isinstance(value, str):
        return f"timer value {value!r} is not ISO-8601 text (for example \"P10D\")"
    try:
        if isinstance(event, CycleTimerEventDefinition):
            TimerEventDefinition.parse_iso_recurring_interval(value)
        elif isinstance(event, DurationTimerEventDefinition):
            TimerEventDefinition.parse_iso_duration(value)
        elif not isinstance(TimerEventDefinition.parse_time_or_duration(value), datetime):
            return f"timer value {value!r} is a duration; a timeDate timer needs a date-time"
    except Exception:  # noqa: BLE001 - SpiffWorkflow raises bare Exception / AttributeError
        kind = {CycleTimerEventDefinition: "cycle such as R3/PT1H",
                DurationTimerEventDefinition: "duration such as P10D or PT2H"}.get(
            type(event), "date-time such as 2026-12-01T08:00:00+03:00")
        return f"timer value {value!r} is not an ISO-8601 {kind}"
    return None


#: How deep task data may nest before it is refused (JSON and the serializer recurse).
_MAX_DATA_DEPTH = 40


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


def _literal(expression: str) -> Any:
    import ast

    try:
        return ast.literal_eval(expression)
    except (ValueError, SyntaxError):
        raise ValueError(expression) from None


# -- running ----------------------------------------------------------------------------------


class _SandboxEnvironment(TaskDataEnvironment):
    """SpiffWorkflow's script environment, running everything through our sandbox."""

    def __init__(self, sandbox: Sandbox, services: Mapping[str, Callable[..., Any]]) -> None:
        super().__init__({})
        self.sandbox = sandbox
        self.services = services

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
        name = kwargs.get("operation_name")
        handler = self.services.get(name or "")
        if handler is None:
            raise ScriptError(f"no service handler named {name!r} is registered")
        scope = current_scope()
        if scope is None:
            raise ScriptError(f"service task {name!r} ran outside an engine command")
        params = {key: value["value"] for key, value in (kwargs.get("operation_params") or {}).items()}
        call = ServiceCall(scope=scope, element_id=str(kwargs.get("element_id") or "?"), data=context,
                           params=params)
        # A savepoint: a handler that fails (a unique constraint, say) undoes only its own writes
        # and leaves the command's transaction usable, so the instance can go to error cleanly.
        with scope.session.begin_nested():
            result = handler(call)
        problem = unstorable(result)
        if problem:
            raise ScriptError(f"service {name!r} returned {problem}, which cannot be saved with the case")
        return json.dumps(result)


class _ScriptEngine(PythonScriptEngine):
    def evaluate(self, task: Any, expression: Any, external_context: Any = None) -> Any:
        value = super().evaluate(task, expression, external_context)
        event = getattr(task.task_spec, "event_definition", None)
        if isinstance(event, TimerEventDefinition) and expression == event.expression:
            value = _with_zone(value, getattr(self, "default_tz", UTC))
            problem = _timer_value_problem(event, value)
            if problem:
                from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException

                raise WorkflowTaskException(problem, task=task)
        return value

    def call_service(self, task: Any, **kwargs: Any) -> Any:
        # SpiffWorkflow's own version masks every failure as NameError('script'); keep the real one.
        try:
            return self.environment.call_service(task.data, element_id=task.task_spec.bpmn_id, **kwargs)
        except SpiffWorkflowException:
            raise
        except Exception as exc:
            from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException

            raise WorkflowTaskException(f"{type(exc).__name__}: {exc}", task=task, exception=exc) from exc


_current_process: contextvars.ContextVar[ParsedProcess] = contextvars.ContextVar("tawasul_process")


class _SpecReferenceConverter(BpmnWorkflowConverter):
    """Serializes a workflow without its spec; restores it against the cached parsed spec."""

    def to_dict(self, workflow: Any) -> dict[str, Any]:
        dct = super(BpmnWorkflowConverter, self).to_dict(workflow)
        dct["spec"] = workflow.spec.name
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct: dict[str, Any]) -> Any:
        process = _current_process.get()
        if dct.pop("spec") != process.spec.name:
            raise ValueError("snapshot belongs to another process")
        dct.pop("subprocess_specs", None)
        workflow = self.target_class(process.spec, process.subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


def _make_serializer() -> BpmnWorkflowSerializer:
    config = dict(SPIFF_CONFIG)
    config[BpmnWorkflow] = _SpecReferenceConverter
    registry = BpmnWorkflowSerializer.configure(config)
    registry.register(date, lambda v: {"value": v.isoformat()}, lambda v: date.fromisoformat(v["value"]))
    registry.register(Decimal, lambda v: {"value": str(v)}, lambda v: Decimal(v["value"]))
    return BpmnWorkflowSerializer(registry)


_COMPRESSED = "z1:"


def encode_snapshot(text: str) -> str:
    """Compress a snapshot's JSON for storage (zlib, then base64 so it stays text)."""
    return _COMPRESSED + base64.b64encode(zlib.compress(text.encode("utf-8"), 6)).decode("ascii")


def decode_snapshot(stored: str) -> str:
    """The JSON of a stored snapshot (compressed or, from before compression, plain)."""
    if stored.startswith(_COMPRESSED):
        return zlib.decompress(base64.b64decode(stored[len(_COMPRESSED):])).decode("utf-8")
    return stored


@dataclass
class HumanTaskView:
    """What the projection needs of a READY human task."""

    id: str
    element_id: str
    name: str
    lane: str | None
    properties: dict[str, str]
    #: The task's data (not a copy): SLA expressions are evaluated against it.
    data: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass
class TimerView:
    """A waiting timer: the task that waits, its element and when it is due."""

    task_id: str
    element_id: str
    due_at: datetime


@dataclass
class StepFailure:
    """An element that failed while the engine ran: where and why."""

    element_id: str
    message: str


class WorkflowRuntime:
    """Runs workflows for the engine: creation, (de)serialization, steps, task actions."""

    def __init__(
        self,
        sandbox: Sandbox,
        services: Mapping[str, Callable[..., Any]] | None = None,
        default_tz: tzinfo | None = None,
    ) -> None:
        self.sandbox = sandbox
        self.services: dict[str, Callable[..., Any]] = dict(services or {})
        self.script_engine = _ScriptEngine(environment=_SandboxEnvironment(sandbox, self.services))
        #: A timer date-time written without a zone is read in this one (the calendar's), not the
        #: server's.
        self.script_engine.default_tz = default_tz or UTC
        self._local = threading.local()
        _install_clock_adapter()

    @property
    def serializer(self) -> BpmnWorkflowSerializer:
        """This thread's serializer (its registry keeps per-call state, so threads do not share one)."""
        serializer = getattr(self._local, "serializer", None)
        if serializer is None:
            serializer = self._local.serializer = _make_serializer()
        return serializer

    def register_service(self, name: str, handler: Callable[..., Any]) -> None:
        """Make ``handler(task_data, **params)`` callable from service tasks as ``name``."""
        self.services[name] = handler

    def new(self, process: ParsedProcess, data: Mapping[str, Any], start_timer: str | None = None) -> Case:
        """Create a workflow of ``process`` with ``data`` as its initial data (not yet run).

        ``start_timer`` names a timer start event that has just fired (the scheduler started
        this instance for it): it passes at once instead of waiting a second time.
        """
        workflow = BpmnWorkflow(process.spec, process.subprocess_specs, script_engine=self.script_engine)
        for task in workflow.get_tasks(state=TaskState.READY):
            task.data.update(data)
        if start_timer is not None:
            _force_start_timer(workflow, start_timer)
        return Case(workflow, process)

    def thaw(self, process: ParsedProcess, snapshot: str) -> Case:
        """Restore a workflow from its snapshot, against its (cached) parsed process."""
        token = _current_process.set(process)
        try:
            workflow = self.serializer.deserialize_json(decode_snapshot(snapshot))
        finally:
            _current_process.reset(token)
        workflow.script_engine = self.script_engine
        return Case(workflow, process)

    def freeze(self, case: Case, compress: bool = True) -> str:
        """Serialize a workflow's state (without its spec) to JSON.

        Raises:
            ScriptError: task data holds a value that cannot be stored (named in the message).
        """
        serializer = self.serializer
        serializer.registry._encoder_mode = True
        try:
            dct = serializer.to_dict(case.workflow)
            dct[serializer.VERSION_KEY] = serializer.VERSION
            # Compact separators, then zlib: a mid-way member request is 9.6 KB of JSON, 2.5 KB stored.
            text = json.dumps(dct, cls=serializer._encoder_cls, separators=(",", ":"))
            return encode_snapshot(text) if compress else text
        except (TypeError, ValueError, RecursionError) as exc:
            raise ScriptError(f"task data holds a value that cannot be saved: {exc}") from None
        finally:
            serializer.registry._encoder_mode = False


class Case:
    """One workflow and the operations the engine's commands need of it."""

    def __init__(self, workflow: Any, process: ParsedProcess) -> None:
        self.workflow = workflow
        self.process = process

    # -- stepping ---------------------------------------------------------------------------

    def advance(self) -> StepFailure | None:
        """Fire due timers and run every engine step; return the failure if an element failed."""
        try:
            self._skip_missed_cycles()
            self.workflow.refresh_timers()
            self.workflow.do_engine_steps()
        except WorkflowException as exc:
            return _failure_from(exc)
        except Exception as exc:  # noqa: BLE001 - any failure inside the engine puts the case in error
            return StepFailure(element_id=self._busy_element(), message=f"{type(exc).__name__}: {exc}")
        return None

    def _skip_missed_cycles(self) -> None:
        """Let a cycle timer that missed occurrences (the workers were down) fire once now.

        Without this SpiffWorkflow would run one path per missed occurrence in one burst; the
        missed occurrences count as used.
        """
        now = (_clock.get() or _SYSTEM_CLOCK).now()
        for task in self.workflow.get_tasks(state=TaskState.WAITING):
            value = task.internal_data.get("event_value")
            event = getattr(task.task_spec, "event_definition", None)
            if not isinstance(event, CycleTimerEventDefinition) or not isinstance(value, dict):
                continue
            interval = float(value.get("duration") or 0)
            cycles = value.get("cycles", 0)
            if interval <= 0 or cycles == 0:
                continue
            due = datetime.fromisoformat(value["next"])
            missed = int((now - due).total_seconds() // interval)
            if missed <= 0:
                continue
            if cycles > 0:
                missed = min(missed, cycles - 1)
                value["cycles"] = cycles - missed
            value["next"] = (due + timedelta(seconds=interval * missed)).isoformat()

    def _busy_element(self) -> str:
        """Best guess at the element the engine was working on when it failed."""
        for state in (TaskState.ERROR, TaskState.STARTED, TaskState.READY, TaskState.WAITING):
            for task in self.workflow.get_tasks(state=state):
                if not task.task_spec.manual and getattr(task.task_spec, "bpmn_id", None):
                    return str(task.task_spec.bpmn_id)
        return "?"

    def retry_failed(self, data: Mapping[str, Any] | None = None, element_id: str | None = None) -> StepFailure | None:
        """Run the failed element again, with ``data`` (the fix) merged in, then the engine on.

        A script that raised is in ERROR and runs again with the fix in its own data. An element
        that failed before it could start (a timer whose value was wrong, say) is still waiting
        to be reached: the fix goes into the data it inherits and it is reached again.
        """
        fix = dict(data or {})
        try:
            errored = self.workflow.get_tasks(state=TaskState.ERROR)
            for task in errored:
                task.data.update(fix)
                task._set_state(TaskState.READY)
            if not errored and element_id:
                pending = TaskState.PREDICTED_MASK | TaskState.FUTURE | TaskState.WAITING | TaskState.READY
                for task in self.workflow.get_tasks(state=pending):
                    parent = task.parent
                    if task.task_spec.bpmn_id != element_id or parent is None or parent.state != TaskState.COMPLETED:
                        continue
                    parent.data.update(fix)
                    task.data.update(fix)
                    task.internal_data.pop("event_value", None)  # a timer computes its due time again
                    task.task_spec._update(task)
            for task in self.workflow.get_tasks(state=TaskState.READY, manual=False):
                task.data.update(fix)
        except WorkflowException as exc:
            return _failure_from(exc)
        except Exception as exc:  # noqa: BLE001 - any failure inside the engine puts the case in error
            return StepFailure(element_id=element_id or self._busy_element(), message=f"{type(exc).__name__}: {exc}")
        return self.advance()

    # -- state ------------------------------------------------------------------------------

    @property
    def is_completed(self) -> bool:
        """True when the process has reached its end."""
        return bool(self.workflow.is_completed())

    def data(self) -> dict[str, Any]:
        """The case's current data.

        At the end that is the process data; while running, the data of every reached task
        merged in the order the tasks changed, so every parallel branch shows.
        """
        if self.is_completed:
            return dict(self.workflow.data)
        mask = TaskState.COMPLETED | TaskState.READY | TaskState.STARTED | TaskState.ERROR | TaskState.WAITING
        merged: dict[str, Any] = {}
        for task in sorted(self.workflow.get_tasks(state=mask), key=lambda t: t.last_state_change):
            merged.update(task.data)
        return merged

    def waits(self) -> tuple[dict[str, HumanTaskView], dict[str, TimerView]]:
        """The READY human tasks and the waiting timers, found in one pass over the task tree."""
        humans: dict[str, HumanTaskView] = {}
        timers: dict[str, TimerView] = {}
        workflows = [self.workflow, *self.workflow.subprocesses.values()]
        for workflow in workflows:
            for task in workflow.tasks.values():
                state = task.state
                if state == TaskState.READY and task.task_spec.manual:
                    view = _human_view(task)
                    humans[view.id] = view
                elif state == TaskState.WAITING:
                    timer = _timer_view(task)
                    if timer is not None:
                        timers[timer.task_id] = timer
        return humans, timers

    def human_tasks(self) -> list[HumanTaskView]:
        """The READY user and manual tasks."""
        return list(self.waits()[0].values())

    def timers(self) -> list[TimerView]:
        """The waiting timers with their due times (UTC)."""
        return list(self.waits()[1].values())

    def element_states(self) -> dict[str, dict[str, int]]:
        """Per BPMN element: how many of its tasks are done, active (waiting or ready) or cancelled."""
        counts: dict[str, dict[str, int]] = {}
        workflows = [self.workflow, *self.workflow.subprocesses.values()]
        for workflow in workflows:
            for task in workflow.tasks.values():
                element = getattr(task.task_spec, "bpmn_id", None)
                if not element:
                    continue
                state = task.state
                if state == TaskState.COMPLETED:
                    kind = "done"
                elif state in (TaskState.READY, TaskState.WAITING, TaskState.STARTED, TaskState.ERROR):
                    kind = "active"
                elif state == TaskState.CANCELLED:
                    kind = "cancelled"
                else:
                    continue
                counts.setdefault(element, {"done": 0, "active": 0, "cancelled": 0})[kind] += 1
        return counts

    def timer_fired(self, task_id: str) -> bool:
        """True when the timer task ``task_id`` fired (completed), not cancelled with its scope."""
        try:
            task = self.workflow.get_task_from_id(UUID(task_id))
        except (ValueError, KeyError, WorkflowException):
            return False
        return task is not None and task.state == TaskState.COMPLETED

    def failed_element(self) -> str | None:
        """The element of the first task in ERROR, if any."""
        for task in self.workflow.get_tasks(state=TaskState.ERROR):
            return str(task.task_spec.bpmn_id or task.task_spec.name)
        return None

    # -- task actions -----------------------------------------------------------------------

    def human_task(self, task_id: str) -> Any | None:
        """Return the workflow task ``task_id`` if it is a READY human task, else None."""
        try:
            task = self.workflow.get_task_from_id(UUID(task_id))
        except (ValueError, KeyError, WorkflowException):
            return None
        if task is None or task.state != TaskState.READY or not task.task_spec.manual:
            return None
        return task

    def complete_human_task(self, task_id: str, data: Mapping[str, Any]) -> StepFailure | None:
        """Merge ``data`` into a READY human task, complete it and run the engine on.

        The caller must have checked `human_task` first: ``Task.run`` does not check state.
        """
        task = self.human_task(task_id)
        if task is None:
            raise LookupError(task_id)
        task.data.update(data)
        try:
            task.run()
        except WorkflowException as exc:
            return _failure_from(exc)
        except Exception as exc:  # noqa: BLE001 - any failure inside the engine puts the case in error
            return StepFailure(element_id=self._busy_element(), message=f"{type(exc).__name__}: {exc}")
        return self.advance()

    def cancel(self) -> None:
        """Cancel the workflow: every unfinished task is cancelled."""
        self.workflow.cancel()


def _force_start_timer(workflow: Any, element_id: str) -> None:
    past = (datetime.now(UTC) if _clock.get() is None else _clock.get().now()) - timedelta(seconds=1)
    for task in workflow.get_tasks():
        if task.task_spec.bpmn_id != element_id:
            continue
        event = getattr(task.task_spec, "event_definition", None)
        if isinstance(event, CycleTimerEventDefinition):
            # One occurrence in this instance; the scheduler starts a new instance for the next.
            task.internal_data["event_value"] = {"cycles": 1, "next": past.isoformat(), "duration": 0.0}
        elif isinstance(event, TimerEventDefinition):
            task.internal_data["event_value"] = past.isoformat()
        return
    raise ValueError(f"no start event {element_id!r}")


def _human_view(task: Any) -> HumanTaskView:
    spec = task.task_spec
    extensions = getattr(spec, "extensions", None) or {}
    return HumanTaskView(
        id=str(task.id),
        element_id=spec.bpmn_id or spec.name,
        name=spec.bpmn_name or spec.bpmn_id or spec.name,
        lane=spec.lane,
        properties=dict(extensions.get("properties") or {}),
        data=task.data,
    )


def _timer_view(task: Any) -> TimerView | None:
    event = getattr(task.task_spec, "event_definition", None)
    if not isinstance(event, TimerEventDefinition):
        return None
    value = task.internal_data.get("event_value")
    if isinstance(value, dict):
        value = value.get("next") if value.get("cycles") != 0 else None
    if not value:
        return None
    try:
        parsed = TimerEventDefinition.get_datetime(value)
    except (TypeError, ValueError):
        return None
    due = ensure_utc(datetime.fromisoformat(parsed.isoformat()))
    return TimerView(str(task.id), task.task_spec.bpmn_id or task.task_spec.name, due)


def _failure_from(exc: WorkflowException) -> StepFailure:
    task = getattr(exc, "task", None)
    element = "?"
    if task is not None:
        element = str(task.task_spec.bpmn_id or task.task_spec.name)
    elif getattr(exc, "task_spec", None) is not None:
        element = str(exc.task_spec.bpmn_id or exc.task_spec.name)
    message = exc.message if hasattr(exc, "message") and exc.message else str(exc)
    cause = exc.error if hasattr(exc, "error") else None
    cause = cause or exc.__cause__ or exc.__context__
    if cause is not None and str(cause) and str(cause) not in message:
        message = f"{message}: {cause}"
    return StepFailure(element_id=element, message=message)
