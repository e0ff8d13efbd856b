"""The live risk board in Chromium, on the demo's data, in Arabic and English with axe-core: it lists
the demo's at-risk committee reviews, and a supervisor reassigns a late task from it with a reason
that the case's history then shows."""

import pytest

from engine.actors import SYSTEM
from engine.models import HumanTask
from engine.queries import list_tasks
from engine.sla import AT_RISK, LATE, sla_state
from tests.browser.conftest import serious_violations
from tests.support.desk import deploy_project_diagrams
from workflows.demo import load_demo


@pytest.fixture
def demo(engine):
    deploy_project_diagrams(engine)
    load_demo(engine)
    now = engine.clock.now()
    return {state: [t for t in engine.query(list_tasks, SYSTEM) if t.element_id == "committee_review"
                    and sla_state(t.due_at, t.warn_at, now) == state] for state in (AT_RISK, LATE)}


def _sign_in(page, live_server, language, user, password, button):
    page.goto(f"{live_server}/login?lang={language}")
    page.get_by_label(user).fill("supervisor1")
    page.get_by_label(password).fill("demo-pass")
    page.get_by_role("button", name=button).click()
    page.wait_for_url("**/supervision")


@pytest.mark.parametrize("language, words", [
    ("ar", {"user": "اسم المستخدم", "password": "كلمة المرور", "sign_in": "تسجيل الدخول", "title": "لوحة المخاطر الحية",
            "person": "إسناد إلى", "reason": "السبب", "reassign": "إعادة الإسناد", "done": "أُسندت المهمة إلى",
            "why": "المراجع الأصلي في إجازة"}),
    ("en", {"user": "User name", "password": "Password", "sign_in": "Sign in", "title": "Live risk board",
            "person": "Assign to", "reason": "Reason", "reassign": "Reassign", "done": "The task is reassigned to",
            "why": "The first reviewer is on leave"}),
])
def test_the_board_lists_the_at_risk_reviews_and_a_late_task_is_reassigned_with_a_reason(
        page, live_server, engine, demo, language, words):
    assert len(demo[AT_RISK]) == 2 and demo[LATE]
    _sign_in(page, live_server, language, words["user"], words["password"], words["sign_in"])
    assert page.locator("html").get_attribute("lang") == language
    page.get_by_role("heading", name=words["title"]).wait_for()
    for review in demo[AT_RISK]:
        assert page.locator(f'#risk-table tr[data-task="{review.id}"]').get_attribute("data-sla-state") == AT_RISK
    assert [v["id"] for v in serious_violations(page)] == []
    late = demo[LATE][0]
    row = page.locator(f'#risk-table tr[data-task="{late.id}"]')
    assert row.get_attribute("data-sla-state") == LATE
    row.get_by_label(words["person"]).select_option("committee1")
    row.get_by_label(words["reason"]).fill(words["why"])
    row.get_by_role("button", name=words["reassign"]).click()
    page.wait_for_url("**/supervision")
    assert words["done"] in page.get_by_role("alert").inner_text()
    assert engine.query(lambda e, s: s.get(HumanTask, late.id).assignee) == "committee1"
    page.goto(f"{live_server}/cases/{late.instance_id}")
    assert words["why"] in page.locator(".history-reason").inner_text()
    assert [v["id"] for v in serious_violations(page)] == []
