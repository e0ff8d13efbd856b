"""The working calendar in Chromium, Arabic and English: an administrator adds a closure, the preview
names the deadline it moves, confirming saves it, and the committee's inbox shows the new due date."""

import pytest

from engine.actors import SYSTEM
from engine.commands import start_instance
from tests.browser.conftest import serious_violations, sign_in
from workflows.operations.accounts import create_user

WORDS = {
    "ar": {"nav": "تقويم العمل", "day": "اليوم المراد إغلاقه", "reason": "السبب", "preview": "معاينة التعديل",
           "sentence": "يتغير موعد مفتوح واحد: موعد واحد (يتأخر يومَ عمل واحدًا).", "confirm": "تأكيد وحفظ",
           "saved": "عُدّل التقويم.", "holiday": "اليوم الوطني", "why": "اجتماع الجمعية العمومية"},
    "en": {"nav": "Working calendar", "day": "Day to close", "reason": "Reason", "preview": "Preview the change",
           "sentence": "1 open deadline moves: 1 deadline (1 working day later).", "confirm": "Confirm and save",
           "saved": "The calendar is changed.", "holiday": "National Day Holiday", "why": "General assembly"},
}


@pytest.mark.parametrize("lang", ["ar", "en"])
def test_a_closure_moves_a_deadline(page, browser, live_server, engine, deploy, lang):
    words = WORDS[lang]
    deploy("committee_sla")
    engine.run(start_instance, SYSTEM, "committee_sla", data={"request_no": 1})
    engine.run(create_user, SYSTEM, "admin1", "secret-pass", "مدير", ["administrator"])
    engine.run(create_user, SYSTEM, "ali", "secret-pass", "علي", ["committee"])
    sign_in(page, live_server, "admin1")
    page.goto(live_server + f"/inbox?lang={lang}")
    page.get_by_role("link", name=words["nav"]).click()
    page.get_by_role("cell", name=words["holiday"]).wait_for()
    assert [v["id"] for v in serious_violations(page)] == []

    closing = page.locator("#form-close")
    closing.get_by_label(words["day"]).fill("2026-12-09")
    closing.get_by_label(words["reason"]).fill(words["why"])
    closing.get_by_role("button", name=words["preview"]).click()
    preview = page.locator("#calendar-preview")
    preview.wait_for()
    assert preview.locator("#preview-sentence").inner_text().strip() == words["sentence"]
    row = preview.get_by_role("row", name="Decide on the request")
    assert "2026-12-15 11:00" in row.inner_text() and "2026-12-16 11:00" in row.inner_text()
    assert [v["id"] for v in serious_violations(page)] == []

    preview.get_by_role("button", name=words["confirm"]).click()
    assert words["saved"] in page.get_by_role("alert").inner_text()
    page.locator("#calendar-days").get_by_role("cell", name=words["why"]).wait_for()
    assert [v["id"] for v in serious_violations(page)] == []

    committee = browser.new_context(locale="ar-SA").new_page()
    try:
        sign_in(committee, live_server, "ali")
        due = committee.locator("td.due-cell").inner_text()
        assert "2026-12-16 11:00" in due and "2026-12-15" not in due
    finally:
        committee.context.close()
