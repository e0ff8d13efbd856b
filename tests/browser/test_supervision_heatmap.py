"""The heat map and the incidents in Chromium, in Arabic and English, with axe-core: the diagram's
user tasks are coloured and badged, clicking one lists its open cases; an incident is retried."""

from datetime import timedelta

from engine.actors import SYSTEM
from engine.jobs import run_due_jobs
from engine.models import Job, OutboxMessage, TaskRecord
from tests.browser.conftest import serious_violations
from tests.conftest import T0
from tests.support.desk import Desk
from workflows.operations.accounts import create_user


def sign_in(page, live_server, username):
    """Sign in through the Arabic page; a supervisor's home may be the inbox or the board."""
    page.goto(live_server + "/login?lang=ar")
    page.get_by_label("اسم المستخدم").fill(username)
    page.get_by_label("كلمة المرور").fill("secret-pass")
    page.get_by_role("button", name="تسجيل الدخول").click()
    page.wait_for_url(lambda url: "/login" not in url)


def _history(engine, instance_id, met):
    with engine.unit_of_work() as uow:
        for number, ok in enumerate(met):
            uow.session.add(TaskRecord(
                task_id=f"old-{number}", instance_id=instance_id, process_key="member_request", process_version=1,
                element_id="intake", name="intake", lane="reception", candidate_group=None,
                opened_at=T0 - timedelta(days=9), first_claimed_at=T0 - timedelta(days=9, hours=-2),
                first_claimed_by="x", assignee="x", closed_at=T0 - timedelta(days=8), closed_by="x",
                outcome="completed", due_at=None, warn_at=None, deadline_met=ok, escalation_level=0))
        uow.commit()


def test_the_heat_map_colours_the_tasks_and_a_click_lists_the_open_cases(page, live_server, engine):
    desk = Desk(engine)
    request = desk.open("financial_support")
    _history(engine, request.instance_id, [True, False, True])  # one in three missed: 25% or more
    engine.run(create_user, SYSTEM, "sara", "secret-pass", "سارة", ["supervisor"])
    sign_in(page, live_server, "sara")
    for lang, words in (("ar", {"cases": "الحالات المفتوحة", "band": "25% أو أكثر من المواعيد فائتة",
                                "task": "استقبال العضو"}),
                        ("en", {"cases": "Open cases", "band": "25% or more of deadlines missed",
                                "task": "Receive the member"})):
        page.goto(f"{live_server}/supervision/processes?lang={lang}")
        assert [v["id"] for v in serious_violations(page)] == []
        page.locator("#process-list a[href='/supervision/processes/member_request']").click()
        page.locator("#heatmap[data-ready='true']").wait_for()
        intake = page.locator("#heatmap .djs-element[data-element-id='intake']")
        assert "heat-high" in intake.get_attribute("class")
        assert words["task"] in intake.text_content()  # drawn in the page's language
        assert page.locator("#heatmap .heat-badge[data-element='intake']").inner_text() == "1"
        assert page.locator("#heatmap .heat-rate[data-element='intake']").inner_text() == "33%"
        assert page.locator("#heatmap .djs-element.heat-none").count() >= 1  # tasks with no history yet
        assert words["band"] in page.locator("#heatmap-legend").inner_text()
        cases = page.locator("[data-open-cases='intake']")
        assert not cases.is_visible()
        intake.click()
        cases.wait_for(state="visible")
        link = cases.get_by_role("link", name=request.reference)
        assert link.get_attribute("href") == f"/cases/{request.instance_id}"
        assert ("نورة العتيبي" if lang == "ar" else "Noura Alotaibi") in cases.inner_text()
        assert page.get_by_role("heading", name=words["cases"]).is_visible()
        assert [v["id"] for v in serious_violations(page)] == []
    link.click()
    page.wait_for_url(f"**/cases/{request.instance_id}")


def test_an_incident_is_retried_from_the_page(page, live_server, engine):
    desk = Desk(engine)
    request = desk.open("financial_support")
    ids = []
    with engine.unit_of_work() as uow:
        for _ in range(2):
            job = Job(kind="mystery", instance_id=request.instance_id, task_id=f"x{len(ids)}", element_id="intake",
                      due_at=T0, status="pending", attempts=0, max_attempts=1, payload={}, created_at=T0)
            uow.session.add(job)
            uow.session.flush()
            ids.append(job.id)
        uow.commit()
    assert run_due_jobs(engine, T0).incidents == 2
    with engine.unit_of_work() as uow:
        message = OutboxMessage(created_at=T0, kind="task_warning", recipient="group:reception",
                                instance_id=request.instance_id, payload={"channel": "email"}, status="failed",
                                attempts=5, last_error="SMTPError: refused")
        uow.session.add(message)
        uow.commit()
        message_id = message.id
    engine.run(create_user, SYSTEM, "sara", "secret-pass", "سارة", ["supervisor"])
    sign_in(page, live_server, "sara")
    page.locator("#nav-incidents").click()
    page.get_by_role("heading", name="الأعطال", exact=True).wait_for()
    assert [v["id"] for v in serious_violations(page)] == []
    page.get_by_role("button", name=f"إعادة محاولة المهمة الآلية {ids[0]}").click()
    assert page.get_by_role("alert").inner_text().strip() == (
        f"سيُعاد تشغيل المهمة الآلية {ids[0]} الآن، بعدد جديد من المحاولات.")
    assert page.locator(f"[data-job='{ids[0]}']").count() == 0
    assert engine.query(lambda e, s: s.get(Job, ids[0]).status) == "pending"
    page.goto(live_server + "/supervision/incidents?lang=en")
    assert page.locator("html").get_attribute("dir") == "ltr"
    page.get_by_role("button", name=f"Retry job {ids[1]}").click()
    assert page.get_by_role("alert").inner_text().strip() == (
        f"Job {ids[1]} will run again now, with a fresh set of attempts.")
    assert page.get_by_text("No automatic step is waiting for a person.").is_visible()
    assert "SMTPError: refused" in page.locator(f"[data-message='{message_id}']").inner_text()
    assert [v["id"] for v in serious_violations(page)] == []
    page.get_by_role("button", name=f"Send notification {message_id} again").click()
    assert page.get_by_role("alert").inner_text().strip() == f"Notification {message_id} will be sent again."
    assert page.get_by_text("Every notification was sent or is on its way.").is_visible()
    assert engine.query(lambda e, s: s.get(OutboxMessage, message_id).status) == "pending"
    assert page.locator("#nav-incidents").count() == 0  # nothing waits: no badge
