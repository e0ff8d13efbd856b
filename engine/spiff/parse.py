"""Parsing and linting BPMN before a version is stored.

XSD validation, structural errors on their element, and every script, condition, timer and
service call checked against the sandbox.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser

from engine.errors import DefinitionProblem
from engine.sandbox import check_expression, check_script
from engine.spiff.timers import is_cycle, is_timer, value_problem


@dataclass
class ParsedProcess:
    """A parsed, linted process ready to run; cached per (sha256, key)."""

    key: str
    name: str
    spec: Any
    subprocess_specs: dict[str, Any]
    lanes: list[str] = field(default_factory=list)
    #: Whether any timer of the process is a cycle (only then can occurrences be missed).
    has_cycle_timers: bool = False

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
                    has_cycle_timers=_has_cycle_timers(spec, subspecs),
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
    namespaces = {prefix: uri for uri, prefix in _NAMESPACES.items()}
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


def _has_cycle_timers(spec: Any, subspecs: Mapping[str, Any]) -> bool:
    return any(is_cycle(getattr(task_spec, "event_definition", None))
               for each in [spec, *subspecs.values()] for task_spec in each.task_specs.values())


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
    if is_cycle(event) and not _may_repeat(task_spec):
        yield DefinitionProblem(
            "a timer cycle repeats, which BPMN allows only on a start event or a boundary event; on this "
            "event use a duration (PT1H) or a date-time", element_id=element)
    elif is_timer(event):
        yield from _lint_timer(event, element)


def _may_repeat(task_spec: Any) -> bool:
    """Whether a timer cycle has a meaning on ``task_spec``: a start event or a boundary event."""
    return any(kind.__name__ in ("StartEvent", "BoundaryEvent") for kind in type(task_spec).__mro__)


def _lint_timer(event: Any, element: str) -> Iterator[DefinitionProblem]:
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
        literal = ast.literal_eval(expression)
    except (ValueError, SyntaxError):
        return
    if not isinstance(literal, str):
        yield DefinitionProblem(f"timer expression {expression} is not a string", element_id=element)
        return
    problem = value_problem(event, literal)
    if problem:
        yield DefinitionProblem(problem, element_id=element)
