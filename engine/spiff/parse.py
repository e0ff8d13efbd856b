"""Parsing and linting BPMN before a version is stored.

XSD validation, structural errors on their element, and every script, condition, timer and
service call checked against the sandbox.
"""

from __future__ import annotations

import ast
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from copy import deepcopy
from dataclasses import dataclass, field
from typing import Any
from xml.parsers import expat

from lxml import etree
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser, SpiffProcessParser

from engine import bpmn_problems as bp
from engine.errors import CODES, DefinitionProblem
from engine.sandbox import check_expression, check_script
from engine.settings import DefinitionLimits
from engine.spiff.instances import BoundedParallelMultiInstanceTask
from engine.spiff.timers import is_cycle, is_timer, quote_literal_timers, value_issue


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


#: A task property check: each problem as English text, or as a `DefinitionProblem` with its code.
PropertyLint = Callable[[Mapping[str, str]], list[Any]]


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
        ParseFailed: every error `check_bpmn` finds (warnings do not refuse).
    """
    if not checked:
        return _parse_deployed(xml, source)
    problems, processes = check_bpmn(xml, source, property_lint, services)
    errors = bp.errors(problems)
    if errors:
        raise ParseFailed(errors)
    return processes


def check_bpmn(
    xml: bytes,
    source: str,
    property_lint: PropertyLint | None = None,
    services: Iterable[str] | None = None,
) -> tuple[list[DefinitionProblem], list[ParsedProcess]]:
    """Every problem of a BPMN file, and its executable processes when it has no error.

    Never raises for a well-formed file, executable or not, complete or not: what it lacks is a
    problem, each naming its element. A process not marked executable is read as if it were, so
    that its own problems are listed too (it is never returned to be stored).
    """
    try:
        tree = _read_xml(xml)
    except ParseFailed as exc:
        return exc.problems, []
    structural = _structure_problems(tree) + [
        bp.problem(bp.ID_CLASH, element_id=clash, ident=clash) for clash in _operator_id_clashes(tree)]
    if structural:
        return structural, []
    names = _names(tree)
    problems = _xsd_problems(tree, names)
    if problems:
        return problems, []
    executable = [p for p in tree.iter(f"{_BPMN}process") if p.get("isExecutable", "true") == "true"]
    if not executable:
        processes = list(tree.iter(f"{_BPMN}process"))
        if not processes:
            return [bp.problem(bp.NO_PROCESS)], []
        shown = _pools(tree)
        first = processes[0].get("id")
        problems.append(bp.problem(bp.NOT_EXECUTABLE, element_id=shown.get(first, (first, None))[0],
                                   processes=[shown.get(p.get("id"), (None, None))[1] or _label(names, p.get("id"))
                                              for p in processes]))
        tree = _as_executable(tree)
    problems.extend(_repair_service_tasks(tree, names, services))
    parser = _Parser(validator=None)  # validated above, every error listed
    try:
        # Our tree, not the text: SpiffWorkflow's own reading would resolve entities.
        parser.add_bpmn_xml(tree, filename=source)
        keys = parser.get_process_ids()
    except (SpiffWorkflowException, RecursionError) as exc:
        return [*problems, _problem_from_spiff(exc, tree, names, services)], []
    parsed = []
    for key in keys:
        try:
            parsed.append(_parsed(parser, key))
        except (SpiffWorkflowException, RecursionError) as exc:
            problems.append(_problem_from_spiff(exc, tree, names, services))
    known = set(services) if services is not None else None
    for process in parsed:
        problems.extend(lint_process(process, property_lint, known))
    return problems, ([] if bp.errors(problems) else parsed)


def _parse_deployed(xml: bytes, source: str) -> list[ParsedProcess]:
    tree = _read_xml(xml)
    parser = _Parser(validator=VALIDATOR)
    try:
        parser.add_bpmn_xml(tree, filename=source)
        return [_parsed(parser, key) for key in parser.get_process_ids()]
    except (SpiffWorkflowException, RecursionError) as exc:
        raise ParseFailed([_problem_from_spiff(exc, tree, _names(tree), None)]) from None


def _parsed(parser: Any, key: str) -> ParsedProcess:
    spec = parser.get_spec(key)
    subspecs = parser.get_subprocess_specs(key)
    quote_literal_timers([spec, *subspecs.values()])
    return ParsedProcess(key=key, name=spec.description or key, spec=spec, subprocess_specs=subspecs,
                         lanes=_lanes_of(spec, subspecs), has_cycle_timers=_has_cycle_timers(spec, subspecs))


def _names(tree: Any) -> dict[str, str]:
    """The name drawn on each element with an id (its id when it has none)."""
    names = {}
    for node in tree.iter():
        if isinstance(node.tag, str) and node.get("id"):
            element = str(node.get("id"))
            names[element] = " ".join(str(node.get("name") or "").split()) or element
    return names


def _label(names: Mapping[str, str], element_id: Any) -> str:
    return _cut(names.get(str(element_id), str(element_id or "?")))


def _pools(tree: Any) -> dict[str, tuple[str, str | None]]:
    """Process id -> (the id of the pool drawing it, the pool's name)."""
    pools = {}
    for participant in tree.iter(f"{_BPMN}participant"):
        if participant.get("processRef") and participant.get("id"):
            pools[str(participant.get("processRef"))] = (str(participant.get("id")), participant.get("name"))
    return pools


def _as_executable(tree: Any) -> Any:
    """A copy of ``tree`` with every process marked executable (read to be checked, never stored)."""
    copy = deepcopy(tree)
    for process in copy.iter(f"{_BPMN}process"):
        process.set("isExecutable", "true")
    return copy


_SPIFF = "{http://spiffworkflow.org/bpmn/schema/1.0/core}"
#: The handler a service task that calls none is given in a tree read only to be checked.
_NO_HANDLER = "\u2205"


def _repair_service_tasks(tree: Any, names: Mapping[str, str], services: Iterable[str] | None
                          ) -> list[DefinitionProblem]:
    """A problem for each service task that calls no handler (other tools draw none).

    Each is given a stand-in, in place, so that the rest of the file is checked too.
    """
    problems = []
    handlers = sorted(services) if services is not None else []
    for task in tree.iter(f"{_BPMN}serviceTask"):
        if task.find(f"{_BPMN}extensionElements/{_SPIFF}serviceTaskOperator") is not None:
            continue
        problems.append(bp.problem(bp.SERVICE_NO_HANDLER, element_id=task.get("id"),
                                   element=_label(names, task.get("id")), handlers=handlers))
        extensions = task.find(f"{_BPMN}extensionElements")
        if extensions is None:
            extensions = etree.Element(f"{_BPMN}extensionElements")
            task.insert(0, extensions)
        etree.SubElement(extensions, f"{_SPIFF}serviceTaskOperator", id=_NO_HANDLER)
    return problems


def _xsd_problems(tree: Any, names: Mapping[str, str]) -> list[DefinitionProblem]:
    """Every place the file departs from the BPMN 2.0 schema (at most 20)."""
    VALIDATOR.preprocess(tree)
    if VALIDATOR.validator.validate(tree):
        return []
    problems = []
    for error in list(VALIDATOR.validator.error_log)[:20]:
        element = _element_at_line(tree, error.line) if error.line else None
        problems.append(bp.problem(bp.XSD, element_id=element, line=error.line or None,
                                   element=_label(names, element) if element else f"line {error.line}",
                                   detail=bp.clean(error.message)))
    return problems


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
        raise ParseFailed([bp.problem(bp.DTD, message=_NO_DTD)])
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        tree = etree.fromstring(xml, parser)
    except etree.XMLSyntaxError as exc:
        raise ParseFailed([bp.problem(bp.MALFORMED, line=exc.lineno, detail=bp.clean(exc.msg),
                                      message=f"malformed XML: {exc.msg}")]) from None
    except ValueError as exc:  # lxml refuses some inputs (an encoding declaration it cannot honour) so
        raise ParseFailed([bp.problem(bp.MALFORMED, line=1, detail=bp.clean(exc), message=f"malformed XML: {exc}")]
                          ) from None
    info = tree.getroottree().docinfo
    if info.doctype or info.internalDTD is not None:
        raise ParseFailed([bp.problem(bp.DTD, message=_NO_DTD)])
    return tree


#: The longest process id a version may have (``process_definitions.key``).
MAX_PROCESS_ID = 200


def _structure_problems(tree: Any) -> list[DefinitionProblem]:
    """Ids used twice, and sequence flows whose ends are missing (SpiffWorkflow would mislabel or accept them)."""
    if tree.tag != f"{_BPMN}definitions":
        return [bp.problem(bp.NOT_BPMN, tag=bp.clean(_cut(str(tree.tag))),
                           message=f"the file's root element is {_cut(str(tree.tag))}, not bpmn:definitions "
                                   f"({_BPMN[1:-1]})")]
    problems: list[DefinitionProblem] = []
    for process in tree.iter(f"{_BPMN}process"):
        ident = process.get("id") or ""
        if len(ident) > MAX_PROCESS_ID:  # a version's key is kept in a column of that width
            problems.append(bp.problem(bp.KEY_TOO_LONG, element_id=ident, ident=_cut(ident), count=len(ident),
                                       limit=MAX_PROCESS_ID))
    lines: dict[str, list[int]] = {}
    for node in tree.iter():
        # Only BPMN's own elements: an extension (a service operator, its parameters) uses id for a name.
        if isinstance(node.tag, str) and node.tag.startswith(_BPMN_NAMESPACES) and node.get("id"):
            lines.setdefault(str(node.get("id")), []).append(node.sourceline or 0)
    for element_id, where in lines.items():
        if len(where) > 1:
            problems.append(bp.problem(
                bp.DUPLICATE_ID, element_id=element_id, line=where[1] or None, ident=_cut(element_id),
                count=len(where), lines=where,
                message=f"the id '{element_id}' is given to {len(where)} elements (lines "
                        f"{', '.join(str(line) for line in where)}); each id must be unique in the file"))
    problems.extend(_no_id(node) for node in tree.iter()
                    if (_is_flow_element(node) or node.tag == f"{_BPMN}process") and not node.get("id"))
    siblings_of: dict[Any, set[str | None]] = {}  # per container, read once (a flow per element is common)
    for flow in tree.iter(f"{_BPMN}sequenceFlow"):
        flow_id = flow.get("id") or "?"
        container = flow.getparent()
        siblings = siblings_of.get(container)
        if siblings is None:
            siblings = siblings_of[container] = {child.get("id") for child in container if isinstance(child.tag, str)}
        label = _cut(flow.get("name") or flow_id)
        scope = f"{etree.QName(container).localname} '{container.get('id') or '?'}'"
        for attribute, end, verb in (("sourceRef", "source", "comes from"), ("targetRef", "target", "goes to")):
            ref = flow.get(attribute)
            if not ref:
                problems.append(bp.problem(
                    bp.FLOW_NO_END, element_id=flow_id, line=flow.sourceline, element=label, end=end,
                    message=f"sequence flow '{flow_id}' has no {attribute} (the element it {verb})"))
            elif ref not in siblings or ref == flow_id:
                problems.append(bp.problem(
                    bp.FLOW_DANGLING, element_id=flow_id, line=flow.sourceline, element=label, end=end, ref=_cut(ref),
                    message=f"sequence flow '{flow_id}' {verb} '{_cut(ref)}', which is not an element of {scope}"))
    return problems


def limit_problems(xml: bytes, limits: DefinitionLimits) -> list[DefinitionProblem]:
    """What in ``xml`` is past ``limits``, read before SpiffWorkflow parses anything.

    A process with too many elements, an element with too many outgoing flows, a multi-instance
    with too large a literal cardinality: a huge diagram is refused in milliseconds.

    Raises:
        ParseFailed: a DTD or entity, or malformed XML (with its line).
    """
    tree = _read_xml(xml)
    names = _names(tree)
    problems: list[DefinitionProblem] = []
    for process in tree.iter(f"{_BPMN}process"):
        elements = sum(1 for node in process.iter() if _is_flow_element(node))
        if elements > limits.max_elements:
            problems.append(bp.problem(
                bp.TOO_MANY_ELEMENTS, element_id=process.get("id"),
                element=_cut(process.get("name") or process.get("id") or "?"), count=elements,
                limit=limits.max_elements,
                message=f"process '{_cut(process.get('id') or '?')}' has {elements} elements (flow nodes and sequence "
                        f"flows); at most {limits.max_elements} are allowed (engine.max_process_elements): split it "
                        "into smaller processes"))
    leaving = Counter((flow.getparent(), flow.get("sourceRef")) for flow in tree.iter(f"{_BPMN}sequenceFlow"))
    for (_container, source), count in leaving.items():
        if count > limits.max_branches and source:
            problems.append(bp.problem(
                bp.TOO_MANY_BRANCHES, element_id=source, element=_label(names, source), count=count,
                limit=limits.max_branches,
                message=f"{count} sequence flows leave '{_cut(source)}'; at most {limits.max_branches} branches may "
                        "leave one element (engine.max_branches)"))
    for container in (*tree.iter(f"{_BPMN}process"), *tree.iter(f"{_BPMN}subProcess")):
        following, undecided = _flow_graph(container)
        looping = _endless_loop(undecided)
        if looping is not None:
            problems.append(bp.problem(
                bp.ENDLESS_LOOP, element_id=looping, element=_label(names, looping),
                message=f"the flows from '{_cut(looping)}' lead back to it with nothing to decide whether to go round "
                        "again (an exclusive, inclusive or event-based gateway, or a condition): the case would loop "
                        "for ever"))
        length, first = _longest_path(following)
        if length > MAX_PATH:
            problems.append(bp.problem(
                bp.PATH_TOO_LONG, element_id=first, element=_label(names, first), count=length, limit=MAX_PATH,
                message=f"a path of {length} elements one after another starts at '{_cut(first)}'; the engine "
                        f"follows a path by recursion and takes at most {MAX_PATH} elements in a row: make it "
                        "shorter"))
    for cardinality in tree.iter(f"{_BPMN}loopCardinality"):
        text = (cardinality.text or "").strip()
        if text.isdigit() and int(text) > limits.max_branches:
            owner = cardinality.getparent().getparent()
            element = owner.get("id") if owner is not None else None
            problems.append(bp.problem(
                bp.TOO_MANY_INSTANCES, element_id=element, element=_label(names, element), count=_cut(text),
                limit=limits.max_branches,
                message=f"the multi-instance loopCardinality is {_cut(text)}; at most {limits.max_branches} "
                        "instances are allowed (engine.max_branches)"))
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
    return bp.problem(bp.NO_ID, line=node.sourceline, kind=etree.QName(node).localname,
                      message=f"the {etree.QName(node).localname} on line {node.sourceline} has no id")


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


#: SpiffWorkflow's refusals, each put in the owner's words: (pattern, code, parameters from the match).
_SPIFF_REFUSALS: list[tuple[re.Pattern[str], str, Callable[[re.Match[str]], dict[str, Any]]]] = [
    (re.compile(r"No start event found"), bp.NO_START, lambda m: {}),
    (re.compile(r"Exactly one start event is required in a SubWorkflow Task; found (\d+)"), bp.SUBPROCESS_STARTS,
     lambda m: {"count": int(m.group(1))}),
    (re.compile(r"A SubWorkflow Must contain an End event"), bp.SUBPROCESS_NO_END, lambda m: {}),
    (re.compile(r'No "calledElement" attribute'), bp.CALL_NO_TARGET, lambda m: {}),
    (re.compile(r"The process '(.*?)' was not found"), bp.CALL_UNKNOWN, lambda m: {"ident": _cut(m.group(1))}),
    (re.compile(r"Cannot resolve data(?:Input|Output)Association"), bp.DATA_UNRESOLVED, lambda m: {}),
    (re.compile(r"Data Store with name (.*) has no implementation", re.S), bp.DATA_STORE, lambda m: {}),
    (re.compile(r"Data Store (?:identifier|name) is missing"), bp.MISSING_IDENTIFIER, lambda m: {"kind": "data store"}),
    (re.compile(r"(Message|Signal|Error|Escalation|Correlation) identifier is missing"), bp.MISSING_IDENTIFIER,
     lambda m: {"kind": m.group(1).lower()}),
    (re.compile(r"There is no support implemented for this task type"), bp.UNSUPPORTED, lambda m: {}),
    (re.compile(r"Non-default exclusive outgoing sequence flow without condition"), bp.FLOW_NO_CONDITION,
     lambda m: {}),
    (re.compile(r"Invalid Script Task"), bp.SCRIPT_MISSING, lambda m: {}),
    (re.compile(r"Multiple outgoing flows are not supported"), bp.MANY_OUTGOING, lambda m: {}),
    (re.compile(r"Unknown Time Specification"), bp.TIMER_UNKNOWN, lambda m: {}),
    (re.compile(r"Time Specification Error\. (.*)", re.S), bp.TIMER_SPEC, lambda m: {"detail": bp.clean(m.group(1))}),
    (re.compile(r"Could not find messageRef"), bp.MESSAGE_REF, lambda m: {}),
    (re.compile(r"Conditional event definition with missing condition"), bp.CONDITIONAL_EMPTY, lambda m: {}),
    (re.compile(r"Sequential ordering for ad hoc"), bp.ADHOC_SEQUENTIAL, lambda m: {}),
    (re.compile(r"Ad hoc subprocesses may not contain start or end events"), bp.ADHOC_START_END, lambda m: {}),
    (re.compile(r"Duplicate process ID: (.*)"), bp.DUPLICATE_PROCESS, lambda m: {"ident": _cut(m.group(1))}),
    (re.compile(r"A Service Task must have an operator"), bp.SERVICE_NO_HANDLER, lambda m: {}),
    # a messageRef, signalRef, errorRef or escalationRef to nothing (SpiffWorkflow then fails on its own call)
    (re.compile(r"Expected an? (?:Message|Signal|Error|Escalation) node|raise_validation_exception\(\) got an "
                r"unexpected keyword argument", re.I), bp.EVENT_REF, lambda m: {}),
    (re.compile(r"Unsupported Catch Event"), bp.CATCH_NOTHING, lambda m: {}),
    (re.compile(r'No DMN Diagram available with id "(.*?)"'), bp.NO_DECISION, lambda m: {"ident": _cut(m.group(1))}),
    (re.compile(r"A multiinstance task must specify"), bp.INSTANCES_UNSAID, lambda m: {}),
    (re.compile(r"A loopMaximum or loopCondition must be specified"), bp.LOOP_NO_LIMIT, lambda m: {}),
    (re.compile(r"Cancel Events may only be used with transactions"), bp.CANCEL_OUTSIDE, lambda m: {}),
]
#: ``%r`` of an exception, as SpiffWorkflow wraps a failure while parsing one element.
_WRAPPED = re.compile(r"^\w+\((['\"])(.*)\1\)$", re.S)


def _problem_from_spiff(exc: BaseException, tree: Any, names: Mapping[str, str],
                        services: Iterable[str] | None) -> DefinitionProblem:
    """A SpiffWorkflow refusal as a problem in the owner's words, on its element."""
    if isinstance(exc, RecursionError) or isinstance(exc.__context__, RecursionError):
        return bp.problem(bp.TOO_DEEP, message=_TOO_DEEP)
    message = str(exc.args[0]) if exc.args else str(exc)
    if message.startswith("RecursionError"):
        return bp.problem(bp.TOO_DEEP, message=_TOO_DEEP)
    wrapped = _WRAPPED.match(message.strip())
    if wrapped:
        message = wrapped.group(2)
    number = getattr(exc, "line_number", None)
    line = number if isinstance(number, int) and number > 0 else None
    element_id = getattr(exc, "id", None) or (_element_at_line(tree, line) if line else None)
    for pattern, code, params_of in _SPIFF_REFUSALS:
        found = pattern.search(message)
        if found is None:
            continue
        params = params_of(found)
        if code == bp.DATA_STORE:
            wanted = " ".join(found.group(1).split())
            stores = [s for s in tree.iter(f"{_BPMN}dataStore") if " ".join((s.get("name") or "").split()) == wanted]
            element_id = str(stores[0].get("id")) if stores and stores[0].get("id") else element_id
        if code == bp.CALL_UNKNOWN and element_id is None:
            calls = [c for c in tree.iter(f"{_BPMN}callActivity") if c.get("calledElement") == found.group(1)]
            element_id = str(calls[0].get("id")) if calls and calls[0].get("id") else None
        if code == bp.DATA_UNRESOLVED:
            params["ref"] = _unresolved_data(tree, element_id)
        if code == bp.UNSUPPORTED:
            node = _node(tree, element_id)
            params["kind"] = etree.QName(node).localname if node is not None else "?"
        if code == bp.SERVICE_NO_HANDLER:
            params["handlers"] = sorted(services) if services is not None else []
        if "element" in CODES[code]:
            params["element"] = _label(names, element_id)
        return bp.problem(code, element_id=element_id, line=line, **params)
    return bp.problem(bp.REFUSED, element_id=element_id, line=line, element=_label(names, element_id),
                      detail=bp.clean(message))


def _node(tree: Any, element_id: str | None) -> Any:
    if not element_id:
        return None
    found = tree.xpath("//*[@id=$ident]", ident=element_id)
    return found[0] if found else None


def _unresolved_data(tree: Any, element_id: str | None) -> str:
    """The data references of ``element_id`` that name nothing drawn in the file."""
    node = _node(tree, element_id)
    if node is None:
        return "?"
    ids = {str(n.get("id")) for n in tree.iter() if isinstance(n.tag, str) and n.get("id")}
    refs = [(ref.text or "").strip() for ref in node.xpath(
        "./bpmn:dataInputAssociation/bpmn:sourceRef | ./bpmn:dataOutputAssociation/bpmn:targetRef",
        namespaces={"bpmn": _BPMN[1:-1]})]
    missing = [ref for ref in refs if ref and ref not in ids] or refs
    return _cut(", ".join(missing)) or "?"


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

    ``property_lint`` checks the extension properties of each task (the SLA expressions, the
    forms); ``services`` are the handlers a service task may call (None: not checked). A user
    task in no lane of a process drawn with lanes is a warning.
    """
    problems: list[DefinitionProblem] = []
    seen: set[int] = set()
    names = process.element_names()
    for each in [process.spec, *process.subprocess_specs.values()]:
        for task_spec in each.task_specs.values():
            if id(task_spec) in seen:
                continue
            seen.add(id(task_spec))
            element = getattr(task_spec, "bpmn_id", None) or task_spec.name
            label = _cut(" ".join(str(getattr(task_spec, "bpmn_name", None) or "").split()) or str(element))
            problems.extend(_lint_task_spec(task_spec, element, label, names))
            operation = getattr(task_spec, "operation_name", None)
            if services is not None and operation and operation != _NO_HANDLER and operation not in services:
                problems.append(bp.problem(bp.UNKNOWN_HANDLER, element_id=element, element=label,
                                           handler=_cut(str(operation)), handlers=sorted(services)))
            if process.lanes and getattr(task_spec, "lane", None) is None and _is_user_task(task_spec):
                problems.append(bp.problem(bp.USER_TASK_NO_LANE, element_id=element, severity="warning",
                                           element=label))
            properties = (getattr(task_spec, "extensions", None) or {}).get("properties") or {}
            if property_lint is not None and properties:
                problems.extend(_property_problem(found, element, label) for found in property_lint(properties))
    return problems


def _is_user_task(task_spec: Any) -> bool:
    return any(kind.__name__ == "UserTask" for kind in type(task_spec).__mro__)


def _property_problem(found: Any, element: str, label: str) -> DefinitionProblem:
    """A property lint's finding on ``element``: its own problem, or English text kept as a detail."""
    if isinstance(found, DefinitionProblem):
        found.element_id = found.element_id or element
        if "element" in CODES.get(found.code, ()) and "element" not in found.params:
            made = found.message == bp.problem(found.code, **found.params).message  # not a sentence of its own
            found.params["element"] = label
            if made:
                found.message = bp.problem(found.code, **found.params).message
        return found
    return bp.problem(bp.PROPERTY, element_id=element, element=label, detail=bp.clean(found))


_SCRIPTS = (("script", "script"), ("prescript", "pre-script"), ("postscript", "post-script"))
_EXPRESSIONS = (("condition", "condition"), ("cardinality", "number of instances"),
                ("completion_condition", "completion condition"))


def _lint_task_spec(task_spec: Any, element: str, label: str, names: Mapping[str, str]
                    ) -> Iterator[DefinitionProblem]:
    for attr, which in _SCRIPTS:
        source = getattr(task_spec, attr, None)
        if isinstance(source, str) and source.strip():
            error = check_script(source)
            if error:
                yield bp.problem(bp.SCRIPT_REFUSED, element_id=element, element=label, which=which,
                                 detail=bp.clean(error), message=f"{which} refused: {error}")
    for condition, target in getattr(task_spec, "cond_task_specs", None) or []:
        if condition is None:
            continue
        # SpiffWorkflow wraps the expression in an operator object; the text is its first arg.
        condition = condition.args[0] if hasattr(condition, "args") and condition.args else condition
        if not isinstance(condition, str):
            continue
        error = check_expression(condition)
        if error:
            yield bp.problem(bp.CONDITION_REFUSED, element_id=element, element=label,
                             target=_label(names, getattr(target, "bpmn_id", None) or target),
                             detail=bp.clean(error), message=f"condition of the flow to '{target}' refused: {error}")
    for attr, which in _EXPRESSIONS:
        source = getattr(task_spec, attr, None)
        if isinstance(source, str) and source.strip():
            error = check_expression(source)
            if error:
                yield bp.problem(bp.EXPRESSION_REFUSED, element_id=element, element=label, which=which,
                                 detail=bp.clean(error), message=f"{attr.replace('_', ' ')} refused: {error}")
    for name, param in (getattr(task_spec, "operation_params", None) or {}).items():
        source = param.get("value") if isinstance(param, dict) else None
        if isinstance(source, str) and source.strip():
            error = check_expression(source)
            if error:
                yield bp.problem(bp.PARAMETER_REFUSED, element_id=element, element=label, name=_cut(str(name)),
                                 detail=bp.clean(error), message=f"parameter '{name}' refused: {error}")
    event = getattr(task_spec, "event_definition", None)
    if is_cycle(event) and not _may_repeat(task_spec):
        yield bp.problem(bp.CYCLE_HERE, element_id=element, element=label,
                         message="a timer cycle repeats, which BPMN allows only on a start event or a boundary event; "
                                 "on this event use a duration (PT1H) or a date-time")
    elif is_timer(event):
        yield from _lint_timer(event, element, label)


def _may_repeat(task_spec: Any) -> bool:
    """Whether a timer cycle has a meaning on ``task_spec``: a start event or a boundary event."""
    return any(kind.__name__ in ("StartEvent", "BoundaryEvent") for kind in type(task_spec).__mro__)


#: `value_issue`'s verdicts as problem codes.
_TIMER_ISSUES = {"not_text": bp.TIMER_NOT_TEXT, "not_iso": bp.TIMER_VALUE, "too_far": bp.TIMER_TOO_FAR,
                 "too_short": bp.CYCLE_TOO_SHORT}


def _lint_timer(event: Any, element: str, label: str) -> Iterator[DefinitionProblem]:
    """A timer written as ISO text (``P7D``, quoted by `quote_literal_timers`) or as an expression."""
    expression = (event.expression or "").strip()
    if not expression:
        yield bp.problem(bp.TIMER_EMPTY, element_id=element, element=label, message="timer has no expression")
        return
    error = check_expression(expression)
    if error:
        yield bp.problem(bp.TIMER_REFUSED, element_id=element, element=label, detail=bp.clean(error),
                         message=f"timer expression refused: {error}")
        return
    # A literal can be checked now rather than when the timer starts.
    try:
        literal = ast.literal_eval(expression)
    except (ValueError, SyntaxError):
        return
    issue = value_issue(event, literal)
    if issue is not None:
        verdict, params, message = issue
        yield bp.problem(_TIMER_ISSUES[verdict], element_id=element, element=label, message=message, **params)
