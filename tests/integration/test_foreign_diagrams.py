"""Diagrams drawn in other tools: `check_definition` lists what they lack, never raises, and is
the deploy's own rule; standard ISO-8601 timer literals are accepted and fire."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.actors import SYSTEM
from engine.bpmn_problems import ENGLISH
from engine.commands import start_instance
from engine.definitions import check_definition, deploy_definition, list_definitions
from engine.errors import CODES, InvalidDefinition
from engine.models import HumanTask
from engine.queries import list_tasks
from tests.conftest import BPMN_DIR, T0
from tests.support.jobs import fire_due_timers

FOREIGN = sorted((BPMN_DIR / "foreign").glob("*.bpmn"))
#: Words of the engine's insides a process owner cannot act on (issue 13).
JARGON = re.compile(r"operator|SubWorkflow|no executable process|Exactly one start event is required|isExecutable|"
                    r"ValidationException|Traceback|0x[0-9a-f]{4,}", re.IGNORECASE)

ELEMENT_CODES = {code for code, params in CODES.items() if "element" in params}


def _ids(path: Path) -> set[str]:
    return set(re.findall(r'\bid="([^"]+)"', path.read_text(encoding="utf-8")))


def test_the_reference_models_are_there():
    assert len(FOREIGN) >= 8
    assert (BPMN_DIR / "foreign" / "README.md").read_text().count("Creative Commons Attribution 3.0") == 1


@pytest.mark.parametrize("path", FOREIGN, ids=lambda p: p.stem)
def test_a_diagram_from_another_tool_gets_problems_in_the_owners_words(engine, path):
    problems = check_definition(engine, path.read_bytes(), path.name)
    assert problems, "each reference model lacks something before it can run"
    ids = _ids(path)
    for problem in problems:
        assert problem.code in ENGLISH, problem
        assert set(problem.params) <= set(CODES[problem.code]), problem
        if problem.code in ELEMENT_CODES or problem.code == "bpmn_not_executable":
            assert problem.element_id in ids, problem  # the modeler can select it
        assert not JARGON.search(problem.message), problem.message
        assert not JARGON.search(str(problem.params)), problem.params
        assert problem.as_dict()["code"] == problem.code and problem.as_dict()["params"] == problem.params
    assert engine.query(list_definitions) == []  # a check stores nothing


def test_every_diagram_of_the_project_is_checked_without_an_exception(engine):
    """The project's own diagrams and every test diagram, good or hostile: a list, never a raise."""
    from tests.support.desk import PROJECT_BPMN_DIR

    paths = sorted([*BPMN_DIR.glob("*.bpmn"), *PROJECT_BPMN_DIR.glob("*.bpmn")])
    assert len(paths) > 20
    for path in paths:
        problems = check_definition(engine, path.read_bytes(), path.name)
        assert all(p.code in ENGLISH and p.severity in ("error", "warning") for p in problems), (path, problems)
    for path in PROJECT_BPMN_DIR.glob("*.bpmn"):
        assert [p for p in check_definition(engine, path.read_bytes(), path.name) if p.severity == "error"] == []


@pytest.mark.parametrize("path", FOREIGN, ids=lambda p: p.stem)
def test_deploy_refuses_with_the_same_problems_as_the_check(engine, path):
    checked = [p.message for p in check_definition(engine, path.read_bytes(), path.name) if p.severity == "error"]
    with pytest.raises(InvalidDefinition) as refused:
        engine.run(deploy_definition, SYSTEM, path.read_bytes(), path.name)
    assert [p.message for p in refused.value.problems] == checked


def test_what_the_issue_met_is_said_in_the_owners_words(engine):
    def problems(name: str) -> dict[str, list]:
        found: dict[str, list] = {}
        for p in check_definition(engine, (BPMN_DIR / "foreign" / name).read_bytes(), name):
            found.setdefault(p.code, []).append(p)
        return found

    c1 = problems("miwg-reference-C.1.0.bpmn")
    [archive] = c1["bpmn_service_no_handler"]
    assert archive.element_id == "archiveInvoice"
    assert archive.message.startswith("the service task «Archive Invoice» calls no handler: choose one of ")
    assert "notify_member" in archive.params["handlers"]
    assert {p.params["target"] for p in c1["bpmn_condition_refused"]} >= {"Prepare Bank Transfer"}

    [subprocess] = problems("miwg-reference-C.3.0.bpmn")["bpmn_subprocess_starts"]
    assert subprocess.message == ("the subprocess «Perform emergency repair» must begin with exactly one start event; "
                                  "it has 0")

    a1 = problems("miwg-reference-A.1.0.bpmn")
    assert list(a1) == ["bpmn_not_executable"]
    assert a1["bpmn_not_executable"][0].message == ("no process in this file is marked executable: tick 'executable' "
                                                    "on the process WFP-6-")
    # Every process of a file not marked executable is still checked: B.1.0's service tasks are named.
    b1 = problems("miwg-reference-B.1.0.bpmn")
    assert {p.params["element"] for p in b1["bpmn_service_no_handler"]} == {"Service Task 3", "Service Task 7"}
    assert b1["bpmn_data_store"][0].element_id == "DS1373655174514"


def test_once_marked_executable_a_foreign_diagram_deploys(engine):
    path = BPMN_DIR / "foreign" / "signavio-19.9-A.1.0-export.bpmn"
    xml = path.read_bytes().replace(b'isExecutable="false"', b'isExecutable="true"')
    assert check_definition(engine, xml, path.name) == []
    [deployed] = engine.run(deploy_definition, SYSTEM, xml, path.name)
    assert deployed.created


def test_an_unresolved_data_reference_names_the_data_not_a_python_repr(engine):
    xml = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="urn:t">
  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:task id="read" name="Read the file"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:dataInputAssociation id="in1"><bpmn:sourceRef>missing_data</bpmn:sourceRef>
        <bpmn:targetRef>read</bpmn:targetRef></bpmn:dataInputAssociation>
    </bpmn:task>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="read" />
    <bpmn:sequenceFlow id="f2" sourceRef="read" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>"""
    [problem] = check_definition(engine, xml, "data.bpmn")
    assert (problem.code, problem.element_id, problem.params["ref"]) == ("bpmn_data_unresolved", "read",
                                                                        "missing_data")
    assert "0x" not in problem.message and "<Element" not in problem.message


@pytest.mark.parametrize("xml, line", [
    (b"<bpmn:definitions xmlns:bpmn='http://www.omg.org/spec/BPMN/20100524/MODEL'>\n<bpmn:process>\n", 3),
    (b"not xml at all", 1),
    (b"", 1),
])
def test_a_file_that_is_not_xml_is_one_problem_naming_its_line(engine, xml, line):
    [problem] = check_definition(engine, xml, "broken.bpmn")
    assert (problem.code, problem.line) == ("bpmn_malformed", line)


@pytest.mark.parametrize("xml", [
    b"\xff\xfe not utf-8",
    b"<?xml version='1.0'?><x/>",
    b"<bpmn:definitions xmlns:bpmn='http://www.omg.org/spec/BPMN/20100524/MODEL' id='d'/>",
    b"<!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>",
])
def test_odd_files_are_problems_not_exceptions(engine, xml):
    problems = check_definition(engine, xml, "odd.bpmn")
    assert problems and all(p.code in ENGLISH for p in problems)


def test_a_user_task_outside_the_lanes_is_a_warning_that_does_not_refuse(engine):
    xml = (BPMN_DIR / "failing.bpmn").read_bytes()
    warnings = [p for p in check_definition(engine, xml, "failing.bpmn") if p.severity == "warning"]
    assert {p.element_id for p in warnings} == {"note", "task_a", "task_b"}
    assert {p.code for p in warnings} == {"bpmn_user_task_no_lane"}
    assert engine.run(deploy_definition, SYSTEM, xml, "failing.bpmn")[0].created


def test_a_service_task_calling_an_unknown_handler_lists_the_handlers(engine):
    xml = (BPMN_DIR / "with_service.bpmn").read_bytes()
    handler = re.search(rb'serviceTaskOperator id="([^"]+)"', xml).group(1)
    bad = xml.replace(b'serviceTaskOperator id="' + handler + b'"', b'serviceTaskOperator id="send_fax"', 1)
    [problem] = [p for p in check_definition(engine, bad, "with_service.bpmn") if p.severity == "error"]
    assert (problem.code, problem.params["handler"]) == ("bpmn_unknown_handler", "send_fax")
    assert problem.params["handlers"] == sorted(engine.service_handlers)


# -- standard timer literals -----------------------------------------------------------------------


def _with_timer(kind: str, value: str) -> bytes:
    xml = (BPMN_DIR / "plain_iso_timer.bpmn").read_bytes()
    return xml.replace(b"<bpmn:timeDuration>P7D</bpmn:timeDuration>",
                       f"<bpmn:{kind}>{value}</bpmn:{kind}>".encode())


@pytest.mark.parametrize("kind, value", [
    ("timeDuration", "P7D"), ("timeDuration", "PT4H"), ("timeDuration", "P1Y2M3DT4H5M6S"),
    ("timeDate", "2026-12-31T10:00:00Z"), ("timeDate", "2026-12-31T10:00:00+03:00"), ("timeDate", "2026-12-31"),
    ("timeDuration", "'PT4H'"), ("timeDuration", '"P7D"'), ("timeDate", "business_days(10)"),
])
def test_iso_literals_and_expressions_are_both_accepted(engine, kind, value):
    assert check_definition(engine, _with_timer(kind, value), "t.bpmn") == []


@pytest.mark.parametrize("value", ["R6/P1D", "R3/2026-12-01T00:00:00Z/P1D", "R/PT1H"])
def test_iso_cycles_are_accepted_on_a_timer_start_event(engine, value):
    xml = (BPMN_DIR / "scheduled.bpmn").read_bytes()
    cycle = re.search(rb"<bpmn:timeCycle[^>]*>(.*?)</bpmn:timeCycle>", xml)
    assert cycle is not None
    plain = xml.replace(cycle.group(0), cycle.group(0).replace(cycle.group(1), value.encode()))
    assert check_definition(engine, plain, "scheduled.bpmn") == []


@pytest.mark.parametrize("kind, value, code", [
    ("timeDuration", "P14X", "bpmn_timer_value"),
    ("timeDuration", "2026-12-31T10:00:00Z", "bpmn_timer_value"),
    ("timeDate", "P1D", "bpmn_timer_value"),
    ("timeDuration", "P99999Y", "bpmn_timer_too_far"),
])
def test_a_wrong_iso_literal_is_refused_on_its_timer(engine, kind, value, code):
    [problem] = check_definition(engine, _with_timer(kind, value), "t.bpmn")
    assert (problem.code, problem.element_id, problem.params["value"]) == (code, "wait_a_week", value)


def test_a_plain_p7d_timer_fires_after_seven_days_and_the_sla_counts_plain_durations(engine, deploy):
    deploy("plain_iso_timer")
    row = engine.run(start_instance, SYSTEM, "plain_iso_timer", data={})
    assert engine.query(list_tasks, SYSTEM, instance_id=row.id) == []
    assert fire_due_timers(engine, T0 + timedelta(days=7) - timedelta(seconds=1)) == 0
    assert fire_due_timers(engine, T0 + timedelta(days=7)) == 1
    [task] = engine.query(list_tasks, SYSTEM, instance_id=row.id)
    assert task.element_id == "follow_up"
    with engine.unit_of_work(readonly=True) as uow:
        stored = uow.session.scalars(select(HumanTask).where(HumanTask.instance_id == row.id)).one()
        opened = T0 + timedelta(days=7)
        assert stored.due_at.replace(tzinfo=opened.tzinfo) == opened + timedelta(days=3)  # slaDue P3D
        assert stored.warn_at.replace(tzinfo=opened.tzinfo) == opened + timedelta(hours=4)  # slaWarn PT4H
    assert fire_due_timers(engine, T0 + timedelta(days=30)) == 0  # once


def test_a_wrong_plain_sla_value_is_refused_on_its_task(engine):
    xml = (BPMN_DIR / "plain_iso_timer.bpmn").read_bytes().replace(b'value="P3D"', b'value="P3Q"')
    [problem] = check_definition(engine, xml, "t.bpmn")
    assert (problem.code, problem.element_id, problem.params) == (
        "bpmn_sla_value", "follow_up", {"which": "deadline", "value": "P3Q", "element": "Follow up"})


def test_a_form_that_does_not_exist_is_named_on_its_task(engine):
    from tests.support.desk import PROJECT_BPMN_DIR

    xml = (PROJECT_BPMN_DIR / "inquiry.bpmn").read_bytes().replace(b'value="inquiry_log.json"', b'value="nope.json"')
    [problem] = [p for p in check_definition(engine, xml, "inquiry.bpmn") if p.severity == "error"]
    assert (problem.code, problem.params["form"]) == ("bpmn_form_missing", "nope.json")
    assert problem.element_id and problem.params["element"] and problem.params["detail"]
    assert problem.message.startswith("formKey: ")  # the CLI's sentence, as before
