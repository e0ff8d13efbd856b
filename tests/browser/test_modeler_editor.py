"""The modeler in Chromium, in Arabic and English, with axe-core: the owner renames a task and deploys
version 2; a script with a syntax error is marked on its element and deploy is refused; two owners
saving one draft: the second is told and offered a reload; the diff of two versions marks the change."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from engine.actors import SYSTEM, Actor
from engine.models import DefinitionDraft, ProcessDefinition
from tests.browser.conftest import serious_violations, sign_in
from tests.support.desk import PROJECT_BPMN_DIR, Desk
from workflows.operations.accounts import create_user
from workflows.operations.drafts import edit_version, import_draft, save_draft

OWNER = Actor.user("owner1", roles=["process_owner"])
RENAMED = "استقبال العضو والرد على أسئلته"


@pytest.fixture
def owner(engine):
    desk = Desk(engine)
    request = desk.open("financial_support")  # a running case of version 1, waiting at «intake»
    engine.run(create_user, SYSTEM, "owner1", "secret-pass", "مالك العمليات", ["process_owner"])
    return desk, request


def _axe(page) -> list[tuple[str, list]]:
    """The serious axe-core violations, each with the elements it names (so a failure says where)."""
    return [(v["id"], [n["target"] for n in v["nodes"]][:5]) for v in serious_violations(page)]


def _errors(page) -> list[str]:
    found: list[str] = []
    page.on("pageerror", lambda error: found.append(str(error)))
    # A refusal the test asks for (the deploy's 422) is logged as a failed resource: not an error of the page.
    page.on("console", lambda message: found.append(message.text)
            if message.type == "error" and not message.text.startswith("Failed to load resource") else None)
    return found


def _open(page, live_server, draft_id, lang):
    page.add_init_script("""window.cspViolations = [];
        document.addEventListener("securitypolicyviolation", (e) => window.cspViolations.push(
            `${e.effectiveDirective} refused ${e.blockedURI || "inline"} at ${e.sourceFile}:${e.lineNumber}`));""")
    page.goto(f"{live_server}/modeler/drafts/{draft_id}?lang={lang}")
    page.locator("#modeler-app[data-ready='true']").wait_for(timeout=20000)
    assert page.evaluate("window.cspViolations") == []  # nothing refused by the Content-Security-Policy


def _click(page, element_id, hit=".djs-hit"):
    """Bring an element of the diagram into view (past the palette) and click it, as the owner would."""
    page.evaluate("""id => {
        const modeler = window.tawasulModeler;
        modeler.get("canvas").scrollToElement(modeler.get("elementRegistry").get(id),
                                              { top: 100, bottom: 100, left: 200, right: 100 });
    }""", element_id)
    page.locator(f"#modeler-canvas .djs-element[data-element-id='{element_id}'] {hit}").first.click()


def _with_script() -> str:
    """inquiry.bpmn with its «answer» task made a script task (drawn where the task was)."""
    xml = (PROJECT_BPMN_DIR / "inquiry.bpmn").read_text(encoding="utf-8")
    task = re.search(r'<bpmn:userTask id="answer_member".*?</bpmn:userTask>', xml, re.S).group(0)
    script = ('<bpmn:scriptTask id="answer_member" name="الرد على العضو" tawasul:nameEn="Answer the member">'
              "<bpmn:incoming>flow_answer</bpmn:incoming><bpmn:outgoing>flow_answered</bpmn:outgoing>"
              "<bpmn:script>answered = True</bpmn:script></bpmn:scriptTask>")
    return xml.replace(task, script)


def _versions(engine, key):
    return engine.query(lambda e, s: [(d.version, d.note, d.xml) for d in s.scalars(
        select(ProcessDefinition).where(ProcessDefinition.key == key).order_by(ProcessDefinition.version))])


def test_the_owner_renames_a_task_and_deploys_version_2_then_the_diff_marks_it(page, live_server, engine, owner):
    errors = _errors(page)
    draft_id = engine.run(edit_version, OWNER, "member_request", None)
    sign_in(page, live_server, "owner1")
    _open(page, live_server, draft_id, "en")
    assert page.locator("#modeler-canvas").evaluate("node => getComputedStyle(node).direction") == "ltr"
    assert _axe(page) == []
    _open(page, live_server, draft_id, "ar")
    assert page.locator("html").get_attribute("dir") == "rtl"
    assert page.locator("#modeler-canvas").evaluate("node => getComputedStyle(node).direction") == "ltr"
    # Today's diagram loads with its properties: the problems panel shows bpmnlint's warnings, no error.
    assert page.locator("#modeler-app").get_attribute("data-errors") == "0"
    assert not page.locator("#modeler-deploy").is_disabled()
    _click(page, "intake")
    panel = page.locator("#modeler-properties")
    panel.locator("[data-entry-id='tawasul-form']").wait_for()
    assert panel.locator("[data-entry-id='tawasul-form'] select").input_value() == "intake.json"
    assert panel.locator("[data-entry-id='tawasul-sla-due'] input").input_value() == "business_days(1)"
    assert panel.locator("[data-entry-id='tawasul-name-en'] input").input_value() == \
        "Receive the member and answer their questions"
    assert "الاسم بالإنجليزية" in panel.inner_text()  # the panel speaks the page's language
    assert panel.locator(".bio-properties-panel-header-type").inner_text().strip() == "مهمة مستخدم"
    assert _axe(page) == []
    name = panel.locator("[data-entry-id='name'] textarea, [data-entry-id='name'] input").first
    name.fill(RENAMED)
    panel.locator("[data-entry-id='tawasul-name-en'] input").fill("Receive the member and answer")
    page.locator("#modeler-app[data-dirty='true']").wait_for()
    page.locator("#modeler-save").click()
    page.locator("#modeler-status", has_text="حُفظت المسودة").wait_for()
    assert page.locator("#modeler-app").get_attribute("data-revision") == "2"
    # Deploy asks for a note; without one nothing is sent.
    page.locator("#modeler-deploy").click()
    dialog = page.locator("#deploy-dialog")
    dialog.wait_for(state="visible")
    page.locator("#deploy-confirm").click()
    page.locator("#deploy-error", has_text="الملاحظة مطلوبة").wait_for()
    assert len(_versions(engine, "member_request")) == 1
    page.get_by_label("ما الذي يتغير في هذا الإصدار (مطلوب)").fill("اسم أوضح لمهمة الاستقبال")
    page.locator("#deploy-confirm").click()
    page.wait_for_url(f"{live_server}/modeler")
    versions = _versions(engine, "member_request")
    assert [(v, n) for v, n, _x in versions] == [(1, None), (2, "اسم أوضح لمهمة الاستقبال")]
    xml = versions[1][2]
    assert f'name="{RENAMED}"' in xml and 'nameEn="Receive the member and answer"' in xml
    assert 'name="formKey" value="intake.json"' in xml  # the properties went round the editor unchanged
    assert 'spiffworkflow:serviceTaskOperator id="notify_member"' in xml
    # The diff of the two versions marks the renamed task, and counts the case still waiting at it.
    for lang, changed in (("ar", "تغيّر"), ("en", "Changed")):
        page.goto(f"{live_server}/modeler/member_request/diff?from=1&to=2&lang={lang}")
        page.locator("#diff-app[data-ready='true']").wait_for(timeout=20000)
        for side in ("from", "to"):
            task = page.locator(f"#diff-{side} .djs-element[data-element-id='intake']")
            assert "diff-changed" in task.get_attribute("class")
        row = page.locator("#diff-changes tr[data-element='intake']")
        assert row.get_attribute("data-kind") == "changed"
        assert changed in row.inner_text()
        assert "1" in row.locator(".diff-running").inner_text()
        assert page.locator("#diff-changes tr").count() >= 1
        assert _axe(page) == []
    assert errors == []


def test_a_script_with_a_syntax_error_is_marked_on_its_element_and_deploy_is_refused(page, live_server, engine,
                                                                                      owner):
    errors = _errors(page)
    draft_id = engine.run(import_draft, OWNER, _with_script().encode(), "inquiry.bpmn")
    sign_in(page, live_server, "owner1")
    for lang, word in (("ar", "خطأ"), ("en", "Error")):
        _open(page, live_server, draft_id, lang)
        _click(page, "answer_member")
        script = page.locator("#modeler-properties [data-entry-id='tawasul-script'] textarea")
        script.wait_for()
        assert script.input_value() == "answered = True"
        script.fill("answered = (\n")
        row = page.locator("#problems-list li[data-element='answer_member'][data-source='server']")
        row.wait_for(timeout=15000)
        assert word in row.inner_text() and "الرد على العضو" in row.inner_text()
        assert "tw-problem-error" in page.locator(
            "#modeler-canvas .djs-element[data-element-id='answer_member']").get_attribute("class")
        assert page.locator("#modeler-deploy").is_disabled()
        assert page.locator("#deploy-blocked").is_visible()
        assert _axe(page) == []
        # Clicking the problem selects the element and opens its script, the message under it.
        _click(page, "log_inquiry")
        row.locator("button").click()
        page.locator("#modeler-properties [data-entry-id='tawasul-script'] textarea:focus").wait_for()
        assert page.locator("#modeler-properties [data-entry-id='tawasul-script'] .bio-properties-panel-error"
                            ).count() == 1
        # The server refuses the deploy too.
        answer = page.evaluate("""async () => {
            const { xml } = await window.tawasulModeler.saveXML();
            const app = document.getElementById("modeler-app");
            const response = await fetch(app.dataset.deployUrl, { method: "POST",
              headers: { "Content-Type": "application/json",
                         "X-CSRFToken": document.querySelector('meta[name="csrf-token"]').content },
              body: JSON.stringify({ xml, revision: Number(app.dataset.revision), note: "x" }) });
            return { status: response.status, body: await response.json() };
        }""")
        assert answer["status"] == 422
        assert any(p["element_id"] == "answer_member" for p in answer["body"]["problems"])
        assert len(_versions(engine, "inquiry")) == 1  # nothing deployed
    assert errors == []


def test_a_problem_opens_the_field_its_code_names_whatever_the_words_of_its_message(page, live_server, engine,
                                                                                     owner):
    # The task's name says "form" (نموذج): only the problem's code tells that its deadline is wrong.
    xml = (PROJECT_BPMN_DIR / "inquiry.bpmn").read_text(encoding="utf-8").replace(
        'name="تسجيل الاستفسار"', 'name="تعبئة نموذج الاستفسار"', 1)
    xml = re.sub(r'(<bpmn:userTask id="log_inquiry".*?name="slaDue" value=")[^"]*"', r'\1business_days("', xml,
                 count=1, flags=re.S)
    draft_id = engine.run(import_draft, OWNER, xml.encode(), "inquiry.bpmn")
    sign_in(page, live_server, "owner1")
    _open(page, live_server, draft_id, "ar")
    row = page.locator("#problems-list li[data-element='log_inquiry'][data-source='server']")
    row.wait_for(timeout=15000)
    assert "نموذج" in row.inner_text()
    row.locator("button").click()
    page.locator("#modeler-properties [data-entry-id='tawasul-sla-due'] input:focus").wait_for()


def test_a_second_owner_saving_the_same_draft_is_told_and_can_reload(page, live_server, engine, owner):
    draft_id = engine.run(edit_version, OWNER, "inquiry", None)
    sign_in(page, live_server, "owner1")
    _open(page, live_server, draft_id, "ar")
    # Someone else saves the draft meanwhile.
    xml = engine.query(lambda e, s: s.scalars(select(ProcessDefinition.xml).where(
        ProcessDefinition.key == "inquiry")).first())
    engine.run(save_draft, Actor.user("owner2", roles=["process_owner"]), draft_id, 1, xml.encode())
    _click(page, "log_inquiry")
    page.locator("#modeler-properties [data-entry-id='tawasul-priority'] input").fill("70")
    page.locator("#modeler-app[data-dirty='true']").wait_for()
    page.locator("#modeler-save").click()
    conflict = page.locator("#conflict")
    conflict.wait_for(state="visible")
    assert conflict.get_attribute("role") == "alert"
    assert page.locator("#conflict-message").inner_text().strip()
    assert page.locator("#modeler-deploy").is_disabled() and page.locator("#modeler-save").is_disabled()
    assert _axe(page) == []
    page.locator("#conflict-reload").click()
    page.locator("#modeler-app[data-revision='2'][data-ready='true']").wait_for(timeout=20000)
    assert json.loads(page.locator("#modeler-app").get_attribute("data-lists"))["forms"]


def test_a_save_after_signing_out_in_another_tab_says_so_and_is_never_taken_for_saved(page, live_server, engine,
                                                                                        owner):
    draft_id = engine.run(edit_version, OWNER, "inquiry", None)
    sign_in(page, live_server, "owner1")
    _open(page, live_server, draft_id, "ar")
    other = page.context.new_page()  # the same browser: signing out there ends this tab's session too
    other.goto(f"{live_server}/modeler")
    other.locator("form[action='/logout'] button").first.click()
    other.wait_for_url("**/login**")
    _click(page, "log_inquiry")
    page.locator("#modeler-properties [data-entry-id='tawasul-priority'] input").fill("70")
    page.locator("#modeler-app[data-dirty='true']").wait_for()
    page.locator("#modeler-save").click()
    status = page.locator("#modeler-status")
    status.filter(has_text="خرجت من حسابك").wait_for()
    assert "حُفظت المسودة" not in status.inner_text()
    assert page.locator("#modeler-app").get_attribute("data-revision") == "1"
    assert not page.locator("#modeler-save").is_disabled()  # sign in again elsewhere, then save again
    assert engine.query(lambda e, s: s.scalar(select(DefinitionDraft.revision))) == 1


def _semantics(xml: str) -> list[tuple]:
    """Every element of a diagram with its attributes and text: what a round trip must keep."""
    from lxml import etree

    root = etree.fromstring(xml.encode("utf-8"))
    return sorted((element.tag, tuple(sorted(element.attrib.items())), (element.text or "").strip())
                  for element in root.iter() if isinstance(element.tag, str))


@pytest.mark.parametrize("key", ["member_request", "inquiry", "membership_registration"])
def test_todays_diagrams_go_round_the_editor_unchanged(page, live_server, engine, owner, key):
    draft_id = engine.run(edit_version, OWNER, key, None)
    sign_in(page, live_server, "owner1")
    _open(page, live_server, draft_id, "en")
    exported = page.evaluate("async () => (await window.tawasulModeler.saveXML({ format: true })).xml")
    deployed = _versions(engine, key)[0][2]
    assert _semantics(exported) == _semantics(deployed)
    # bpmnlint runs in the browser: its warnings are listed beside the server's (none here).
    app = page.locator("#modeler-app")
    assert app.get_attribute("data-errors") == "0"
    assert page.locator("#problems-list li[data-source='server']").count() == 0


def test_the_panel_offers_the_registered_handlers_and_the_roles_and_keeps_ids_latin(page, live_server, engine,
                                                                                    owner):
    draft_id = engine.run(edit_version, OWNER, "inquiry", None)
    sign_in(page, live_server, "owner1")
    _open(page, live_server, draft_id, "en")
    panel = page.locator("#modeler-properties")
    _click(page, "notify_answered")
    handler = panel.locator("[data-entry-id='tawasul-handler'] select")
    handler.wait_for()
    assert handler.input_value() == "notify_member"
    offered = handler.locator("option").evaluate_all("options => options.map(o => o.value)")
    assert {"notify_member", "set_status"} <= set(offered)
    handler.select_option("set_status")
    xml = page.evaluate("async () => (await window.tawasulModeler.saveXML()).xml")
    assert 'serviceTaskOperator id="set_status" resultVariable="set_status_result"' in xml
    assert 'spiffworkflow:parameter id="template"' in xml  # its parameters are kept
    lanes = json.loads(page.locator("#modeler-app").get_attribute("data-lists"))["lanes"]
    assert {"key": "reception", "label": "Reception (reception)"} in lanes or any(
        lane["key"] == "reception" for lane in lanes)
    lane_id = page.evaluate("""() => window.tawasulModeler.get('elementRegistry')
        .filter(e => e.type === 'bpmn:Lane')[0].id""")
    _click(page, lane_id, ".djs-hit-all")  # the lane's band with its name
    role = panel.locator("[data-entry-id='tawasul-role'] select")
    role.wait_for()
    assert role.input_value() in {lane["key"] for lane in lanes}
    # Ids stay Latin (names may be Arabic): the panel refuses an Arabic id, the element keeps its own.
    _click(page, "log_inquiry")
    ident = panel.locator("[data-entry-id='id'] input")
    ident.fill("تسجيل")
    panel.locator("[data-entry-id='id'] .bio-properties-panel-error").wait_for()
    assert page.evaluate("() => window.tawasulModeler.get('elementRegistry').get('log_inquiry') !== undefined")


@pytest.mark.parametrize("lang", ["ar", "en"])
def test_a_reception_user_gets_403_on_the_modeler(page, live_server, engine, owner, lang):
    engine.run(create_user, SYSTEM, "rana", "secret-pass", "رنا", ["reception"])
    sign_in(page, live_server, "rana")
    for path in ("/modeler", "/modeler/inquiry/diff", "/modeler/inquiry/migrate"):
        response = page.goto(f"{live_server}{path}?lang={lang}")
        assert response.status == 403, path
        assert page.locator("html").get_attribute("lang") == lang
    assert page.locator("#nav-modeler").count() == 0  # and the navigation does not offer it
    assert _axe(page) == []
