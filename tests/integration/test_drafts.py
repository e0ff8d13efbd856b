"""Drafts: any BPMN file opens as a draft kept byte for byte; saves are revision-checked; deploy
applies the same checks as `tawasul deploy`, needs a note, and keeps the forms with the version."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from engine.actors import Actor
from engine.errors import Conflict, Forbidden, InvalidDefinition, InvalidInput
from engine.models import DefinitionDraft, ProcessDefinition
from tests.conftest import BPMN_DIR
from tests.support.desk import PROJECT_BPMN_DIR
from workflows.operations.drafts import (
    deploy_draft,
    discard_draft,
    edit_version,
    import_draft,
    new_process,
    save_draft,
)
from workflows.read.drafts import draft, draft_problems, draft_xml, modeler_overview

OWNER = Actor.user("owner1", roles=["process_owner"])
RECEPTION = Actor.user("reception1", ["reception"], roles=["reception"])
ANOTHER_OWNER = Actor.user("owner2", roles=["process_owner"])
#: A diagram as another tool writes it: not executable, a vendor extension, a shape, a comment.
FOREIGN = """<?xml version="1.0" encoding="UTF-8"?>
<!-- drawn elsewhere -->
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI"
  xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" xmlns:vendor="http://vendor.example/x" id="d1"
  targetNamespace="http://vendor.example/">
  <process id="Order" name="Handle the order" isExecutable="false" vendor:colour="blue">
    <startEvent id="s"/>
    <task id="t" name="Do it"><extensionElements><vendor:thing a="1"/></extensionElements></task>
    <sequenceFlow id="f" sourceRef="s" targetRef="t"/>
  </process>
  <bpmndi:BPMNDiagram id="dg"><bpmndi:BPMNPlane id="pl" bpmnElement="Order">
    <bpmndi:BPMNShape id="s_di" bpmnElement="s"><dc:Bounds x="1" y="2" width="36" height="36"/></bpmndi:BPMNShape>
  </bpmndi:BPMNPlane></bpmndi:BPMNDiagram>
</definitions>
"""


def _count(engine, model) -> int:
    return engine.query(lambda e, s: s.scalar(select(func.count()).select_from(model)))


def test_a_foreign_file_opens_as_a_draft_and_exports_unchanged(engine):
    draft_id = engine.run(import_draft, OWNER, FOREIGN.encode(), "order.bpmn")
    shown = engine.query(draft, OWNER, draft_id)
    assert (shown["key"], shown["name"], shown["revision"], shown["source"]) == (
        "Order", "Handle the order", 1, "order.bpmn")
    assert engine.query(draft_xml, OWNER, draft_id) == FOREIGN
    problems = engine.query(draft_problems, OWNER, draft_id)
    assert problems  # not executable: it cannot be deployed as it is
    assert _count(engine, ProcessDefinition) == 0


@pytest.mark.parametrize(("content", "code"), [
    (b"<definitions", "bpmn_malformed"),
    (b"<?xml version='1.0'?><html/>", "bpmn_not_bpmn"),
    (b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "b">]><definitions/>', "bpmn_dtd"),
    (b"<definitions>\xff</definitions>", "bpmn_not_utf8"),
    (b"\xff\xfe<definitions/>", "bpmn_malformed"),
])
def test_what_is_not_a_bpmn_file_is_refused_and_nothing_is_stored(engine, content, code):
    with pytest.raises(InvalidInput) as refused:
        engine.run(import_draft, OWNER, content, "x.bpmn")
    assert refused.value.code == code
    assert _count(engine, DefinitionDraft) == 0


def test_a_file_past_the_size_limit_is_refused(engine):
    big = FOREIGN.replace("<!-- drawn elsewhere -->", "<!--" + "x" * 3 * 1024 * 1024 + "-->")
    with pytest.raises(InvalidInput) as refused:
        engine.run(import_draft, OWNER, big.encode(), "big.bpmn")
    assert refused.value.code == "bpmn_too_large"


@pytest.mark.parametrize("encoding", ["utf-16", "iso-8859-1", "windows-1256"])
def test_a_file_in_utf16_or_a_declared_encoding_opens_as_utf8(engine, encoding):
    name = "Prüfen" if encoding == "iso-8859-1" else "مراجعة" if encoding == "windows-1256" else "مراجعة Prüfen"
    text = FOREIGN.replace('encoding="UTF-8"', f'encoding="{encoding.upper()}"').replace("Do it", name)
    draft_id = engine.run(import_draft, OWNER, text.encode(encoding), "other.bpmn")
    kept = engine.query(draft_xml, OWNER, draft_id)
    assert kept == FOREIGN.replace("Do it", name)  # the same text, its prolog now saying UTF-8


def test_a_doctype_inside_cdata_or_a_comment_is_text_not_a_dtd(engine):
    text = FOREIGN.replace("<!-- drawn elsewhere -->", "<!-- no <!DOCTYPE here -->").replace(
        '<vendor:thing a="1"/>', '<vendor:thing><![CDATA[<!DOCTYPE html><html>Dear member</html>]]></vendor:thing>')
    assert engine.query(draft_xml, OWNER, engine.run(import_draft, OWNER, text.encode(), "t.bpmn")) == text


def test_a_process_id_longer_than_a_version_key_can_be_is_kept_without_a_key(engine):
    long_id = "P" * 300
    draft_id = engine.run(import_draft, OWNER, FOREIGN.replace('"Order"', f'"{long_id}"').encode(), "long.bpmn")
    assert engine.query(draft, OWNER, draft_id)["key"] is None


def test_only_process_owners_and_administrators_edit(engine):
    with pytest.raises(Forbidden):
        engine.run(import_draft, RECEPTION, FOREIGN.encode(), "order.bpmn")
    draft_id = engine.run(import_draft, OWNER, FOREIGN.encode(), "order.bpmn")
    for call in (lambda: engine.query(draft_xml, RECEPTION, draft_id),
                 lambda: engine.run(save_draft, RECEPTION, draft_id, 1, FOREIGN.encode()),
                 lambda: engine.query(modeler_overview, RECEPTION)):
        with pytest.raises(Forbidden):
            call()
    admin = Actor.user("admin1", roles=["administrator"])
    assert engine.query(draft, admin, draft_id)["id"] == draft_id


def test_two_owners_saving_from_one_revision_never_overwrite_each_other(engine):
    draft_id = engine.run(import_draft, OWNER, FOREIGN.encode(), "order.bpmn")
    first = FOREIGN.replace("Do it", "Do it first")
    assert engine.run(save_draft, OWNER, draft_id, 1, first.encode())["revision"] == 2
    with pytest.raises(Conflict) as refused:
        engine.run(save_draft, ANOTHER_OWNER, draft_id, 1, FOREIGN.replace("Do it", "Mine").encode())
    assert refused.value.code == "draft_changed" and refused.value.params["by"] == "owner1"
    assert engine.query(draft_xml, OWNER, draft_id) == first  # the first save stands, whole
    assert engine.run(save_draft, ANOTHER_OWNER, draft_id, 2, FOREIGN.encode())["revision"] == 3


def test_a_save_that_is_not_bpmn_keeps_the_last_revision(engine):
    draft_id = engine.run(import_draft, OWNER, FOREIGN.encode(), "order.bpmn")
    with pytest.raises(InvalidInput):
        engine.run(save_draft, OWNER, draft_id, 1, b"<definitions")
    assert engine.query(draft, OWNER, draft_id)["revision"] == 1
    assert engine.query(draft_xml, OWNER, draft_id) == FOREIGN


def test_deploy_needs_a_note_and_refuses_a_diagram_with_problems(engine):
    draft_id = engine.run(import_draft, OWNER, FOREIGN.encode(), "order.bpmn")
    with pytest.raises(InvalidInput) as no_note:
        engine.run(deploy_draft, OWNER, draft_id, 1, "   ")
    assert no_note.value.code == "note_required"
    with pytest.raises(InvalidDefinition) as refused:
        engine.run(deploy_draft, OWNER, draft_id, 1, "first version")
    assert refused.value.problems
    assert _count(engine, ProcessDefinition) == 0
    assert engine.query(draft, OWNER, draft_id)["deployed_version"] is None


def test_a_version_edited_and_deployed_keeps_its_note_its_forms_and_a_new_number(engine):
    path = PROJECT_BPMN_DIR / "inquiry.bpmn"
    engine.run(deploy_draft, OWNER, engine.run(import_draft, OWNER, path.read_bytes(), path.name), 1, "first")
    draft_id = engine.run(edit_version, OWNER, "inquiry")
    assert engine.query(draft, OWNER, draft_id)["base_version"] == 1
    renamed = path.read_text(encoding="utf-8").replace('name="الرد على العضو"', 'name="الرد على العضو كتابةً"')
    assert renamed != path.read_text(encoding="utf-8")
    [deployed] = engine.run(deploy_draft, OWNER, draft_id, 1, "اسم أوضح للمهمة", renamed.encode())
    assert (deployed.key, deployed.version, deployed.created) == ("inquiry", 2, True)
    row = engine.query(lambda e, s: s.scalars(select(ProcessDefinition).where(ProcessDefinition.version == 2)).one())
    assert row.note == "اسم أوضح للمهمة" and row.deployed_by == "owner1"
    assert set(row.forms) >= {"inquiry_log.json", "inquiry_answer.json"}
    assert row.forms["inquiry_log.json"] == json.loads((PROJECT_BPMN_DIR / "forms" / "inquiry_log.json").read_text())
    assert engine.query(draft, OWNER, draft_id)["deployed_version"] == 2
    # The same diagram and forms again: the existing version, nothing new.
    [again] = engine.run(deploy_draft, OWNER, draft_id, 2, "again")
    assert (again.version, again.created) == (2, False)
    overview = engine.query(modeler_overview, OWNER)
    [process] = overview["processes"]
    assert [(v["version"], v["note"]) for v in process["versions"]] == [(2, "اسم أوضح للمهمة"), (1, "first")]
    assert [d["id"] for d in process["drafts"]] == [draft_id, 1]


def test_a_new_process_needs_an_ascii_key_a_name_and_a_key_not_taken(engine, deploy):
    deploy("review")
    for key, name, code in (("طلب", "طلب", "bad_process_key"), ("1abc", "x", "bad_process_key"),
                            ("ok_key", " ", "process_name_required")):
        with pytest.raises(InvalidInput) as refused:
            engine.run(new_process, OWNER, key, name)
        assert refused.value.code == code
    with pytest.raises(Conflict) as taken:
        engine.run(new_process, OWNER, "review", "مراجعة")
    assert taken.value.code == "process_key_taken"
    draft_id = engine.run(new_process, OWNER, "complaint", "شكوى عضو", "Member complaint")
    shown = engine.query(draft, OWNER, draft_id)
    assert (shown["key"], shown["name"]) == ("complaint", "شكوى عضو")
    assert 'tawasul:nameEn="Member complaint"' in engine.query(draft_xml, OWNER, draft_id)


def test_a_discarded_draft_is_gone_and_its_versions_stay(engine):
    path = BPMN_DIR / "review.bpmn"
    draft_id = engine.run(import_draft, OWNER, path.read_bytes(), path.name)
    engine.run(deploy_draft, OWNER, draft_id, 1, "first")
    with pytest.raises(Conflict):
        engine.run(discard_draft, OWNER, draft_id, 7)
    engine.run(discard_draft, OWNER, draft_id, 1)
    assert _count(engine, DefinitionDraft) == 0 and _count(engine, ProcessDefinition) == 1


def test_the_cli_imports_exports_and_deploys_a_draft(run_cli, tmp_path):
    foreign = tmp_path / "order.bpmn"
    foreign.write_text(FOREIGN, encoding="utf-8")
    code, out, err = run_cli("drafts", "import", str(foreign))
    assert code == 0, err
    printed = json.loads(out)
    assert set(printed) == {"draft_id", "key", "problems"} and printed["key"] == "Order"
    assert printed["problems"] and all(set(p) == {"element_id", "message"} for p in printed["problems"])
    code, out, _ = run_cli("drafts", "export", str(printed["draft_id"]))
    assert code == 0 and out == FOREIGN
    code, _, err = run_cli("drafts", "deploy", str(printed["draft_id"]), "--note", "try")
    assert code == 2 and err.count("\n") == 1  # refused while problems remain, in one line

    good = BPMN_DIR / "review.bpmn"
    code, out, _ = run_cli("drafts", "import", str(good))
    draft_id = json.loads(out)["draft_id"]
    assert json.loads(out)["problems"] == []
    code, out, err = run_cli("drafts", "deploy", str(draft_id), "--note", "first")
    assert code == 0, err
    assert [(d["key"], d["version"], d["created"]) for d in json.loads(out)] == [("review", 1, True)]
    code, _, err = run_cli("drafts", "deploy", str(draft_id))
    assert code == 2 and "--note" in err
    code, _, err = run_cli("drafts", "export", "999")
    assert code == 3 and err.count("\n") == 1
    code, _, err = run_cli("drafts", "import", str(tmp_path / "missing.bpmn"))
    assert code == 2 and "cannot read" in err


def test_tawasul_deploy_keeps_a_note_given_with_the_files(run_cli, engine):
    code, out, err = run_cli("deploy", str(BPMN_DIR / "review.bpmn"), "--note", "أول إصدار")
    assert code == 0, err
    overview = engine.query(modeler_overview, OWNER)
    assert [v["note"] for v in overview["processes"][0]["versions"]] == ["أول إصدار"]


def test_an_unchanged_version_deployed_before_forms_were_kept_is_the_same_content(engine, deploy):
    deploy("review")  # forms=None: deployed the way versions were before
    engine.run(lambda e, s: s.execute(ProcessDefinition.__table__.update().values(forms=None)))
    draft_id = engine.run(edit_version, OWNER, "review")
    [again] = engine.run(deploy_draft, OWNER, draft_id, 1, "nothing changed")
    assert (again.version, again.created) == (1, False)


def test_a_new_process_name_with_a_control_character_names_the_field(engine):
    with pytest.raises(InvalidInput) as refused:
        engine.run(new_process, OWNER, "complaint", "طلب\x01جديد")
    assert refused.value.code == "process_name_characters" and refused.value.params == {"field": "name_ar"}


def test_the_cli_exports_a_file_without_a_final_newline_byte_for_byte(run_cli, tmp_path):
    path = tmp_path / "order.bpmn"
    path.write_bytes(FOREIGN.rstrip("\n").encode())
    code, out, _ = run_cli("drafts", "import", str(path))
    code, exported, _ = run_cli("drafts", "export", str(json.loads(out)["draft_id"]))
    assert code == 0 and exported == FOREIGN.rstrip("\n")


def test_a_process_id_too_long_for_a_version_is_a_problem_and_deploy_is_refused(engine):
    long_id = "P" * 201
    text = (BPMN_DIR / "review.bpmn").read_text(encoding="utf-8").replace('"review"', f'"{long_id}"')
    draft_id = engine.run(import_draft, OWNER, text.encode(), "long.bpmn")
    assert [p.code for p in engine.query(draft_problems, OWNER, draft_id)] == ["bpmn_key_too_long"]
    with pytest.raises(InvalidDefinition):
        engine.run(deploy_draft, OWNER, draft_id, 1, "long")
    assert _count(engine, ProcessDefinition) == 0
