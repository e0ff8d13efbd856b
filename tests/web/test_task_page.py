"""The task page: the form rendered and checked on the server, values kept, conflicts explained."""

import re

import pytest

from engine.actors import SYSTEM, Actor
from engine.commands import complete_task
from engine.queries import list_tasks
from tests.integration.test_member_request import Desk
from web import auth, create_app
from workflows.accounts import create_user


@pytest.fixture
def setup(engine):
    auth.throttle._failures.clear()
    desk = Desk(engine)
    request = desk.open("financial_support")
    for username, roles in (("rana", ["reception"]), ("ali", ["committee"])):
        engine.run(lambda e, s, u=username, r=roles: create_user(s, e.clock.now(), u, "secret-pass", u, r))
    client = create_app({"TESTING": True, "SECRET_KEY": "t"}, engine=engine).test_client()
    [task] = engine.query(list_tasks, SYSTEM)
    return client, task, request


def _login(client, username):
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    client.post("/login", data={"username": username, "password": "secret-pass", "csrf_token": token})


def _token(page):
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def test_the_form_is_rendered_in_arabic_with_the_request_beside_it(setup):
    client, task, request = setup
    _login(client, "rana")
    page = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert "استقبال العضو والإجابة على استفساراته" in page  # the form's Arabic title
    assert 'name="visit_summary"' in page and 'type="checkbox"' in page
    assert request.reference in page and "نورة العتيبي" in page and "تم الاستلام" in page
    english = client.get(f"/tasks/{task.id}?lang=en").get_data(as_text=True)
    assert "Receive the member and answer their questions" in english and "Received" in english


def test_errors_are_shown_next_to_each_field_and_values_kept(setup, engine):
    client, task, _ = setup
    _login(client, "rana")
    page = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    response = client.post(f"/tasks/{task.id}", data={"csrf_token": _token(page), "visit_summary": "   "})
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="e-visit_summary">must not be blank' in body
    assert engine.query(list_tasks, SYSTEM)[0].id == task.id  # nothing changed
    response = client.post(f"/tasks/{task.id}", data={"csrf_token": _token(body), "visit_summary": "حضر وسأل",
                                                       "inquiries_answered": "on"})
    assert response.status_code == 302
    assert [t.element_id for t in engine.query(list_tasks, SYSTEM)] == ["check_data"]


def test_a_task_completed_by_someone_else_is_a_message(setup, engine):
    client, task, _ = setup
    _login(client, "rana")
    page = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    engine.run(complete_task, Actor.user("omar", ["reception"]), task.id,
               {"visit_summary": "تم", "inquiries_answered": True})
    response = client.post(f"/tasks/{task.id}", data={"csrf_token": _token(page), "visit_summary": "تم",
                                                       "inquiries_answered": "on"}, follow_redirects=True)
    assert response.status_code == 200 and "already completed by omar" in response.get_data(as_text=True)


def test_a_role_without_the_lane_cannot_open_the_task(setup):
    client, task, _ = setup
    _login(client, "ali")
    assert client.get(f"/tasks/{task.id}").status_code == 403
    assert client.get("/tasks/not-a-task").status_code == 404
