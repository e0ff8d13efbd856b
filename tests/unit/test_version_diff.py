"""How `engine.spiff.VersionDiff` sees the elements of two versions: what is the same, changed,
renamed or removed, and what a mapping may say (no database: parsed diagrams only)."""

from __future__ import annotations

from lxml import etree

from engine.spiff import VersionDiff, parse_bpmn
from tests.support.desk import PROJECT_BPMN_DIR
from tests.support.versions import add_task_after, remove, rename

MEMBER_REQUEST = (PROJECT_BPMN_DIR / "member_request.bpmn").read_bytes()


def _parsed(xml: bytes):
    [process] = parse_bpmn(xml, "member_request.bpmn", property_lint=lambda _: [], services=None, checked=False)
    return process


def _diff(new_xml: bytes, mapping=None) -> VersionDiff:
    return VersionDiff(_parsed(MEMBER_REQUEST), _parsed(new_xml), mapping)


def _status(diff: VersionDiff) -> dict[str, tuple[str, str | None]]:
    return {e.element_id: (e.status, e.new_id) for e in diff.changes()}


def test_a_task_added_after_another_changes_nothing_the_cases_did():
    diff = _diff(add_task_after(MEMBER_REQUEST, "intake", "welcome_call"))
    assert diff.changes() == []
    assert diff.added() == ["welcome_call"]


def test_a_renamed_task_is_found_by_its_place_in_the_flow_and_a_removed_one_is_removed():
    assert _status(_diff(rename(MEMBER_REQUEST, "intake", "reception_visit"))) == {
        "intake": ("renamed", "reception_visit")}
    assert _status(_diff(remove(MEMBER_REQUEST, "acknowledgement"))) == {"acknowledgement": ("removed", None)}


def test_a_new_name_is_not_a_change_but_a_new_lane_or_form_is():
    root = etree.fromstring(MEMBER_REQUEST)
    [intake] = root.xpath("//*[@id='intake']")
    intake.set("name", "استقبال العضو")
    assert _diff(etree.tostring(root)).changes() == []
    [form] = intake.xpath(".//*[@name='formKey']")
    form.set("value", "intake_v2.json")
    [changed] = _diff(etree.tostring(root)).changes()
    assert (changed.element_id, changed.status, changed.attributes) == ("intake", "changed", ("extensions",))
    assert _diff(etree.tostring(root), {"intake": "intake"}).changes()[0].mapped


def test_a_mapping_must_name_elements_of_the_same_type_that_exist():
    renamed = rename(MEMBER_REQUEST, "intake", "reception_visit")
    assert _diff(renamed, {"intake": "reception_visit"}).mapping_problems == []
    assert [p.params["why"] for p in _diff(renamed, {"intake": "set_checking"}).mapping_problems] == ["type"]
    assert [p.params["why"] for p in _diff(renamed, {"intake": "nowhere"}).mapping_problems] == ["new_missing"]
    assert [p.params["why"] for p in _diff(renamed, {"nowhere": "intake"}).mapping_problems] == ["old_missing"]
