"""Deploying definitions: validation, lint, immutable versions, the spec cache."""

import json

import pytest

from engine.actors import SYSTEM
from engine.commands import start_instance
from engine.definitions import deploy_definition, find_definition, list_definitions
from engine.errors import InvalidDefinition, NotFound
from engine.models import AuditEvent, ProcessInstance
from tests.conftest import BPMN_DIR


def _deploy(engine, name, xml=None):
    xml = xml if xml is not None else (BPMN_DIR / f"{name}.bpmn").read_bytes()
    return engine.run(deploy_definition, SYSTEM, xml, f"{name}.bpmn")


def test_deploy_stores_an_immutable_version(engine, clock):
    [result] = _deploy(engine, "review")
    assert result.as_dict() == {"key": "review", "version": 1, "sha256": result.sha256, "created": True}
    [definition] = engine.query(list_definitions)
    assert (definition.key, definition.version, definition.name) == ("review", 1, "Review a request")
    assert definition.deployed_at == clock.now()
    assert definition.deployed_by == "system"
    assert definition.xml == (BPMN_DIR / "review.bpmn").read_text()
    with engine.unit_of_work(readonly=True) as uow:
        audit = uow.session.query(AuditEvent).filter_by(action="deployed").one()
        assert audit.summary["version"] == 1


def test_identical_xml_returns_the_existing_version(engine):
    [first] = _deploy(engine, "review")
    [again] = _deploy(engine, "review")
    assert (again.version, again.created, again.sha256) == (1, False, first.sha256)
    assert len(engine.query(list_definitions)) == 1


def test_changed_xml_makes_a_new_version(engine):
    xml = (BPMN_DIR / "review.bpmn").read_bytes()
    _deploy(engine, "review", xml)
    [second] = _deploy(engine, "review", xml.replace(b"Two weeks", b"Fourteen days"))
    assert (second.version, second.created) == (2, True)
    with engine.unit_of_work(readonly=True) as uow:
        assert find_definition(uow.session, "review").version == 2
        assert find_definition(uow.session, "review", 1).version == 1
        with pytest.raises(NotFound, match=r"no version 7; deployed versions: \[1, 2\]"):
            find_definition(uow.session, "review", 7)
        with pytest.raises(NotFound, match="no process definition with key 'nope'"):
            find_definition(uow.session, "nope")


@pytest.mark.parametrize(
    "name, element, message",
    [
        ("bad_import", "sneaky", "import is not allowed"),
        ("bad_escape", "walker", "__class__"),
        ("bad_syntax", "typo", "SyntaxError"),
        ("bad_condition", "choose", "open() is not available"),
        ("bad_timer_value", "wait_forever", "not an ISO-8601 duration"),
        ("bad_xsd", "odd", "bpmn:unknownThing"),
    ],
)
def test_problems_are_refused_naming_the_element(engine, name, element, message):
    with pytest.raises(InvalidDefinition) as caught:
        _deploy(engine, name)
    assert f"element '{element}'" in str(caught.value)
    assert message in str(caught.value)
    assert any(p.element_id == element for p in caught.value.problems)
    assert engine.query(list_definitions) == []  # nothing half-written


def test_every_problem_of_a_file_is_listed(engine):
    with pytest.raises(InvalidDefinition) as caught:
        _deploy(engine, "bad_condition")
    assert len(caught.value.problems) == 2  # both flows of the gateway


def test_malformed_xml_names_the_line(engine):
    with pytest.raises(InvalidDefinition) as caught:
        _deploy(engine, "malformed")
    [problem] = caught.value.problems
    assert problem.line == 5
    assert "malformed XML" in problem.message
    assert (problem.code, problem.params["line"]) == ("bpmn_malformed", 5)


def test_file_without_executable_process_is_refused(engine):
    with pytest.raises(InvalidDefinition, match="no process in this file is marked executable: tick 'executable' "
                                                 "on the process not_executable"):
        _deploy(engine, "not_executable")


def test_non_utf8_file_is_refused(engine):
    with pytest.raises(InvalidDefinition, match="not UTF-8"):
        _deploy(engine, "latin", "<?xml version='1.0'?><x>\xe9</x>".encode("latin-1"))


def test_a_new_instance_uses_the_cached_spec_and_references_it(engine):
    _deploy(engine, "review")
    parses = engine.specs.parses
    for _ in range(3):
        row = engine.run(start_instance, SYSTEM, "review", data={"request_no": 1})
    assert engine.specs.parses == parses  # no XML parsed again
    with engine.unit_of_work(readonly=True) as uow:
        snapshot = uow.session.get(ProcessInstance, row.id).snapshot
    # the snapshot names its process; it does not embed the spec
    from engine.spiff import decode_snapshot

    text = decode_snapshot(snapshot)
    assert "task_specs" not in text
    assert json.loads(text)["spec"] == "review"
    assert len(snapshot) < len(text) / 2  # stored compressed
    assert decode_snapshot(text) == text  # a snapshot from before compression still reads


def test_cache_miss_parses_from_the_stored_xml(engine, database_url, clock, settings):
    from engine.bootstrap import build_engine

    _deploy(engine, "review")
    fresh = build_engine(settings, database_url=database_url, clock=clock)  # another process, empty cache
    try:
        row = fresh.run(start_instance, SYSTEM, "review", data={"request_no": 2})
        assert row.status == "running"
        assert fresh.specs.parses == 1
    finally:
        fresh.dispose()


def test_every_project_diagram_deploys_and_is_drawn(engine):
    """The diagrams in bpmn/ (what `make run` deploys) pass validation and lint, and every
    element and flow has a shape or an edge so bpmn-js can draw them."""
    from lxml import etree

    from tests.conftest import PROJECT_BPMN_DIR

    files = sorted(PROJECT_BPMN_DIR.glob("*.bpmn"))
    assert {f.stem for f in files} >= {"member_request", "inquiry", "membership_registration"}
    ns = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
          "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI"}
    for path in files:
        [result] = engine.run(deploy_definition, SYSTEM, path.read_bytes(), path.name)
        assert result.created, path.name
        tree = etree.parse(str(path))
        elements = set(tree.xpath("//bpmn:process/*[not(self::bpmn:laneSet)]/@id", namespaces=ns))
        drawn = set(tree.xpath("//bpmndi:BPMNShape/@bpmnElement | //bpmndi:BPMNEdge/@bpmnElement", namespaces=ns))
        assert elements <= drawn, (path.name, elements - drawn)
        lanes = set(tree.xpath("//bpmn:lane/@name", namespaces=ns))
        assert lanes <= {"reception", "social_researcher", "committee", "service_delivery", "supervisor"}


def test_every_user_task_has_a_bilingual_form():
    from lxml import etree

    from tests.conftest import PROJECT_BPMN_DIR
    from workflows.forms import FORMS_DIR, load_form

    ns = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
          "spiffworkflow": "http://spiffworkflow.org/bpmn/schema/1.0/core"}
    used = set()
    for path in sorted(PROJECT_BPMN_DIR.glob("*.bpmn")):
        tree = etree.parse(str(path))
        for task in tree.xpath("//bpmn:userTask", namespaces=ns):
            keys = task.xpath(".//spiffworkflow:property[@name='formKey']/@value", namespaces=ns)
            assert keys, f"{path.name}: user task {task.get('id')} has no formKey"
            used.add(keys[0])
    for key in sorted(used):
        form = load_form(key)  # valid JSON Schema, checked against the metaschema
        assert set(form["x-label"]) == {"ar", "en"}, key
        for name, field in form["properties"].items():
            assert field["x-label"]["ar"] and field["x-label"]["en"], f"{key}: {name}"
            for value in field.get("enum", []):
                assert set(field["x-enum-labels"][value]) == {"ar", "en"}, f"{key}: {name}={value}"
    assert used == {p.name for p in FORMS_DIR.glob("*.json")}  # and no form is left unused
