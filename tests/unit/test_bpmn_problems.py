"""SpiffWorkflow's refusals in the owner's words: each message it can give while parsing maps to a code."""

from __future__ import annotations

import pytest
from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException

from engine import bpmn_problems as bp
from engine.spiff.parse import _names, _problem_from_spiff

TREE = etree.fromstring(
    b'<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">'
    b'<bpmn:process id="p" name="Intake"><bpmn:serviceTask id="send" name="Send the letter"/>'
    b'<bpmn:dataStore id="ds" name="Data\n  Store"/></bpmn:process></bpmn:definitions>')


def _refusal(message: str, element: str | None = "send") -> bp.DefinitionProblem:
    exc = ValidationException(message)
    exc.id = element
    return _problem_from_spiff(exc, TREE, _names(TREE), ["notify_member", "set_status"])


@pytest.mark.parametrize("message, code", [
    ("No start event found", bp.NO_START),
    ("Exactly one start event is required in a SubWorkflow Task; found 0.", bp.SUBPROCESS_STARTS),
    ("A SubWorkflow Must contain an End event", bp.SUBPROCESS_NO_END),
    ('No "calledElement" attribute for Call Activity.', bp.CALL_NO_TARGET),
    ("The process 'billing' was not found. Did you mean one of the following: p?", bp.CALL_UNKNOWN),
    ("Cannot resolve dataInputAssociation <Element {urn:x}sourceRef at 0x7f3a2b1c0d80>", bp.DATA_UNRESOLVED),
    ("Data Store with name Data\n  Store has no implementation", bp.DATA_STORE),
    ("Signal identifier is missing from bpmn xml", bp.MISSING_IDENTIFIER),
    ("There is no support implemented for this task type.", bp.UNSUPPORTED),
    ("Non-default exclusive outgoing sequence flow without condition", bp.FLOW_NO_CONDITION),
    ("Multiple outgoing flows are not supported for tasks of type", bp.MANY_OUTGOING),
    ("Invalid Script Task.  No Script Provided. ", bp.SCRIPT_MISSING),
    ("Unknown Time Specification", bp.TIMER_UNKNOWN),
    ("Time Specification Error. bad value", bp.TIMER_SPEC),
    ("Could not find messageRef from message event definition: m1", bp.MESSAGE_REF),
    ("Conditional event definition with missing condition", bp.CONDITIONAL_EMPTY),
    ("Sequential ordering for ad hoc subprocesses not supported", bp.ADHOC_SEQUENTIAL),
    ("Ad hoc subprocesses may not contain start or end events", bp.ADHOC_START_END),
    ("Duplicate process ID: p", bp.DUPLICATE_PROCESS),
    ("A Service Task must have an operator", bp.SERVICE_NO_HANDLER),
    ("TypeError(\"NodeParser.raise_validation_exception() got an unexpected keyword argument 'node'\")",
     bp.EVENT_REF),
    ("NotImplementedError('Unsupported Catch Event: %r', b'<bpmn:boundaryEvent/>')", bp.CATCH_NOTHING),
    ('No DMN Diagram available with id "decide", Available DMN ids are: ', bp.NO_DECISION),
    ("A multiinstance task must specify a cardinality or a loop input data reference", bp.INSTANCES_UNSAID),
    ("A loopMaximum or loopCondition must be specified for Loop Tasks", bp.LOOP_NO_LIMIT),
    ("Cancel Events may only be used with transactions", bp.CANCEL_OUTSIDE),
    ("RecursionError('maximum recursion depth exceeded')", bp.TOO_DEEP),
])
def test_each_refusal_spiffworkflow_gives_has_its_code(message, code):
    found = _refusal(message)
    assert found.code == code, found
    assert set(found.params) <= set(bp.CODES[code])
    for word in ("operator", "SubWorkflow", "0x", "<Element", "%r"):
        assert word not in found.message and word not in str(found.params), (word, found.message)


def test_the_service_task_calling_no_handler_is_named_and_the_handlers_listed():
    found = _refusal("A Service Task must have an operator")
    assert found.message == ("the service task «Send the letter» calls no handler: choose one of notify_member, "
                             "set_status")
    assert (found.element_id, found.params["handlers"]) == ("send", ["notify_member", "set_status"])


def test_a_data_store_is_named_by_its_element():
    found = _refusal("Data Store with name Data\n  Store has no implementation", element=None)
    assert (found.element_id, found.params["element"]) == ("ds", "Data Store")


def test_an_unknown_refusal_keeps_its_text_apart_without_a_repr():
    found = _refusal("Something new about <Element {urn:x}thing at 0xdeadbeef01>")
    assert found.code == bp.REFUSED
    assert found.params == {"element": "Send the letter", "detail": "Something new about …"}
    assert found.message == "«Send the letter» cannot be run as drawn: Something new about …"


def test_clean_strips_reprs_and_namespaces():
    assert bp.clean("at <Element {http://www.omg.org/spec/BPMN/20100524/MODEL}task at 0x7f00aa> and "
                    "{http://www.omg.org/spec/BPMN/20100524/MODEL}task") == "at … and bpmn:task"
    assert len(bp.clean("x" * 1000)) == 300
