"""Forms kept with each version: a running case keeps the form its version was deployed with."""

from __future__ import annotations

import copy
import json
import sys

import pytest

import workflows.forms
from engine.actors import SYSTEM, Actor
from engine.commands import start_instance
from engine.definitions import deploy_definition
from engine.errors import InvalidDefinition
from engine.models import HumanTask, ProcessDefinition
from tests.support.desk import PROJECT_BPMN_DIR
from workflows.forms import FormErrors, forms_being_deployed, forms_for_deploy, load_form
from workflows.operations.definitions import deploy
from workflows.operations.tasks import complete_task
from workflows.read.tasks import task_page

OWNER = Actor.user("owner1", [], roles=["process_owner"])
RECEPTION = Actor.user("reception1", ["reception"], roles=["reception"])
INQUIRY = (PROJECT_BPMN_DIR / "inquiry.bpmn").read_bytes()


def _changed_log_form() -> dict:
    """inquiry_log.json with one more required field (as an owner would change it)."""
    form = copy.deepcopy(load_form("inquiry_log.json"))
    form["properties"]["topic"] = {"type": "string", "x-label": {"ar": "موضوع الاستفسار", "en": "Topic"}}
    form["required"].append("topic")
    return form


def _change_the_file(monkeypatch, form: dict) -> None:
    """As if bpmn/forms/inquiry_log.json were changed: every reader of the files gets ``form``."""
    original = workflows.forms.load_form

    def changed(key, *args):
        return form if key == "inquiry_log.json" else original(key, *args)

    for module in list(sys.modules.values()):
        if getattr(module, "load_form", None) is original:
            monkeypatch.setattr(module, "load_form", changed)


def _log_task(engine, instance_id: int) -> HumanTask:
    return engine.query(lambda e, s: s.query(HumanTask).filter_by(instance_id=instance_id,
                                                                  element_id="log_inquiry").one())


def _start(engine) -> int:
    return engine.run(start_instance, SYSTEM, "inquiry").id


def test_deploying_keeps_the_forms_the_tasks_name_with_the_version(engine):
    engine.run(deploy, OWNER, [(INQUIRY, "inquiry.bpmn")])
    forms = engine.query(lambda e, s: s.query(ProcessDefinition).one().forms)
    assert "inquiry_log.json" in forms and set(forms) == set(workflows.forms.form_keys(INQUIRY))
    for key, schema in forms.items():
        assert schema == json.loads((PROJECT_BPMN_DIR / "forms" / key).read_text(encoding="utf-8"))


def test_a_changed_form_file_leaves_the_running_case_its_version_form(engine, monkeypatch):
    engine.run(deploy, OWNER, [(INQUIRY, "inquiry.bpmn")])
    running = _start(engine)
    _change_the_file(monkeypatch, _changed_log_form())
    task = _log_task(engine, running)
    page = engine.query(task_page, RECEPTION, task.id)
    assert "topic" not in page.form["properties"]
    engine.run(complete_task, RECEPTION, task.id, {"question": "متى؟", "can_answer": True})


def test_an_old_version_without_kept_forms_reads_the_file(engine, monkeypatch):
    engine.run(deploy_definition, SYSTEM, INQUIRY, "inquiry.bpmn")  # as versions deployed before forms were kept
    assert engine.query(lambda e, s: s.query(ProcessDefinition).one().forms) is None
    running = _start(engine)
    _change_the_file(monkeypatch, _changed_log_form())
    task = _log_task(engine, running)
    assert "topic" in engine.query(task_page, RECEPTION, task.id).form["properties"]


def test_version_two_with_a_changed_form_leaves_version_one_cases_their_form(engine):
    engine.run(deploy, OWNER, [(INQUIRY, "inquiry.bpmn")])
    on_v1 = _start(engine)
    forms = forms_for_deploy(INQUIRY, {"inquiry_log.json": _changed_log_form()})
    with forms_being_deployed(forms):
        [v2] = engine.run(deploy_definition, OWNER, INQUIRY, "inquiry.bpmn", note="a topic", forms=forms)
    assert (v2.version, v2.created) == (2, True)
    on_v2 = _start(engine)
    v1_task, v2_task = _log_task(engine, on_v1), _log_task(engine, on_v2)
    assert "topic" not in engine.query(task_page, RECEPTION, v1_task.id).form["properties"]
    assert "topic" in engine.query(task_page, RECEPTION, v2_task.id).form["properties"]
    with pytest.raises(FormErrors) as refused:  # v2's form asks for the topic
        engine.run(complete_task, RECEPTION, v2_task.id, {"question": "متى؟", "can_answer": True})
    assert refused.value.reasons == {"topic": ("required", None)}
    with pytest.raises(FormErrors):  # v1's form knows no topic (additionalProperties: false)
        engine.run(complete_task, RECEPTION, v1_task.id, {"question": "متى؟", "can_answer": True, "topic": "x"})
    engine.run(complete_task, RECEPTION, v1_task.id, {"question": "متى؟", "can_answer": True})
    engine.run(complete_task, RECEPTION, v2_task.id, {"question": "متى؟", "can_answer": True, "topic": "مواعيد"})


def test_the_submitted_page_fields_are_read_with_the_version_form(engine):
    engine.run(deploy, OWNER, [(INQUIRY, "inquiry.bpmn")])
    forms = forms_for_deploy(INQUIRY, {"inquiry_log.json": _changed_log_form()})
    with forms_being_deployed(forms):
        engine.run(deploy_definition, OWNER, INQUIRY, "inquiry.bpmn", note="a topic", forms=forms)
    task = _log_task(engine, _start(engine))
    engine.run(complete_task, RECEPTION, task.id,
               fields={"question": "متى؟", "can_answer": "on", "topic": "مواعيد"})


def test_a_form_only_in_the_edited_forms_deploys_and_a_broken_one_is_refused_by_its_task(engine):
    xml = INQUIRY.replace(b'value="inquiry_log.json"', b'value="new_log.json"')
    new = _changed_log_form()
    forms = forms_for_deploy(xml, {"new_log.json": new})
    assert forms["new_log.json"] == new
    with pytest.raises(InvalidDefinition) as refused:  # outside the context: the file is looked for
        engine.run(deploy_definition, OWNER, xml, "inquiry.bpmn", forms=forms)
    assert [p.element_id for p in refused.value.problems] == ["log_inquiry"]
    with forms_being_deployed(forms):
        engine.run(deploy_definition, OWNER, xml, "inquiry.bpmn", forms=forms)
    broken = copy.deepcopy(new)
    del broken["properties"]["topic"]["x-label"]
    forms = forms_for_deploy(xml.replace(b"Log the inquiry", b"Log it"), {"new_log.json": broken})
    with pytest.raises(InvalidDefinition) as refused, forms_being_deployed(forms):
        engine.run(deploy_definition, OWNER, xml.replace(b"Log the inquiry", b"Log it"), "inquiry.bpmn", forms=forms)
    [problem] = refused.value.problems
    assert problem.element_id == "log_inquiry" and "form no label" in problem.message and "topic" in problem.message


def test_the_case_page_labels_the_data_as_its_version_forms_do(engine):
    from workflows.forms import labelled_data
    from workflows.read.cases import case_page

    forms = forms_for_deploy(INQUIRY, {"inquiry_log.json": _changed_log_form()})
    with forms_being_deployed(forms):
        engine.run(deploy_definition, OWNER, INQUIRY, "inquiry.bpmn", note="a topic", forms=forms)
    instance_id = _start(engine)
    task = _log_task(engine, instance_id)
    engine.run(complete_task, RECEPTION, task.id, {"question": "متى؟", "can_answer": True, "topic": "مواعيد"})
    page = engine.query(case_page, RECEPTION, instance_id)
    assert page["forms"] == forms
    fields, unknown = labelled_data(page["data"], "ar", forms=page["forms"])
    assert {"name": "topic", "label": "موضوع الاستفسار", "kind": "text", "value": "مواعيد"} in fields
    assert "topic" not in unknown
    assert "topic" in labelled_data(page["data"], "ar")[1]  # the files alone do not know it
