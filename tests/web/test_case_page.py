"""The case page: diagram version, markers of progress, history, data, open tasks."""

import json
import re

import pytest

from engine.actors import SYSTEM, Actor
from tests.support.desk import Desk
from tests.web.helpers import sign_in as _login
from web import auth, create_app
from workflows.operations.accounts import create_user


@pytest.fixture
def client_and_case(engine):
    auth.throttle._failures.clear()
    desk = Desk(engine)
    request = desk.open("financial_support")
    desk.complete(Actor.user("r", ["reception"]), request, "intake", {"visit_summary": "تم", "inquiries_answered": True})
    for username, roles in (("rana", ["reception"]), ("member1", [])):
        engine.run(lambda e, s, u=username, r=roles: create_user(e, s, SYSTEM, u, "secret-pass", u, r))
    return create_app({"TESTING": True, "SECRET_KEY": "t"}, engine=engine).test_client(), request


def test_case_page_marks_progress_and_shows_history(client_and_case):
    client, request = client_and_case
    _login(client, "rana")
    page = client.get(f"/cases/{request.instance_id}").get_data(as_text=True)
    markers = json.loads(re.search(r'data-markers="([^"]+)"', page).group(1).replace("&#34;", '"').replace("&quot;", '"'))
    assert markers["intake"] == "done" and markers["check_data"] == "active" and markers["notify_received"] == "done"
    # The process by its name in the diagram, not its key.
    assert request.reference in page and "طلب عضو</span> · الإصدار 1" in page and "member_request v1" not in page
    assert "فُتحت مهمة" in page and "التحقق من اكتمال البيانات وصحتها" in page  # history and open task
    # The history names each element as drawn, the id kept as a hint.
    assert '<span title="intake">استقبال العضو والإجابة على استفساراته</span>' in page
    xml = client.get(f"/cases/{request.instance_id}/diagram.bpmn")
    assert xml.mimetype == "application/xml" and b'id="member_request"' in xml.data


def test_case_page_is_for_staff(client_and_case):
    client, request = client_and_case
    _login(client, "member1")
    assert client.get(f"/cases/{request.instance_id}").status_code == 403
    anonymous = client.application.test_client()
    assert anonymous.get(f"/cases/{request.instance_id}").status_code == 302  # sign in first


def test_unknown_case(client_and_case):
    client, _ = client_and_case
    _login(client, "rana")
    assert client.get("/cases/99999").status_code == 404


def test_open_tasks_show_their_deadline_state_and_working_days(client_and_case, engine, clock):
    from datetime import timedelta

    from sqlalchemy import text

    client, request = client_and_case
    with engine.db.begin() as connection:
        connection.execute(text("UPDATE human_tasks SET due_at = :due, warn_at = :warn, assignee = 'rana' "
                                "WHERE instance_id = :i"),
                           {"due": clock.now() - timedelta(days=1), "warn": clock.now() - timedelta(days=3),
                            "i": request.instance_id})
    _login(client, "rana")
    page = client.get(f"/cases/{request.instance_id}").get_data(as_text=True)
    tasks = page[page.index("التحقق من اكتمال البيانات وصحتها</a>"):]
    tasks = tasks[:tasks.index("</li>")]
    assert "rana" in tasks and "text-bg-danger" in tasks and "هـ" in tasks
    # Due on Monday, seen on Tuesday: one working day late, in words, not only the badge.
    assert "متأخرة يوم عمل واحد" in tasks and "انقضى موعدها" not in tasks


def test_open_tasks_are_named_in_english_from_their_forms(client_and_case):
    client, request = client_and_case
    _login(client, "rana")
    page = client.get(f"/cases/{request.instance_id}?lang=en").get_data(as_text=True)
    assert ">Check the data is complete and valid</a>" in page
