"""Parsing and linting BPMN before a version is stored.

XSD validation, structural errors on their element, and every script, condition, timer and
service call checked against the sandbox.
"""

from __future__ import annotations

import ast
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from xml.parsers import expat

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser, SpiffProcessParser

from engine.errors import DefinitionProblem
from engine.sandbox import check_expression, check_script
from engine.settings import DefinitionLimits
from engine.spiff.instances import BoundedParallelMultiInstanceTask
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
    checked: bool = True,
) -> list[ParsedProcess]:
    """Parse BPMN XML with XSD validation and lint it; return its executable processes.

    ``checked=False`` parses a version already deployed: the structure and lint rules a deploy
    applies are not applied again, since a rule added later must not stop that version's running
    cases (its scripts are compiled when they run, and a refusal then stops the case at its
    element).

    Raises:
        ParseFailed: malformed XML (with its line), XSD or structural errors (with the element),
            scripts or expressions the sandbox refuses, or no executable process.
    """
    tree = _read_xml(xml)
    structural = _structure_problems(tree) if checked else []
    if structural:
        raise ParseFailed(structural)
    clashes = _operator_id_clashes(tree)
    if clashes:
        raise ParseFailed([
            DefinitionProblem(f"the id '{clash}' names both an element and a service operator; SpiffWorkflow "
                              "cannot tell them apart, so give the element another id", element_id=clash)
            for clash in clashes
        ])
    parser = _Parser(validator=VALIDATOR)
    try:
        # Our tree, not the text: SpiffWorkflow's own reading would resolve entities.
        parser.add_bpmn_xml(tree, filename=source)
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
    except RecursionError:
        raise ParseFailed([DefinitionProblem(_TOO_DEEP)]) from None
    problems: list[DefinitionProblem] = []
    known = set(services) if services is not None else None
    for process in processes if checked else ():
        problems.extend(lint_process(process, property_lint, known))
    if problems:
        raise ParseFailed(problems)
    return processes


_NAMESPACES = {
    "http://www.omg.org/spec/BPMN/20100524/MODEL": "bpmn",
    "http://spiffworkflow.org/bpmn/schema/1.0/core": "spiffworkflow",
}
_BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
_BPMN_NAMESPACES = (_BPMN, "{http://www.omg.org/spec/BPMN/20100524/DI}", "{http://www.omg.org/spec/DD/20100524/")

_NO_DTD = "the file is not valid BPMN XML: DTDs and entities are not allowed"
_TOO_DEEP = ("the diagram is too deep for the engine to read (a path of several hundred elements that it "
             "cannot cut into stretches); split it into subprocesses or call activities")


class _DoctypeFound(Exception):
    pass


def _declares_dtd(xml: bytes) -> bool:
    """Whether the file has a DOCTYPE, found by a scan that stops there, before any entity is read."""

    def found(*_args: object) -> None:
        raise _DoctypeFound

    scanner = expat.ParserCreate()
    scanner.StartDoctypeDeclHandler = found
    scanner.EntityDeclHandler = found
    try:
        scanner.Parse(xml, True)
    except _DoctypeFound:
        return True
    except (expat.ExpatError, ValueError):
        return False  # malformed: lxml says where
    return False


def _read_xml(xml: bytes) -> Any:
    """The XML tree of ``xml``; a DTD (XXE, entity expansion) is refused before anything is read.

    Raises:
        ParseFailed: a DTD or entity, or malformed XML (with its line).
    """
    if _declares_dtd(xml):
        raise ParseFailed([DefinitionProblem(_NO_DTD)])
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        tree = etree.fromstring(xml, parser)
    except etree.XMLSyntaxError as exc:
        raise ParseFailed([DefinitionProblem(f"malformed XML: {exc.msg}", line=exc.lineno)]) from None
    except ValueError as exc:  # lxml refuses some inputs (an encoding declaration it cannot honour) so
        raise ParseFailed([DefinitionProblem(f"malformed XML: {exc}")]) from None
    info = tree.getroottree().docinfo
    if info.doctype or info.internalDTD is not None:
        raise ParseFailed([DefinitionProblem(_NO_DTD)])
    return tree


def _structure_problems(tree: Any) -> list[DefinitionProblem]:
    """Ids used twice, and sequence flows whose ends are missing (SpiffWorkflow would mislabel or accept them)."""
    if tree.tag != f"{_BPMN}definitions":
        return [DefinitionProblem(f"the file's root element is {_cut(str(tree.tag))}, not bpmn:definitions "
                                  f"({_BPMN[1:-1]})")]
    problems: list[DefinitionProblem] = []
    lines: dict[str, list[int]] = {}
    for node in tree.iter():
        # Only BPMN's own elements: an extension (a service operator, its parameters) uses id for a name.
        if isinstance(node.tag, str) and node.tag.startswith(_BPMN_NAMESPACES) and node.get("id"):
            lines.setdefault(str(node.get("id")), []).append(node.sourceline or 0)
    for element_id, where in lines.items():
        if len(where) > 1:
            problems.append(DefinitionProblem(
                f"the id '{element_id}' is given to {len(where)} elements (lines "
                f"{', '.join(str(line) for line in where)}); each id must be unique in the file",
                element_id=element_id, line=where[1] or None))
    problems.extend(_no_id(node) for node in tree.iter()
                    if (_is_flow_element(node) or node.tag == f"{_BPMN}process") and not node.get("id"))
    siblings_of: dict[Any, set[str | None]] = {}  # per container, read once (a flow per element is common)
    for flow in tree.iter(f"{_BPMN}sequenceFlow"):
        flow_id = flow.get("id") or "?"
        container = flow.getparent()
        siblings = siblings_of.get(container)
        if siblings is None:
            siblings = siblings_of[container] = {child.get("id") for child in container if isinstance(child.tag, str)}
        scope = f"{etree.QName(container).localname} '{container.get('id') or '?'}'"
        for attribute, verb in (("sourceRef", "comes from"), ("targetRef", "goes to")):
            ref = flow.get(attribute)
            if not ref:
                problems.append(DefinitionProblem(
                    f"sequence flow '{flow_id}' has no {attribute} (the element it {verb})",
                    element_id=flow_id, line=flow.sourceline))
            elif ref not in siblings or ref == flow_id:
                problems.append(DefinitionProblem(
                    f"sequence flow '{flow_id}' {verb} '{_cut(ref)}', which is not an element of {scope}",
                    element_id=flow_id, line=flow.sourceline))
    return problems


def limit_problems(xml: bytes, limits: DefinitionLimits) -> list[DefinitionProblem]:
    """What in ``xml`` is past ``limits``, read before SpiffWorkflow parses anything.

    A process with too many elements, an element with too many outgoing flows, a multi-instance
    with too large a literal cardinality: a huge diagram is refused in milliseconds.

    Raises:
        ParseFailed: a DTD or entity, or malformed XML (with its line).
    """
    tree = _read_xml(xml)
    problems: list[DefinitionProblem] = []
    for process in tree.iter(f"{_BPMN}process"):
        elements = sum(1 for node in process.iter() if _is_flow_element(node))
        if elements > limits.max_elements:
            problems.append(DefinitionProblem(
                f"process '{_cut(process.get('id') or '?')}' has {elements} elements (flow nodes and sequence "
                f"flows); at most {limits.max_elements} are allowed (engine.max_process_elements): split it "
                "into smaller processes", element_id=process.get("id")))
    leaving = Counter((flow.getparent(), flow.get("sourceRef")) for flow in tree.iter(f"{_BPMN}sequenceFlow"))
    for (_container, source), count in leaving.items():
        if count > limits.max_branches and source:
            problems.append(DefinitionProblem(
                f"{count} sequence flows leave '{_cut(source)}'; at most {limits.max_branches} branches may leave "
                "one element (engine.max_branches)", element_id=source))
    for container in (*tree.iter(f"{_BPMN}process"), *tree.iter(f"{_BPMN}subProcess")):
        following, undecided = _flow_graph(container)
        looping = _endless_loop(undecided)
        if looping is not None:
            problems.append(DefinitionProblem(
                f"the flows from '{_cut(looping)}' lead back to it with nothing to decide whether to go round "
                "again (an exclusive, inclusive or event-based gateway, or a condition): the case would loop for "
                "ever", element_id=looping))
        length, first = _longest_path(following)
        if length > MAX_PATH:
            problems.append(DefinitionProblem(
                f"a path of {length} elements one after another starts at '{_cut(first)}'; the engine follows a "
                f"path by recursion and takes at most {MAX_PATH} elements in a row: make it shorter",
                element_id=first))
    for cardinality in tree.iter(f"{_BPMN}loopCardinality"):
        text = (cardinality.text or "").strip()
        if text.isdigit() and int(text) > limits.max_branches:
            owner = cardinality.getparent().getparent()
            problems.append(DefinitionProblem(
                f"the multi-instance loopCardinality is {_cut(text)}; at most {limits.max_branches} instances "
                "are allowed (engine.max_branches)", element_id=owner.get("id") if owner is not None else None))
    return problems


#: Flow nodes one path may have. SpiffWorkflow predicts a new case's tasks by recursion, one
#: Python frame per element along a path, under Python's limit of 1000 frames: a chain of 1,500
#: tasks failed with RecursionError when a case started. 600 leaves room for the server's frames.
MAX_PATH = 600


_DECIDING = tuple(f"{_BPMN}{kind}" for kind in ("exclusiveGateway", "inclusiveGateway", "eventBasedGateway",
                                                 "complexGateway"))


def _flow_graph(container: Any) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """The flow nodes of ``container`` (not of its subprocesses) and where each leads.

    Every way out, and the ways out that nothing decides (no gateway choosing, no condition, no
    boundary event).
    """
    following: dict[str, list[str]] = {}
    for node in container:
        if _is_flow_element(node) and node.tag != f"{_BPMN}sequenceFlow" and node.get("id"):
            following.setdefault(str(node.get("id")), [])
    undecided: dict[str, list[str]] = {node: [] for node in following}
    deciding = {str(node.get("id")) for node in container if node.tag in _DECIDING and node.get("id")}
    for node in container:
        if node.tag == f"{_BPMN}sequenceFlow":
            source, target = node.get("sourceRef"), node.get("targetRef")
            if source in following and target in following:
                following[source].append(target)
                if source not in deciding and node.find(f"{_BPMN}conditionExpression") is None:
                    undecided[source].append(target)
        elif node.tag == f"{_BPMN}boundaryEvent" and node.get("attachedToRef") in following \
                and node.get("id") in following:
            following[node.get("attachedToRef")].append(str(node.get("id")))
    return following, undecided


def _endless_loop(undecided: Mapping[str, list[str]]) -> str | None:
    """An element that its undecided ways out lead back to (None if there is none)."""
    done: set[str] = set()
    for root in undecided:
        if root in done:
            continue
        on_walk = {root}
        walk = [(root, iter(undecided[root]))]
        while walk:
            node, rest = walk[-1]
            nxt = next(rest, None)
            if nxt is None:
                walk.pop()
                on_walk.discard(node)
                done.add(node)
            elif nxt in on_walk:
                return nxt
            elif nxt not in done:
                on_walk.add(nxt)
                walk.append((nxt, iter(undecided[nxt])))
    return None


def _longest_path(following: Mapping[str, list[str]]) -> tuple[int, str]:
    """The flow nodes on the longest path through ``following``, and where it starts.

    Loops are cut where a walk meets them again; linear in the elements.
    """
    longest: dict[str, int] = {}
    on_walk: set[str] = set()
    for root in following:
        if root in longest:
            continue
        walk = [(root, iter(following[root]))]
        on_walk.add(root)
        while walk:
            node, rest = walk[-1]
            nxt = next(rest, None)
            if nxt is None:
                walk.pop()
                on_walk.discard(node)
                longest[node] = 1 + max((longest.get(n, 0) for n in following[node] if n not in on_walk), default=0)
            elif nxt not in longest and nxt not in on_walk:
                on_walk.add(nxt)
                walk.append((nxt, iter(following[nxt])))
    if not longest:
        return 0, ""
    first = max(longest, key=lambda n: longest[n])
    return longest[first], first


_FLOW_NODES = ("sequenceFlow", "subProcess", "transaction", "adHocSubProcess", "callActivity", "task")


def _is_flow_element(node: Any) -> bool:
    if not isinstance(node.tag, str) or not node.tag.startswith(_BPMN):
        return False
    local = node.tag[len(_BPMN):]
    return local in _FLOW_NODES or local.endswith(("Task", "Event", "Gateway"))


def _no_id(node: Any) -> DefinitionProblem:
    """An element the engine finds by its id that has none (a process's id is its key)."""
    return DefinitionProblem(f"the {etree.QName(node).localname} on line {node.sourceline} has no id",
                             line=node.sourceline)


def _cut(text: str) -> str:
    return text if len(text) <= 80 else text[:60] + "..."


#: Elements SpiffWorkflow parses in one recursion before a stretch is cut (about 3 frames each).
_STRETCH = 100


class _StretchedProcessParser(SpiffProcessParser):
    """Parses a long path in stretches of `_STRETCH` elements.

    SpiffWorkflow parses a process by recursion, one level per element along each path, so a
    chain of ~330 elements exceeded Python's recursion limit. Parsing the element that starts
    each stretch first (deepest first) leaves every later recursion short: it stops at elements
    already parsed. Diagrams with no path that long parse exactly as before.
    """

    def add_tasks(self) -> None:
        for node in _stretch_starts(self):
            self.parse_node(node)
        super().add_tasks()


def _bounding_instances(parser_class: type) -> type:
    """``parser_class`` making `BoundedParallelMultiInstanceTask` for parallel multi-instance."""
    return type(parser_class.__name__, (parser_class,), {"PARALLEL_MI_CLASS": BoundedParallelMultiInstanceTask})


class _Parser(SpiffBpmnParser):
    PROCESS_PARSER_CLASS = _StretchedProcessParser
    OVERRIDE_PARSER_CLASSES = {tag: (_bounding_instances(parser_class), spec_class)
                               for tag, (parser_class, spec_class) in SpiffBpmnParser.OVERRIDE_PARSER_CLASSES.items()}


def _next_nodes(process_parser: Any, node: Any) -> Iterator[Any]:
    """What SpiffWorkflow's parse of ``node`` recurses into, in its order."""
    node_id = node.get("id")
    yield from process_parser.get_boundary_events(node_id)
    for flow in process_parser.get_outgoing_sequence_flows(node_id):
        target = process_parser.get_node_by_id(flow.get("targetRef"))
        if target is not None:
            yield target


def _too_deep(process_parser: Any, root: Any, parsed: set[str], pending: set[str]) -> tuple[Any, set[str]]:
    """Walk as SpiffWorkflow would from ``root``.

    Returns the first element `_STRETCH` deep that may start a stretch (None if there is none)
    and the ids the walk reached.
    """
    reached = {root.get("id")}
    walk = [(_next_nodes(process_parser, root), 0)]
    while walk:
        following, depth = walk[-1]
        node = next(following, None)
        if node is None:
            walk.pop()
            continue
        node_id = node.get("id")
        if node_id in reached or node_id in parsed:
            continue
        if depth + 1 >= _STRETCH and node_id not in pending and not node.tag.endswith(("boundaryEvent", "startEvent")):
            return node, reached
        reached.add(node_id)
        walk.append((_next_nodes(process_parser, node), depth + 1))
    return None, reached


def _stretch_starts(process_parser: Any) -> list[Any]:
    """The elements to parse before the start events, in order, so that no recursion is long."""
    roots = [*process_parser.xpath("./bpmn:startEvent"),
             *process_parser.xpath("./bpmn:subProcess[@triggeredByEvent='true']")]
    parsed: set[str] = set()
    order: list[Any] = []
    for root in roots:
        goals = [root]
        while goals:
            deep, reached = _too_deep(process_parser, goals[-1], parsed, {goal.get("id") for goal in goals})
            if deep is not None:
                goals.append(deep)
                continue
            done = goals.pop()
            parsed |= reached
            if goals:
                order.append(done)
    return order



def _operator_id_clashes(tree: Any) -> list[str]:
    namespaces = {prefix: uri for uri, prefix in _NAMESPACES.items()}
    operators = set(tree.xpath("//spiffworkflow:serviceTaskOperator/@id", namespaces=namespaces))
    elements = set(tree.xpath("//bpmn:*/@id", namespaces=namespaces))
    return sorted(operators & elements)


def _problem_from_validation(exc: ValidationException, tree: Any) -> DefinitionProblem:
    message = str(exc.args[0]) if exc.args else str(exc)
    if isinstance(exc.__context__, RecursionError) or message.startswith("RecursionError"):
        message = _TOO_DEEP
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
