"""A fuzzer mutating valid BPMN: the deploy either succeeds or refuses the file with the engine's
`InvalidDefinition`, and a diagram that deploys starts without an unexpected exception.

Derandomized (the same 150 diagrams on every run, no example database), so a failure reproduces.
It exercises the parser, not the database: it runs on SQLite only.
"""

from __future__ import annotations

import contextlib
import copy

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from engine.actors import SYSTEM
from engine.commands import start_instance
from engine.definitions import deploy_definition
from engine.errors import Conflict, InvalidDefinition, InvalidInput, ScriptError
from tests.conftest import BPMN_DIR, POSTGRES_URL
from tests.reliability.diagrams import parallel_split, review_loop, script_chain, waiting_task_with_reminder
from tests.support.desk import PROJECT_BPMN_DIR

pytestmark = pytest.mark.skipif(bool(POSTGRES_URL), reason="the parser's fuzzer: one database is enough (SQLite)")

#: What a start of a deployed diagram may raise: a coded refusal with a message. Anything else
#: (a SpiffWorkflow exception, KeyError, RecursionError, ...) fails the test. A case that fails at
#: one of its elements is not an exception: it is stored with the status "error".
ACCEPTED_AT_START = (InvalidInput, Conflict, ScriptError)
STATUSES = {"running", "completed", "error"}

SEEDS = [
    *(path.read_bytes() for path in sorted(PROJECT_BPMN_DIR.glob("*.bpmn"))),
    *((BPMN_DIR / f"{name}.bpmn").read_bytes() for name in ("review", "reminders", "timer_from_data", "scheduled")),
    script_chain("chain", 12),
    parallel_split("split", 4, splits=2),
    review_loop("loop"),
    waiting_task_with_reminder("reminding", '"R/PT1H"'),
]

ODD_TEXT = ["", " ", "\x00", "\ufeff", "\u202e", "\U0001f600", "&amp;", "&#0;", "&#xD800;", "]]>", "<", "'\"",
            "{http://x}y", "a" * 300, "R/PT0S", "P" + "9" * 20 + "D", "1e999", "__import__('os')", "-1", "0"]
ODD_BYTES = [b"\x00", b"\xff\xfe", b"\xed\xa0\x80", b"<", b"&", b"<!DOCTYPE x>", b"<![CDATA[", b"\r", b"\xc3"]
TAGS = ["task", "userTask", "scriptTask", "serviceTask", "parallelGateway", "exclusiveGateway", "inclusiveGateway",
        "eventBasedGateway", "startEvent", "endEvent", "intermediateCatchEvent", "boundaryEvent", "subProcess",
        "callActivity", "sequenceFlow", "timerEventDefinition", "multiInstanceLoopCharacteristics", "process"]
ATTRIBUTES = ["id", "sourceRef", "targetRef", "attachedToRef", "default", "isExecutable", "cancelActivity",
              "calledElement", "triggeredByEvent", "name"]
BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"

# One mutation: (what, index of the element, a choice, a second index, odd text).
_INDEX = st.integers(min_value=0, max_value=10_000)
_TREE_MUTATION = st.tuples(
    st.sampled_from(["drop_attribute", "set_attribute", "swap_refs", "copy_id", "drop_element", "duplicate_element",
                     "move_element", "rename_tag", "set_text"]),
    _INDEX, _INDEX, _INDEX, st.sampled_from(ODD_TEXT))
_BYTE_MUTATION = st.tuples(st.sampled_from(["truncate", "inject_bytes"]), _INDEX, _INDEX, _INDEX, st.just(""))


def _mutate_tree(root, mutation):
    what, at, choice, other, text = mutation
    # The process model's elements (the diagram's shapes only have to pass the XSD).
    elements = [e for e in root.iter() if isinstance(e.tag, str) and e.tag.startswith(BPMN)] or [root]
    element, second = elements[at % len(elements)], elements[other % len(elements)]
    if what == "drop_attribute" and element.attrib:
        del element.attrib[sorted(element.attrib)[choice % len(element.attrib)]]
    elif what == "set_attribute":
        element.set(ATTRIBUTES[choice % len(ATTRIBUTES)], text)
    elif what == "swap_refs" and element.get("sourceRef") is not None:
        source, target = element.get("sourceRef"), element.get("targetRef") or ""
        element.set("sourceRef", target)
        element.set("targetRef", source)
    elif what == "copy_id" and second.get("id"):
        element.set(ATTRIBUTES[choice % 5], second.get("id"))  # an id where a ref belongs, or twice
    elif what == "drop_element" and element.getparent() is not None:
        element.getparent().remove(element)
    elif what == "duplicate_element" and element.getparent() is not None:
        element.addnext(copy.deepcopy(element))
    elif what == "move_element" and element.getparent() is not None and element not in second.iterancestors():
        if element is not second:
            second.append(element)
    elif what == "rename_tag":
        element.tag = BPMN + TAGS[choice % len(TAGS)]
    elif what == "set_text":
        element.text = text


def _mutated(seed: bytes, mutations) -> bytes:
    root = etree.fromstring(seed)
    for mutation in mutations:
        if mutation[0] not in ("truncate", "inject_bytes"):
            # Text XML cannot hold (NUL) is refused by lxml: the byte mutations put it in instead.
            with contextlib.suppress(ValueError):
                _mutate_tree(root, mutation)
    xml = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    for what, at, choice, _, _ in mutations:
        if what == "truncate":
            xml = xml[: at % (len(xml) + 1)]
        elif what == "inject_bytes":
            cut = (at * 97 + choice) % (len(xml) + 1)
            xml = xml[:cut] + ODD_BYTES[choice % len(ODD_BYTES)] + xml[cut:]
    return xml


OUTCOMES: dict[str, int] = {}
_FUZZ = settings(derandomize=True, database=None, max_examples=150, deadline=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def _count(outcome: str) -> None:
    OUTCOMES[outcome] = OUTCOMES.get(outcome, 0) + 1


def _deploy_and_start(engine, xml: bytes) -> None:
    try:
        deployed = engine.run(deploy_definition, SYSTEM, xml, "fuzzed.bpmn")
    except InvalidDefinition as refused:
        assert refused.problems and all(p.message for p in refused.problems)
        assert not any("internal error" in p.message for p in refused.problems)
        _count("refused")
        return
    for deployment in deployed:
        try:
            row = engine.run(start_instance, SYSTEM, deployment.key, version=deployment.version)
        except ACCEPTED_AT_START as coded:
            assert str(coded)
            _count(f"start refused ({type(coded).__name__})")
            continue
        assert row.status in STATUSES
        _count(f"started, {row.status}")


@_FUZZ
@given(seed=st.sampled_from(SEEDS), mutations=st.lists(_TREE_MUTATION, min_size=1, max_size=4))
def test_a_diagram_with_elements_and_attributes_changed_deploys_or_is_refused_and_starts(engine, seed, mutations):
    """Dropped, duplicated, moved and renamed elements; attributes dropped, set to odd text, ids where
    refs belong and refs swapped: each reaches the parser as well-formed XML."""
    _deploy_and_start(engine, _mutated(seed, mutations))


@_FUZZ
@given(seed=st.sampled_from(SEEDS), mutations=st.lists(_BYTE_MUTATION, min_size=1, max_size=3))
def test_a_truncated_or_corrupted_file_deploys_or_is_refused_and_starts(engine, seed, mutations):
    """Cut short, or odd bytes (NUL, a lone surrogate's UTF-8, a DOCTYPE, CDATA) put anywhere."""
    _deploy_and_start(engine, _mutated(seed, mutations))


def test_the_fuzzer_reached_both_outcomes(engine):
    """The runs above (same module, derandomized) both deployed and refused diagrams: they do not
    test one branch only. Run alone, this test runs them first. Printed with pytest -s."""
    if not OUTCOMES:
        test_a_diagram_with_elements_and_attributes_changed_deploys_or_is_refused_and_starts(engine=engine)
        test_a_truncated_or_corrupted_file_deploys_or_is_refused_and_starts(engine=engine)
    print(f"\nfuzzer outcomes: {dict(sorted(OUTCOMES.items()))}")
    assert OUTCOMES.get("refused", 0) > 0
    assert sum(n for outcome, n in OUTCOMES.items() if outcome.startswith("started")) > 0
