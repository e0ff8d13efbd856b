"""The live risk board (`/supervision`) with the demo's data: who may open it, what it lists, counts
that open the inbox on exactly their tasks, and reassignment with a reason; and the supervisor's
inbox, which now shows every lane."""

import html
import re

import pytest
from sqlalchemy import select

from engine.actors import SYSTEM, Actor
from engine.models import AuditEvent, HumanTask
from engine.queries import list_tasks
from engine.sla import AT_RISK, sla_state
from tests.support.desk import deploy_project_diagrams
from tests.web.helpers import csrf_token, sign_in
from web import auth, create_app
from workflows.demo import load_demo
from workflows.operations.tasks import complete_task


@pytest.fixture
def demo(engine):
    auth.throttle._failures.clear()
    deploy_project_diagrams(engine)
    load_demo(engine)
    return engine


@pytest.fixture
def client(demo):
    return create_app({"TESTING": True}, engine=demo).test_client()


def _signed_in(client, username):
    sign_in(client, username, "demo-pass")
    return client


def _at_risk_reviews(engine):
    now = engine.clock.now()
    return [t for t in engine.query(list_tasks, SYSTEM)
            if t.element_id == "committee_review" and sla_state(t.due_at, t.warn_at, now) == AT_RISK]


def test_anonymous_people_are_sent_to_sign_in(client):
    response = client.get("/supervision")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


@pytest.mark.parametrize("username", ["reception1", "committee1", "owner1", "member1"])
def test_no_one_but_supervisors_and_administrators_opens_the_board_or_reassigns(client, demo, username):
    _signed_in(client, username)
    assert client.get("/supervision").status_code == 403
    [task, *_] = _at_risk_reviews(demo)
    token = csrf_token(client.get("/login").get_data(as_text=True)) if username == "member1" else csrf_token(
        client.get("/members").get_data(as_text=True))
    refused = client.post(f"/supervision/tasks/{task.id}/reassign",
                          data={"csrf_token": token, "assign_to": "committee1", "reason": "إجازة"})
    assert refused.status_code == 403
    assert demo.query(lambda e, s: s.get(HumanTask, task.id).assignee) == task.assignee


@pytest.mark.parametrize("username", ["supervisor1", "admin1"])
def test_the_board_lists_the_demos_at_risk_committee_reviews_in_arabic_and_english(client, demo, username):
    reviews = _at_risk_reviews(demo)
    assert len(reviews) == 2  # the demo's two reviews at risk
    page = _signed_in(client, username).get("/supervision").get_data(as_text=True)
    assert '<html lang="ar" dir="rtl">' in page and "لوحة المخاطر الحية" in page
    for review in reviews:
        assert f'<tr data-task="{review.id}" data-sla-state="at_risk">' in page
    assert 'id="nav-supervision"' in page and "الإشراف" in page
    english = client.get("/supervision?lang=en").get_data(as_text=True)
    assert "Live risk board" in english and "Escalations in progress" in english and "Forecast" in english
    # Late ones first, then at risk: the rows come in the order of their breach.
    states = re.findall(r'<tr data-task="[^"]+" data-sla-state="([a-z_]+)">', page)
    order = {"late": 0, "at_risk": 1, "no_deadline": 2}
    assert states == sorted(states, key=order.get) and "late" in states and "at_risk" in states


def test_a_supervisor_starts_on_the_board(client):
    token = csrf_token(client.get("/login").get_data(as_text=True))
    landed = client.post("/login", data={"username": "supervisor1", "password": "demo-pass", "csrf_token": token})
    assert landed.headers["Location"] == "/supervision"


def test_a_supervisor_sees_every_lanes_work_in_the_inbox_read_only(client, demo):
    _signed_in(client, "supervisor1")
    page = client.get("/inbox?sla=at_risk").get_data(as_text=True)
    for review in _at_risk_reviews(demo):
        assert f'<tr data-task="{review.id}">' in page
    lane_filter = re.search(r'<select id="lane".*?</select>', page, re.S).group(0)
    for lane in ("reception", "social_researcher", "committee", "service_delivery", "supervisor"):
        assert f'<option value="{lane}"' in lane_filter
    # Reassignment offers everyone holding the committee lane (the demo has one) beside the supervisor's own.
    assert "<option>committee1</option>" in page
    # The task page of another lane's task opens read-only: its form is disabled until claimed.
    review = _at_risk_reviews(demo)[0]
    task_page = client.get(f"/tasks/{review.id}").get_data(as_text=True)
    assert 'id="oversee-only"' in task_page and "disabled" in task_page
    token = csrf_token(task_page)
    refused = client.post(f"/tasks/{review.id}", data={"csrf_token": token, "action": "complete"})
    assert refused.status_code == 403
    client.post(f"/tasks/{review.id}/claim", data={"csrf_token": token, "next": "task"})
    claimed = client.get(f"/tasks/{review.id}").get_data(as_text=True)
    assert 'id="oversee-only"' not in claimed
    # The reception user still sees only the reception lane.
    other = create_app({"TESTING": True}, engine=demo).test_client()
    _signed_in(other, "reception1")
    reception = other.get("/inbox").get_data(as_text=True)
    assert f'<tr data-task="{review.id}">' not in reception
    assert '<option value="committee"' not in re.search(r'<select id="lane".*?</select>', reception, re.S).group(0)


def test_every_count_opens_the_inbox_on_exactly_the_tasks_it_counts(client):
    _signed_in(client, "supervisor1")
    page = client.get("/supervision").get_data(as_text=True)
    links = re.findall(r'<a href="(/inbox\?[^"]+)" data-count="(\d+)">', page)
    assert len(links) >= 8
    dimensions = set()
    for href, count in links:
        href = html.unescape(href)
        dimensions.update(key for key in ("lane", "process", "group", "assignee") if f"{key}=" in href)
        inbox = client.get(href).get_data(as_text=True)
        assert inbox.count("<tr data-task=") == int(count), href
    assert dimensions == {"lane", "process", "group", "assignee"}


def test_reassigning_from_the_board_needs_a_reason_and_a_lane_holder_and_keeps_the_reason(client, demo):
    _signed_in(client, "supervisor1")
    page = client.get("/supervision").get_data(as_text=True)
    token = csrf_token(page)
    review = _at_risk_reviews(demo)[0]
    form = re.search(rf'action="/supervision/tasks/{review.id}/reassign".*?</form>', page, re.S).group(0)
    assert "<option value=\"committee1\"" in form and 'name="reason" required' in form

    def post(**data):
        return client.post(f"/supervision/tasks/{review.id}/reassign", data={"csrf_token": token, **data},
                           follow_redirects=True).get_data(as_text=True)

    def assignee():
        return demo.query(lambda e, s: s.get(HumanTask, review.id).assignee)

    before = assignee()
    assert "«السبب» مطلوب." in post(assign_to="committee1", reason="  ") and assignee() == before
    refused = post(assign_to="reception1", reason="ضغط العمل")
    assert "ليس في فريق" in refused and "reception1" in refused and assignee() == before
    assert "not in the" in client.post(f"/supervision/tasks/{review.id}/reassign?lang=en",
                                       data={"csrf_token": token, "assign_to": "reception1", "reason": "x"},
                                       follow_redirects=True).get_data(as_text=True)
    client.get("/supervision?lang=ar")
    done = post(assign_to="committee1", reason="المراجع الأصلي في إجازة")
    assert "أُسندت المهمة إلى" in done and assignee() == "committee1"
    events = demo.query(lambda e, s: s.scalars(select(AuditEvent).where(AuditEvent.task_id == review.id,
                                                                       AuditEvent.action == "assigned")).all())
    assert [ev.summary.get("reason") for ev in events] == ["المراجع الأصلي في إجازة"]
    case = client.get(f"/cases/{review.instance_id}").get_data(as_text=True)
    assert "المراجع الأصلي في إجازة" in case
    # A task that has closed: said so, nothing changed.
    demo.run(complete_task, Actor.user("committee1", ["committee"], roles=["committee"]), review.id,
             {"outcome": "accepted", "reason": "مستوفٍ", "committee_members": ["أحمد"]})
    gone = post(assign_to="committee1", reason="مرة أخرى")
    assert "هذه المهمة من قبل" in gone and demo.query(lambda e, s: s.get(HumanTask, review.id)) is None
