"""Sign in, see the inbox, claim a task, switch language — in Chromium, Arabic and English."""

import pytest

from engine.actors import SYSTEM
from engine.commands import start_instance
from engine.definitions import deploy_definition
from tests.browser.conftest import serious_violations, sign_in
from tests.conftest import BPMN_DIR
from workflows.members import member_contacts
from workflows.operations.accounts import create_user


def _setup(engine):
    engine.run(lambda e, s: create_user(e, s, SYSTEM, "rana", "secret-pass", "رنا", ["reception"]))
    path = BPMN_DIR / "review.bpmn"
    engine.run(deploy_definition, SYSTEM, path.read_bytes(), path.name)
    engine.run(start_instance, SYSTEM, "review", data={"request_no": 1})


def _serious_violations(page):
    return [v["id"] for v in serious_violations(page)]


def test_sign_in_claim_and_switch_language(page, live_server, engine):
    _setup(engine)
    page.goto(live_server + "/login")
    assert page.locator("html").get_attribute("dir") == "rtl"
    assert _serious_violations(page) == []
    page.get_by_label("اسم المستخدم").fill("rana")
    page.get_by_label("كلمة المرور").fill("wrong-pass")
    page.get_by_role("button", name="تسجيل الدخول").click()
    assert page.get_by_role("alert").inner_text().strip() == "اسم المستخدم أو كلمة المرور غير صحيحة."
    page.get_by_label("كلمة المرور").fill("secret-pass")
    page.get_by_role("button", name="تسجيل الدخول").click()
    page.wait_for_url("**/inbox")
    assert page.get_by_role("heading", name="صندوق المهام").is_visible()
    # Filters refresh the table in place (htmx) and keep the URL in step.
    page.locator("#sla").select_option("late")
    page.get_by_text("لا توجد مهام بانتظارك.").wait_for()
    assert "sla=late" in page.url
    page.locator("#sla").select_option("")
    page.locator("#q").fill("لا أحد بهذا الاسم")
    page.get_by_text("لا توجد مهام بانتظارك.").wait_for()
    page.locator("#q").fill("")
    page.get_by_role("row", name="Check completeness").wait_for()
    row = page.get_by_role("row", name="Check completeness")
    row.get_by_role("button", name="استلام").click()  # htmx: the table is replaced in place
    page.get_by_role("button", name="إعادة للمسار").wait_for()
    assert "rana" in page.get_by_role("row", name="Check completeness").inner_text()
    assert _serious_violations(page) == []

    page.get_by_role("link", name="English").click()
    page.wait_for_url("**/inbox?lang=en")
    assert page.locator("html").get_attribute("dir") == "ltr"
    assert page.get_by_role("heading", name="Inbox").is_visible()
    page.get_by_role("button", name="Release").click()
    page.get_by_role("button", name="Claim").wait_for()
    assert _serious_violations(page) == []
    page.goto(live_server + "/inbox")  # the choice is remembered
    assert page.locator("html").get_attribute("lang") == "en"
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/login")


def test_task_form_with_an_error_then_fixed(page, live_server, engine):
    from tests.support.desk import Desk

    Desk(engine).open("financial_support")
    engine.run(lambda e, s: create_user(e, s, SYSTEM, "rana", "secret-pass", "رنا", ["reception"]))
    sign_in(page, live_server, "rana")
    page.get_by_role("link", name="استقبال العضو والإجابة على استفساراته").click()
    page.get_by_role("button", name="إنجاز المهمة").click()  # nothing filled in
    assert page.locator("#e-visit_summary").inner_text() == "هذا الحقل مطلوب."
    # The summary at the top has the focus and leads to the field.
    assert page.evaluate("document.activeElement.id") == "error-summary"
    page.locator("#error-summary").get_by_role("link", name="ملخص المقابلة والاستفسارات").click()
    assert page.evaluate("document.activeElement.id") == "f-visit_summary"
    assert _serious_violations(page) == []
    page.get_by_label("ملخص المقابلة والاستفسارات").fill("سأل عن شروط الدعم")
    page.get_by_label("تمت الإجابة على جميع الاستفسارات").check()
    page.get_by_role("button", name="إنجاز المهمة").click()
    page.wait_for_url("**/inbox")
    assert page.get_by_role("alert").inner_text().strip() == "أُنجزت المهمة."


def test_case_diagram_is_drawn_with_its_progress(page, live_server, engine):
    from engine.actors import Actor
    from tests.support.desk import Desk

    desk = Desk(engine)
    request = desk.open("financial_support")
    desk.complete(Actor.user("r", ["reception"]), request, "intake", {"visit_summary": "تم", "inquiries_answered": True})
    engine.run(lambda e, s: create_user(e, s, SYSTEM, "rana", "secret-pass", "رنا", ["reception"]))
    sign_in(page, live_server, "rana")
    page.goto(live_server + f"/cases/{request.instance_id}")
    page.locator('#diagram[data-ready="true"]').wait_for()
    assert page.locator("#diagram svg").count() >= 1  # bpmn-js drew the canvas
    assert page.locator('.djs-element.done[data-element-id="intake"]').count() == 1
    assert page.locator('.djs-element.active[data-element-id="check_data"]').count() == 1
    assert page.locator("html").get_attribute("dir") == "rtl"
    assert page.locator("#diagram").evaluate("e => getComputedStyle(e).direction") == "ltr"
    lanes = page.locator('#diagram .djs-element[data-element-id^="Lane_"] text').all_text_contents()
    assert "الاستقبال" in " ".join(lanes) and "reception" not in " ".join(lanes)
    assert _serious_violations(page) == []
    # Readable at its first size: fitted, but not below the minimum zoom, the current task in view.
    diagram = page.locator("#diagram")
    opened = float(diagram.get_attribute("data-zoom"))
    assert opened >= 0.75
    box, task = diagram.bounding_box(), page.locator('.djs-element.active[data-element-id="check_data"]').bounding_box()
    assert box["x"] <= task["x"] and task["x"] + task["width"] <= box["x"] + box["width"], (box, task)
    assert box["y"] <= task["y"] and task["y"] + task["height"] <= box["y"] + box["height"], (box, task)
    page.get_by_role("button", name="تكبير", exact=True).click()
    assert float(diagram.get_attribute("data-zoom")) > opened
    page.get_by_role("button", name="ملاءمة المخطط").click()
    assert float(diagram.get_attribute("data-zoom")) == opened


def test_the_case_diagram_at_phone_width_opens_readable_with_the_current_task_in_view(browser, live_server, engine):
    from engine.actors import Actor
    from tests.support.desk import Desk

    desk = Desk(engine)
    request = desk.open("financial_support")
    desk.complete(Actor.user("r", ["reception"]), request, "intake", {"visit_summary": "تم", "inquiries_answered": True})
    engine.run(lambda e, s: create_user(e, s, SYSTEM, "rana", "secret-pass", "رنا", ["reception"]))
    context = browser.new_context(locale="ar-SA", viewport={"width": 390, "height": 844})
    page = context.new_page()
    sign_in(page, live_server, "rana")
    page.goto(live_server + f"/cases/{request.instance_id}?lang=en")
    page.locator('#diagram[data-ready="true"]').wait_for()
    diagram = page.locator("#diagram")
    assert float(diagram.get_attribute("data-zoom")) == 0.75  # fitted it would be far smaller: held at the minimum
    box, task = diagram.bounding_box(), page.locator('.djs-element.active[data-element-id="check_data"]').bounding_box()
    assert box["x"] <= task["x"] and task["x"] + task["width"] <= box["x"] + box["width"], (box, task)
    page.get_by_role("button", name="Zoom out").click()
    assert float(diagram.get_attribute("data-zoom")) < 0.75  # smaller on request
    context.close()


def test_member_page_in_both_languages(page, live_server, engine):
    from tests.support.desk import Desk

    desk = Desk(engine)
    engine.run(lambda e, s: create_user(e, s, SYSTEM, "rana", "secret-pass", "رنا", ["reception"]))
    sign_in(page, live_server, "rana")
    page.get_by_role("link", name="الأعضاء").click()
    page.get_by_role("searchbox", name="بحث").fill("نوره")  # another spelling of her name still finds her
    page.get_by_role("button", name="بحث").click()
    page.get_by_role("link", name="نورة العتيبي").click()
    page.get_by_label("الملخص").last.fill("اتصل يسأل عن طلبه")
    page.get_by_role("button", name="تسجيل التواصل").click()
    assert "سُجّل التواصل." in page.get_by_role("alert").inner_text()
    assert _serious_violations(page) == []
    page.goto(page.url + "?lang=en")
    assert page.locator("html").get_attribute("dir") == "ltr" and page.get_by_role("heading", name="Contacts").is_visible()
    assert _serious_violations(page) == []
    contacts = engine.query(lambda e, s: [(c.staff, c.channel, c.summary) for c in member_contacts(s, desk.member.id)])
    assert contacts[0] == ("rana", "in_person", "اتصل يسأل عن طلبه")


def test_users_page_is_accessible_in_both_languages(page, live_server, engine):
    engine.run(lambda e, s: create_user(e, s, SYSTEM, "admin1", "secret-pass", "مدير", ["administrator"]))
    sign_in(page, live_server, "admin1")
    page.goto(live_server + "/admin/users")
    assert page.get_by_role("heading", name="المستخدمون والأدوار").is_visible()
    assert _serious_violations(page) == []
    page.goto(live_server + "/admin/users?lang=en")
    assert page.get_by_role("heading", name="Users and roles").is_visible()
    assert _serious_violations(page) == []


def test_verification_task_checklist_upload_draft_and_saved_view(page, live_server, engine, tmp_path):
    from tests.support.desk import RECEPTION, Desk

    engine.settings["documents"] = {"dir": str(tmp_path / "uploads"), "max_mb": 5, "types": ["pdf"]}
    desk = Desk(engine)
    request = desk.open("financial_support")
    desk.complete(RECEPTION, request, "intake", {"visit_summary": "حضر", "inquiries_answered": True})
    engine.run(lambda e, s: create_user(e, s, SYSTEM, "rana", "secret-pass", "رنا", ["reception"]))
    income = tmp_path / "income.pdf"
    income.write_bytes(b"%PDF-1.7\n" + b"0" * 100)
    sign_in(page, live_server, "rana")
    # Save the current view, then open the verification task.
    page.locator("#saved-views summary").click()
    page.get_by_placeholder("اسم العرض").fill("مهامي")
    page.locator("#saved-views").get_by_role("button", name="حفظ").click()
    page.get_by_role("link", name="مهامي").wait_for()
    page.get_by_role("link", name="التحقق من اكتمال البيانات وصحتها").click()
    item = page.locator('li.doc-item[data-kind="national_id"]')
    item.get_by_label("الحالة").select_option("verified")
    item.get_by_role("button", name="حفظ").click()
    page.wait_for_url("**#docs-heading")
    assert page.locator('li.doc-item[data-kind="national_id"] .doc-state').inner_text() == "تم التحقق"
    income_item = page.locator('li.doc-item[data-kind="income_proof"]')
    income_item.get_by_label("الحالة").select_option("received")
    income_item.locator('input[type="file"]').set_input_files(str(income))
    income_item.get_by_role("button", name="حفظ").click()
    page.get_by_role("link", name="تنزيل الملف").wait_for()
    assert _serious_violations(page) == []
    page.get_by_label("ملاحظات التحقق").fill("ينقص شهادة الآيبان")
    page.get_by_role("button", name="حفظ كمسودة").click()
    assert page.get_by_label("ملاحظات التحقق").input_value() == "ينقص شهادة الآيبان"
    assert page.locator("#draft-saved").is_visible()
    page.get_by_role("link", name="English").click()
    assert page.locator("html").get_attribute("dir") == "ltr"
    assert page.get_by_role("button", name="Save as draft").is_visible()
    assert _serious_violations(page) == []


def test_new_work_appears_in_the_open_inbox_without_a_reload(page, live_server, engine):
    from tests.support.desk import Desk

    desk = Desk(engine)
    desk.open("financial_support")
    engine.settings.setdefault("inbox", {})["refresh_seconds"] = 1
    engine.run(lambda e, s: create_user(e, s, SYSTEM, "rana", "secret-pass", "رنا", ["reception"]))
    sign_in(page, live_server, "rana")
    rows = page.locator("#inbox-table tr[data-task]")
    assert rows.count() == 1
    page.evaluate("window.notReloaded = true")
    second = desk.open("in_kind_support")
    page.locator(f"#inbox-table a:text('{second.reference}')").wait_for(timeout=10_000)
    assert rows.count() == 2 and page.evaluate("window.notReloaded") is True
    assert "مهمتان" in page.locator("#inbox-table").inner_text()


def test_the_first_tab_offers_to_skip_to_the_content(page, live_server, engine):
    _setup(engine)
    sign_in(page, live_server, "rana")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="تخطَّ إلى المحتوى")
    assert skip.evaluate("e => e === document.activeElement") and skip.is_visible()
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"


def test_a_count_badge_filters_by_its_deadline_state(page, live_server, engine):
    _setup(engine)
    sign_in(page, live_server, "rana")
    page.get_by_role("button", name="متأخرة: 0").click()
    page.get_by_text("لا توجد مهام بانتظارك.").wait_for()
    assert "sla=late" in page.url and page.locator("#sla").input_value() == "late"
    assert page.get_by_role("button", name="متأخرة: 0").get_attribute("aria-pressed") == "true"
    page.get_by_role("button", name="متأخرة: 0").click()  # again: every state
    page.get_by_role("row", name="Check completeness").wait_for()
    assert page.locator("#sla").input_value() == ""


@pytest.mark.parametrize("lang", ["ar", "en"])
def test_on_a_phone_each_inbox_task_is_a_card_with_its_deadline_and_claim_button_on_screen(browser, live_server,
                                                                                          engine, lang):
    from tests.support.desk import Desk

    desk = Desk(engine)
    for _ in range(2):
        desk.open("financial_support")
    engine.run(lambda e, s: create_user(e, s, SYSTEM, "rana", "secret-pass", "رنا", ["reception"]))
    context = browser.new_context(locale="ar-SA", viewport={"width": 390, "height": 844})
    page = context.new_page()
    sign_in(page, live_server, "rana")
    page.goto(live_server + f"/inbox?lang={lang}")
    rows = page.locator("#inbox-table tr[data-task]")
    assert rows.count() == 2
    for n in range(2):
        row = rows.nth(n)
        card, due = row.bounding_box(), row.locator("td.due-cell").bounding_box()
        claim = row.get_by_role("button", name="استلام" if lang == "ar" else "Claim").bounding_box()
        for box in (due, claim):  # on screen, not beside the card
            assert box["x"] >= 0 and box["x"] + box["width"] <= 390, (box, card)
        assert card["width"] <= 390 and claim["y"] > due["y"]  # one under another, not side by side
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    assert _serious_violations(page) == []
    context.close()


def test_a_date_inside_an_arabic_refusal_reads_in_its_own_order(page, live_server, engine):
    """«أنجز omar هذه المهمة من قبل في 2026-12-01 11:00 (…)»: without isolation the Arabic sentence
    lays the date's parts right to left, the time before the day."""
    import re

    from engine.actors import Actor
    from engine.commands import complete_task
    from tests.support.desk import Desk

    desk = Desk(engine)
    request = desk.open("financial_support")
    engine.run(lambda e, s: create_user(e, s, SYSTEM, "rana", "secret-pass", "رنا", ["reception"]))
    sign_in(page, live_server, "rana")
    page.get_by_role("link", name="استقبال العضو والإجابة على استفساراته").click()
    page.get_by_label("ملخص المقابلة والاستفسارات").fill("سأل عن شروط الدعم")
    page.get_by_label("تمت الإجابة على جميع الاستفسارات").check()
    engine.run(complete_task, Actor.user("omar", ["reception"]), desk.task(request, "intake").id,
               {"visit_summary": "تم", "inquiries_answered": True})  # someone else, meanwhile
    page.get_by_role("button", name="إنجاز المهمة").click()
    page.wait_for_url("**/inbox")
    alert = page.get_by_role("alert")
    text = alert.inner_text()
    day, time = re.search(r"(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2})", text).groups()
    # Where the day and the time are drawn: in reading order for a date, the day is left of the time.
    left = alert.evaluate("""(box, parts) => {
        const node = [...box.childNodes].find(n => n.nodeType === Node.TEXT_NODE && n.data.includes(parts[0]));
        const at = (s) => { const r = document.createRange(); const i = node.data.indexOf(s);
                            r.setStart(node, i); r.setEnd(node, i + s.length); return r.getBoundingClientRect().left; };
        return [at(parts[0]), at(parts[1])];
    }""", [day, time])
    assert left[0] < left[1], (text, left)


def test_a_file_name_inside_an_arabic_refusal_reads_in_its_own_order(page, live_server, engine, tmp_path):
    """«2026 report.pdf» inside an Arabic sentence: without isolation the year, a number next to
    Arabic text, is drawn after the rest of the name ("report.pdf 2026")."""
    from tests.support.desk import RECEPTION, Desk

    engine.settings["documents"] = {"dir": str(tmp_path / "uploads"), "max_mb": 5, "types": ["pdf"]}
    desk = Desk(engine)
    request = desk.open("financial_support")
    desk.complete(RECEPTION, request, "intake", {"visit_summary": "حضر", "inquiries_answered": True})
    engine.run(lambda e, s: create_user(e, s, SYSTEM, "rana", "secret-pass", "رنا", ["reception"]))
    fake = tmp_path / "2026 report.pdf"
    fake.write_bytes(b"<html>not a pdf</html>")
    sign_in(page, live_server, "rana")
    page.get_by_role("link", name="التحقق من اكتمال البيانات وصحتها").click()
    item = page.locator('li.doc-item[data-kind="income_proof"]')
    item.get_by_label("الحالة").select_option("received")
    item.locator('input[type="file"]').set_input_files(str(fake))
    item.get_by_role("button", name="حفظ").click()
    alert = page.get_by_role("alert")
    assert "ليس ملف" in alert.inner_text()
    left = alert.evaluate("""(box, parts) => {
        const node = [...box.childNodes].find(n => n.nodeType === Node.TEXT_NODE && n.data.includes(parts[0]));
        const at = (s) => { const r = document.createRange(); const i = node.data.indexOf(s);
                            r.setStart(node, i); r.setEnd(node, i + s.length); return r.getBoundingClientRect().left; };
        return [at(parts[0]), at(parts[1])];
    }""", ["2026", "report"])
    assert left[0] < left[1], (alert.inner_text(), left)
