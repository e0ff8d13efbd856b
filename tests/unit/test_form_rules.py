"""Tawasul's rules for a task form, beyond the metaschema: what the task page needs to draw it."""

from __future__ import annotations

import json

import pytest

from engine.errors import SEVERAL, InvalidInput
from workflows.forms import (
    FORMS_DIR,
    MAX_FORM_BYTES,
    form_keys,
    forms_for_deploy,
    load_form,
    parse_form,
    rule_problems,
    tasks_by_form,
)

FIELD = {"type": "string", "x-label": {"ar": "ملاحظة", "en": "Note"}}


def _form(**fields) -> dict:
    return {"type": "object", "properties": fields, "required": []}


def _codes(schema) -> list[tuple[str, dict]]:
    return [(code, {k: v for k, v in params.items() if k != "form"}) for code, params in rule_problems("f.json", schema)]


def test_every_project_form_follows_the_rules():
    for path in sorted(FORMS_DIR.glob("*.json")):
        assert rule_problems(path.name, load_form(path.name)) == [], path.name


@pytest.mark.parametrize("schema, expected", [
    ({"type": "object"}, [("form_no_fields", {})]),
    (_form(**{"a b": FIELD}), [("form_field_name", {"field": "a b"})]),
    (_form(note={"type": "string"}), [("form_no_label", {"field": "note"})]),
    (_form(note={"type": "string", "x-label": {"en": "Note"}}), [("form_no_label", {"field": "note"})]),
    (_form(note={"type": "string", "x-label": {"ar": "  "}}), [("form_no_label", {"field": "note"})]),
    (_form(note=True), [("form_no_label", {"field": "note"})]),
    (_form(note={**FIELD, "type": "object"}),
     [("form_field_type", {"field": "note", "value": "object",
                           "allowed": ["string", "integer", "number", "boolean", "array"]})]),
    (_form(note={**FIELD, "x-widget": "slider"}),
     [("form_widget", {"field": "note", "value": "slider", "allowed": ["textarea"]})]),
    (_form(pick={**FIELD, "enum": ["a", "b"], "x-enum-labels": {"a": {"ar": "أ"}}}),
     [("form_choice_label", {"field": "pick", "value": "b"})]),
    (_form(who={**FIELD, "x-people-of-lane": "committee"}), [("form_people", {"field": "who"})]),
    ({**_form(note=FIELD), "required": ["note", "ghost"]}, [("form_required_unknown", {"field": "ghost"})]),
    (_form(note={**FIELD, "$ref": "https://example.org/x.json"}),
     [("form_remote_ref", {"value": "https://example.org/x.json"})]),
])
def test_each_rule_names_what_is_wrong(schema, expected):
    assert _codes(schema) == expected


def test_a_form_that_follows_the_rules_passes():
    people = {"type": "array", "items": {"type": "string"}, "x-label": {"ar": "الحاضرون"},
              "x-people-of-lane": "committee"}
    ok = {**_form(note={**FIELD, "x-widget": "textarea"}, who=people, n={**FIELD, "type": "integer"},
                  pick={**FIELD, "enum": ["a"], "x-enum-labels": {"a": {"ar": "أ", "en": "A"}}},
                  ref={**FIELD, "$ref": "#/$defs/x"}), "required": ["note"], "$defs": {"x": {}}}
    assert _codes(ok) == []
    assert parse_form("f.json", json.dumps(ok)) == ok


def test_parsing_the_editor_text_names_the_line_and_column_of_a_json_mistake():
    with pytest.raises(InvalidInput) as refused:
        parse_form("f.json", '{\n  "type": "object",\n  "properties": {\n}')
    assert refused.value.code == "form_not_json"
    assert (refused.value.params["line"], refused.value.params["column"]) == (4, 2)


def test_parsing_refuses_what_the_metaschema_refuses_with_where():
    with pytest.raises(InvalidInput) as refused:
        parse_form("f.json", json.dumps(_form(note={**FIELD, "minLength": -1})))
    assert refused.value.code == "form_not_schema" and refused.value.params["path"] == "/properties/note/minLength"


def test_several_problems_are_refused_at_once_and_a_large_form_before_reading():
    with pytest.raises(InvalidInput) as refused:
        parse_form("f.json", json.dumps({**_form(a={"type": "string"}, b={"type": "string"})}))
    assert refused.value.code == SEVERAL
    assert [code for code, _ in refused.value.params["problems"]] == ["form_no_label", "form_no_label"]
    with pytest.raises(InvalidInput) as refused:
        parse_form("f.json", " " * (MAX_FORM_BYTES + 1))
    assert refused.value.code == "form_too_large"
    with pytest.raises(InvalidInput) as refused:
        parse_form("f.json", "[" * 60_000)
    assert refused.value.code == "form_not_json"


@pytest.mark.parametrize("depth", [25, 400])
def test_a_form_nested_too_deep_is_refused_before_the_metaschema_recurses(depth):
    text = '{"type": "object", "properties": {"x": ' * depth + "{}" + "}}" * depth
    with pytest.raises(InvalidInput) as refused:
        parse_form("f.json", text)
    assert refused.value.code == "form_too_deep"


def test_the_form_keys_of_a_diagram_are_read_without_entities():
    xml = (FORMS_DIR.parent / "inquiry.bpmn").read_bytes()
    assert form_keys(xml) == ["inquiry_log.json", "inquiry_answer.json"]
    assert tasks_by_form(xml)["inquiry_answer.json"] == [("answer_member", "الرد على العضو"),
                                                          ("explain_procedures", "توضيح الإجراءات (الباحث الاجتماعي)")]
    entity = b'<!DOCTYPE r [<!ENTITY a "x.json">]><r><property name="formKey" value="&a;"/></r>'
    assert form_keys(entity) == [] and form_keys(b"<r><unclosed></r>") == []


def test_forms_for_deploy_takes_the_edited_form_first_and_leaves_out_a_missing_file():
    xml = (FORMS_DIR.parent / "inquiry.bpmn").read_bytes().replace(b'"inquiry_answer.json"', b'"gone.json"')
    edited = {"inquiry_log.json": _form(note=FIELD), "unused.json": _form(note=FIELD)}
    forms = forms_for_deploy(xml, edited)
    assert forms == {"inquiry_log.json": _form(note=FIELD)}  # gone.json: the deploy lint names its tasks
    assert forms["inquiry_log.json"] is not edited["inquiry_log.json"]  # the version's own copy


@pytest.mark.parametrize("escape", ["\\u0000", "\\ud800"])
def test_a_character_no_text_may_hold_is_refused_even_written_as_an_escape(escape):
    text = '{"type": "object", "properties": {"note": {"type": "string", "x-label": {"ar": "a' + escape + '"}}}}'
    with pytest.raises(InvalidInput) as refused:
        parse_form("f.json", text)
    assert refused.value.code == "form_bad_character"
    with pytest.raises(InvalidInput):
        parse_form("f.json", '{"type": "object", "properties": {"a' + escape + '": {}}}')
