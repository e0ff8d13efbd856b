"""The problems a BPMN file can have, each a code with its parameters and an English sentence.

`engine.definitions.check_definition` returns them; ``web/refusals.py`` words every code in the
page's language (a test fails for a code without wording). The English ``message`` is what the
CLI and the API show. Sentences speak of what the process owner drew — a task, a flow, a
subprocess — never of the engine's insides; ``element`` is the element's drawn name (its id when
it has none); ``detail`` is a technical text kept apart from the sentence.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from engine.errors import CODES, DefinitionProblem, error_code

#: code -> English sentence (``str.format`` over the parameters; a list is joined with commas).
ENGLISH: dict[str, str] = {}


def _code(name: str, english: str, *params: str) -> str:
    ENGLISH[name] = english
    return error_code(name, *params)


# -- the file ---------------------------------------------------------------------------------
TOO_LARGE = _code("bpmn_too_large", "the file is {kb} KB; at most {limit} KB is allowed", "kb", "limit")
NOT_UTF8 = _code("bpmn_not_utf8", "the file is not UTF-8 text ({detail}); save it as UTF-8", "detail")
DTD = _code("bpmn_dtd", "the file declares a DTD or entities, which are not allowed: remove the DOCTYPE")
MALFORMED = _code("bpmn_malformed", "the file is not well-formed XML at line {line}: {detail}", "line", "detail")
NOT_BPMN = _code("bpmn_not_bpmn", "the file is not a BPMN 2.0 diagram: its root element is {tag}, not "
                 "bpmn:definitions", "tag")
XSD = _code("bpmn_xsd", "«{element}» does not follow the BPMN 2.0 standard: {detail}", "element", "detail")
DUPLICATE_ID = _code("bpmn_duplicate_id", "the id {ident} is given to {count} elements (lines {lines}); each id "
                     "must be unique", "ident", "count", "lines")
NO_ID = _code("bpmn_no_id", "the {kind} on line {line} has no id: give it one", "kind", "line")
FLOW_NO_END = _code("bpmn_flow_no_end", "the flow «{element}» has no {end}: connect both of its ends",
                    "element", "end")
FLOW_DANGLING = _code("bpmn_flow_dangling", "the flow «{element}» has its {end} on {ref}, which is not in the same "
                      "process or subprocess: reconnect it", "element", "end", "ref")
TOO_MANY_ELEMENTS = _code("bpmn_too_many_elements", "the process «{element}» has {count} elements; at most {limit} "
                          "are allowed: split it into smaller processes", "element", "count", "limit")
TOO_MANY_BRANCHES = _code("bpmn_too_many_branches", "{count} flows leave «{element}»; at most {limit} may leave one "
                          "element", "element", "count", "limit")
ENDLESS_LOOP = _code("bpmn_endless_loop", "the flows from «{element}» lead back to it with nothing deciding "
                     "whether to go round again (a gateway or a condition): the case would loop for ever", "element")
PATH_TOO_LONG = _code("bpmn_path_too_long", "a path of {count} elements one after another starts at «{element}»; "
                      "at most {limit} may follow one another: make it shorter or use subprocesses",
                      "element", "count", "limit")
TOO_MANY_INSTANCES = _code("bpmn_too_many_instances", "«{element}» repeats {count} times; at most {limit} "
                           "instances are allowed", "element", "count", "limit")
TOO_DEEP = _code("bpmn_too_deep", "the diagram is too deep to read (a path of several hundred elements): split it "
                 "into subprocesses or call activities")
ID_CLASH = _code("bpmn_id_clash", "the id {ident} names both an element and a service task's handler: give the "
                 "element another id", "ident")
# -- processes --------------------------------------------------------------------------------
NOT_EXECUTABLE = _code("bpmn_not_executable", "no process in this file is marked executable: tick 'executable' on "
                       "the process {processes}", "processes")
NO_PROCESS = _code("bpmn_no_process", "the file holds no process to run: draw one (a pool with a start event)")
KEY_TOO_LONG = _code("bpmn_key_too_long", "the process id {ident} has {count} characters; a process id may have at "
                     "most {limit}: give it a shorter one", "ident", "count", "limit")
DUPLICATE_PROCESS = _code("bpmn_duplicate_process", "two processes have the id {ident}: give one another id", "ident")
NO_START = _code("bpmn_no_start", "the process «{element}» has no start event: add one", "element")
SUBPROCESS_STARTS = _code("bpmn_subprocess_starts", "the subprocess «{element}» must begin with exactly one start "
                          "event; it has {count}", "element", "count")
SUBPROCESS_NO_END = _code("bpmn_subprocess_no_end", "the subprocess «{element}» has no end event: add one", "element")
# -- tasks ------------------------------------------------------------------------------------
SERVICE_NO_HANDLER = _code("bpmn_service_no_handler", "the service task «{element}» calls no handler: choose one "
                           "of {handlers}", "element", "handlers")
UNKNOWN_HANDLER = _code("bpmn_unknown_handler", "the service task «{element}» calls {handler}, which is not a "
                        "handler: choose one of {handlers}", "element", "handler", "handlers")
CALL_NO_TARGET = _code("bpmn_call_no_target", "the call activity «{element}» calls no process: choose the process it "
                       "calls", "element")
CALL_UNKNOWN = _code("bpmn_call_unknown", "«{element}» calls the process {ident}, which is not in this file",
                     "element", "ident")
DATA_UNRESOLVED = _code("bpmn_data_unresolved", "«{element}» reads or writes the data {ref}, which is not drawn in "
                        "this process: connect it to a data object of the process", "element", "ref")
DATA_STORE = _code("bpmn_data_store", "the data store «{element}» is not one the engine keeps: remove it, or keep "
                   "the data in the case", "element")
UNSUPPORTED = _code("bpmn_unsupported", "«{element}» is a {kind}, which cases cannot run: use another kind of "
                    "element", "element", "kind")
FLOW_NO_CONDITION = _code("bpmn_flow_no_condition", "the flow «{element}» leaves a gateway that chooses one way but "
                          "has no condition: give it a condition or make it the default flow", "element")
MANY_OUTGOING = _code("bpmn_many_outgoing", "more than one flow leaves «{element}»: let one flow leave it and "
                      "choose between the ways with a gateway after it", "element")
EVENT_REF = _code("bpmn_event_ref", "the event «{element}» refers to a message, signal, error or escalation the file "
                  "does not define: choose one of the file's", "element")
CATCH_NOTHING = _code("bpmn_catch_nothing", "the event «{element}» on a task's border waits for nothing: say what it "
                      "waits for (a timer, a message, an error...)", "element")
NO_DECISION = _code("bpmn_no_decision", "the business rule task «{element}» uses a decision table ({ident}) the "
                    "system does not have: decide with a script task or a gateway instead", "element", "ident")
INSTANCES_UNSAID = _code("bpmn_instances_unsaid", "the repeated task «{element}» must say either how many times it "
                         "repeats or the list it repeats over, not both or neither", "element")
LOOP_NO_LIMIT = _code("bpmn_loop_no_limit", "the looping task «{element}» must say when it stops (a maximum or a "
                      "condition)", "element")
CANCEL_OUTSIDE = _code("bpmn_cancel_outside", "the cancel event «{element}» may only be used in a transaction "
                       "subprocess", "element")
SCRIPT_MISSING = _code("bpmn_script_missing", "the script task «{element}» has no script: write one", "element")
TIMER_UNKNOWN = _code("bpmn_timer_unknown", "the timer «{element}» says neither when, after how long, nor how often "
                      "it fires: give it a date, a duration or a cycle", "element")
TIMER_SPEC = _code("bpmn_timer_spec", "the timer «{element}» cannot be read: {detail}", "element", "detail")
MESSAGE_REF = _code("bpmn_message_ref", "the message event «{element}» names no message: choose one", "element")
MISSING_IDENTIFIER = _code("bpmn_missing_identifier", "a {kind} of the file has no id: give it one", "kind")
CONDITIONAL_EMPTY = _code("bpmn_conditional_empty", "the conditional event «{element}» has no condition: write one",
                          "element")
ADHOC_SEQUENTIAL = _code("bpmn_adhoc_sequential", "the ad hoc subprocess «{element}» is ordered one after another, "
                         "which cases cannot run: make it parallel", "element")
ADHOC_START_END = _code("bpmn_adhoc_start_end", "the ad hoc subprocess «{element}» may hold neither a start nor an "
                        "end event: remove them", "element")
USER_TASK_NO_LANE = _code("bpmn_user_task_no_lane", "the user task «{element}» is in no lane, so every member of "
                          "staff will see it: put it in the lane of the team that does it", "element")
REFUSED = _code("bpmn_refused", "«{element}» cannot be run as drawn: {detail}", "element", "detail")
UNEXPECTED = _code("bpmn_unexpected", "the file could not be checked: {detail}", "detail")
# -- scripts, conditions and expressions ------------------------------------------------------
SCRIPT_REFUSED = _code("bpmn_script_refused", "the {which} of «{element}» is refused: {detail}",
                       "element", "which", "detail")
CONDITION_REFUSED = _code("bpmn_condition_refused", "the condition of the flow from «{element}» to «{target}» is "
                          "refused: {detail}", "element", "target", "detail")
EXPRESSION_REFUSED = _code("bpmn_expression_refused", "the {which} of «{element}» is refused: {detail}",
                           "element", "which", "detail")
PARAMETER_REFUSED = _code("bpmn_parameter_refused", "the parameter {name} of «{element}» is refused: {detail}",
                          "element", "name", "detail")
# -- timers -----------------------------------------------------------------------------------
CYCLE_HERE = _code("bpmn_cycle_here", "the timer «{element}» repeats, which only a start event or a timer on a "
                   "task's border may do: give it a duration (PT1H) or a date", "element")
TIMER_EMPTY = _code("bpmn_timer_empty", "the timer «{element}» has no value: give it a date, a duration or a cycle",
                    "element")
TIMER_REFUSED = _code("bpmn_timer_refused", "the timer expression of «{element}» is refused: {detail}",
                      "element", "detail")
TIMER_NOT_TEXT = _code("bpmn_timer_not_text", "the timer of «{element}» gives {value}, not a date, a duration or a "
                       "cycle", "element", "value")
TIMER_VALUE = _code("bpmn_timer_value", "the timer of «{element}» has {value}, which is not a {kind} (write it like "
                    "{example})", "element", "value", "kind")
TIMER_TOO_FAR = _code("bpmn_timer_too_far", "the timer of «{element}» has {value}: it would fire after the year "
                      "9999", "element", "value")
CYCLE_TOO_SHORT = _code("bpmn_cycle_too_short", "the timer of «{element}» repeats every {count} seconds; it may "
                        "repeat at most once a minute", "element", "value", "count")
START_TIMER = _code("bpmn_start_timer", "the timer start event «{element}» cannot be planned: {detail}",
                    "element", "detail")
# -- task properties --------------------------------------------------------------------------
SLA_REFUSED = _code("bpmn_sla_refused", "the {which} of «{element}» is refused: {detail}", "element", "which", "detail")
SLA_ESCALATION = _code("bpmn_sla_escalation", "the escalation of «{element}» must read “expression => team”, not "
                       "{value}", "element", "value")
SLA_VALUE = _code("bpmn_sla_value", "the {which} of «{element}» has {value}, which is not a duration or a date",
                  "element", "which", "value")
FORM_MISSING = _code("bpmn_form_missing", "the form {form} of «{element}» cannot be used: {detail}",
                     "element", "form", "detail")
PROPERTY = _code("bpmn_property", "a property of «{element}» is refused: {detail}", "element", "detail")

#: The example each kind of timer value is written like.
EXAMPLES = {"duration": "P10D", "cycle": "R3/PT1H", "date": "2026-12-01T08:00:00+03:00"}

_REPR = re.compile(r"<[^<>]*? at 0x[0-9a-fA-F]+>")
_NAMESPACE = re.compile(r"\{([^}]+)\}")
_PREFIXES = {"http://www.omg.org/spec/BPMN/20100524/MODEL": "bpmn",
             "http://spiffworkflow.org/bpmn/schema/1.0/core": "spiffworkflow"}


def clean(text: Any, limit: int = 300) -> str:
    """A technical text fit to show, on one line and cut short.

    Without Python reprs (``<Element ... at 0x...>``), namespaces written as prefixes.
    """
    shown = _REPR.sub("…", str(text))
    shown = _NAMESPACE.sub(lambda m: _PREFIXES.get(m.group(1), m.group(1)) + ":", shown)
    shown = " ".join(shown.split())
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def _english(code: str, params: Mapping[str, Any]) -> str:
    shown = {key: ", ".join(map(str, value)) if isinstance(value, list | tuple) else value
             for key, value in params.items()}
    if code == TIMER_VALUE:
        shown["example"] = EXAMPLES.get(str(params.get("kind")), EXAMPLES["duration"])
    return ENGLISH[code].format_map(_Missing(shown))


class _Missing(dict):  # type: ignore[type-arg]
    def __missing__(self, key: str) -> str:
        return "?"


def problem(code: str, element_id: str | None = None, line: int | None = None, severity: str = "error",
            message: str | None = None, **params: Any) -> DefinitionProblem:
    """A problem of ``code`` on ``element_id`` with ``params``.

    Its English ``message`` is made from them unless given: the CLI keeps the technical sentences
    it printed before codes existed (limits named by their setting), pages word the code.
    """
    if "line" in CODES[code]:
        params.setdefault("line", line)
    return DefinitionProblem(message if message is not None else _english(code, params), element_id=element_id,
                             line=line, code=code, params=params, severity=severity)


def errors(problems: list[DefinitionProblem]) -> list[DefinitionProblem]:
    """The problems that refuse a deploy (not the warnings)."""
    return [p for p in problems if p.severity == "error"]
