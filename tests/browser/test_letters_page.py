"""Letters in Chromium: reception finds the letters to post, prints one (only the letter is on
paper, in Arabic, under the society's name) and marks it sent."""

from sqlalchemy import select

from engine.actors import SYSTEM
from engine.models import OutboxMessage
from tests.browser.conftest import serious_violations, sign_in
from tests.support.desk import RECEPTION, Desk
from workflows import identity
from workflows.notifications import dispatch_outbox
from workflows.operations.accounts import create_user
from workflows.operations.members import register_member


def test_print_a_letter_and_mark_it_sent(page, live_server, engine):
    desk = Desk(engine)
    desk.member = engine.run(register_member, RECEPTION, name_ar="سالم الدوسري", name_en="Salem Aldosari",
                             national_id=identity.with_check_digit("104444444"))
    request = desk.open("financial_support")
    dispatch_outbox(engine)
    engine.run(create_user, SYSTEM, "rana", "secret-pass", "رنا", ["reception"])
    sign_in(page, live_server, "rana")
    page.get_by_role("link", name="الخطابات").click()
    page.get_by_role("heading", name="خطابات للإرسال بالبريد").wait_for()
    assert [v["id"] for v in serious_violations(page)] == []
    row = page.get_by_role("row", name="سالم الدوسري")
    row.get_by_role("link", name="طباعة").click()
    letter = page.locator("article.letter")
    assert (letter.get_attribute("lang"), letter.get_attribute("dir")) == ("ar", "rtl")
    assert "الجمعية التعاونية متعددة الأغراض بالمحفر" in letter.inner_text()
    assert page.get_by_role("heading", name=f"تم استلام طلبك {request.reference}").is_visible()
    assert [v["id"] for v in serious_violations(page)] == []
    page.emulate_media(media="print")  # on paper: the letter alone
    assert letter.is_visible() and not page.locator("nav").is_visible()
    assert not page.get_by_role("button", name="تسجيل الإرسال").is_visible()
    page.emulate_media(media="screen")
    page.get_by_role("button", name="تسجيل الإرسال").click()
    assert page.get_by_role("alert").inner_text().strip() == "سُجّل إرسال الخطاب إلى سالم الدوسري."
    page.get_by_text("لا توجد خطابات بانتظار الإرسال.").wait_for()
    status = engine.query(lambda e, s: s.scalars(select(OutboxMessage.status)
                                                 .where(OutboxMessage.recipient == f"member:{desk.member.id}")).all())
    assert status == ["sent"]
    page.goto(live_server + "/letters?lang=en")
    assert page.locator("html").get_attribute("dir") == "ltr"
    assert page.get_by_role("heading", name="Letters to post").is_visible()
    assert page.get_by_text("No letter is waiting to be posted.").is_visible()
    assert [v["id"] for v in serious_violations(page)] == []
