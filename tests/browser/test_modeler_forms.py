"""The form editor in Chromium, in Arabic and English, with axe-core: the preview (the task page's own
renderer) follows the owner's typing, a JSON mistake is named by line and column, and a save keeps
the form with the draft."""

from __future__ import annotations

import json

import pytest

from engine.actors import SYSTEM, Actor
from engine.models import DefinitionDraft
from tests.browser.conftest import serious_violations, sign_in
from tests.support.desk import PROJECT_BPMN_DIR
from workflows.forms import load_form
from workflows.operations.accounts import create_user
from workflows.operations.drafts import import_draft

OWNER = Actor.user("owner1", roles=["process_owner"])
KEY = "inquiry_log.json"
WORDS = {
    "ar": {"label": "نص السؤال كما كتبه العضو", "english": "The question", "line": "السطر", "save": "احفظ النموذج",
           "saved": "حُفظ النموذج مع المسودة"},
    "en": {"label": "نص السؤال كما كتبه العضو", "english": "The member's own words", "line": "look at line",
           "save": "Save the form", "saved": "The form is saved with the draft"},
}


@pytest.fixture
def draft_id(engine) -> int:
    engine.run(create_user, SYSTEM, "owner1", "secret-pass", "مالك العمليات", ["process_owner"])
    return engine.run(import_draft, OWNER, (PROJECT_BPMN_DIR / "inquiry.bpmn").read_bytes(), "inquiry.bpmn")


def _axe(page) -> list[tuple[str, list]]:
    return [(v["id"], [n["target"] for n in v["nodes"]][:5]) for v in serious_violations(page)]


def _with_label(arabic: str, english: str) -> str:
    form = json.loads(json.dumps(load_form(KEY)))
    form["properties"]["question"]["x-label"] = {"ar": arabic, "en": english}
    return json.dumps(form, ensure_ascii=False, indent=2)


@pytest.mark.parametrize("lang", ["ar", "en"])
def test_the_preview_follows_the_owner_typing_and_the_form_is_saved(browser, live_server, engine, draft_id, lang):
    words = WORDS[lang]
    context = browser.new_context(locale="ar-SA", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    sign_in(page, live_server, "owner1")
    page.goto(f"{live_server}/modeler/drafts/{draft_id}/forms/{KEY}?lang={lang}")
    assert page.locator("html").get_attribute("dir") == ("rtl" if lang == "ar" else "ltr")
    preview = page.locator("#form-preview")
    # The preview is the task page's form: Arabic labels, right to left, its own widgets.
    body = preview.locator("#preview-body")
    assert (body.get_attribute("lang"), body.get_attribute("dir")) == ("ar", "rtl")
    assert preview.get_by_label("نص الاستفسار").evaluate("e => e.tagName") == "TEXTAREA"
    assert preview.get_by_label("يمكن الإجابة مباشرة").get_attribute("type") == "checkbox"
    assert _axe(page) == []

    # The owner edits a label: the preview follows, without a save.
    page.locator("#schema").fill(_with_label(words["label"], words["english"]))
    preview.get_by_label(words["label"]).wait_for()
    assert preview.get_by_label("نص الاستفسار").count() == 0
    # In English, the preview shows the English labels, left to right.
    page.locator("#preview-lang").select_option("en")
    preview.get_by_label(words["english"]).wait_for()
    assert body.get_attribute("dir") == "ltr"
    page.locator("#preview-lang").select_option("ar")
    preview.get_by_label(words["label"]).wait_for()

    # A JSON mistake is named by its line and column, in the page's language.
    page.locator("#schema").fill('{\n  "type": "object",\n}')
    page.locator("#preview-problems").wait_for()
    problems = page.locator("#preview-problems").inner_text()
    assert words["line"] in problems and "3" in problems
    assert _axe(page) == []

    # Corrected and saved: kept with the draft.
    page.locator("#schema").fill(_with_label(words["label"], words["english"]))
    preview.get_by_label(words["label"]).wait_for()
    page.get_by_role("button", name=words["save"]).click()
    page.wait_for_load_state("load")
    assert words["saved"] in page.locator("main").inner_text()
    forms = engine.query(lambda e, s: s.get(DefinitionDraft, draft_id).forms)
    assert forms[KEY]["properties"]["question"]["x-label"]["ar"] == words["label"]
    assert _axe(page) == []
    assert errors == []
    context.close()


@pytest.mark.parametrize("lang", ["ar", "en"])
def test_the_editor_fits_a_phone_screen(browser, live_server, draft_id, lang):
    context = browser.new_context(locale="ar-SA", viewport={"width": 390, "height": 800})
    page = context.new_page()
    sign_in(page, live_server, "owner1")
    page.goto(f"{live_server}/modeler/drafts/{draft_id}/forms/{KEY}?lang={lang}")
    overflow = page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 1
    assert _axe(page) == []
    context.close()
