"""Nonsense sent to every staff route: a clear answer (4xx or a page with the message), never a 500.

Each route is called by a signed-in supervisor and administrator (who may do the most) with
missing fields, wrong types, huge and odd values in the query string and the form.
"""

from __future__ import annotations

import pytest
from werkzeug.datastructures import MultiDict

from engine.actors import SYSTEM
from engine.queries import list_tasks
from tests.support.desk import Desk
from tests.web.helpers import csrf_token, sign_in
from web import auth, create_app
from workflows.operations.accounts import create_user

NONSENSE = ["", " ", "0", "-1", "²", "٣", "9" * 400, "x" * 5000, "'; DROP TABLE users; --", "<script>", "%00",
            "\u202e", "a\x00b", "null", "[]", "{}", "1e309", "NaN", "../../etc/passwd"]


@pytest.fixture
def boss(engine):
    auth.throttle._failures.clear()
    desk = Desk(engine)
    request = desk.open("financial_support")
    engine.run(lambda e, s: create_user(e, s, SYSTEM, "boss", "secret-pass", "boss",
                                        ["supervisor", "administrator", "reception"]))
    client = create_app({"TESTING": True, "SECRET_KEY": "t"}, engine=engine).test_client()
    sign_in(client, "boss")
    [task] = engine.query(list_tasks, SYSTEM)
    return client, task, request, desk.member


def _routes(task, request, member):
    gets = ["/inbox", "/members", f"/members/{member.id}", f"/cases/{request.instance_id}", f"/tasks/{task.id}",
            "/admin/users", "/", f"/cases/{request.instance_id}/diagram.bpmn"]
    posts = [("/inbox/filters", ["name", "role", "q", "sla", "sort", "page"]),
             ("/inbox/filters/999/delete", []),
             (f"/tasks/{task.id}/claim", ["assignee", "page", "next"]),
             (f"/tasks/{task.id}/unclaim", ["next"]),
             (f"/tasks/{task.id}/assign", ["assign_to"]),
             (f"/tasks/{task.id}", ["action", "visit_summary", "inquiries_answered"]),
             (f"/tasks/{task.id}/documents/national_id", ["state", "note"]),
             (f"/members/{member.id}/contacts", ["channel", "direction", "summary"]),
             (f"/members/{member.id}/requests", ["service_type", "channel", "summary"]),
             ("/admin/users", ["username", "display_name", "email", "password", "roles"]),
             ("/admin/users/1", ["roles", "is_active", "password"]),
             ("/login", ["username", "password", "next"])]
    return gets, posts


def test_nonsense_in_the_query_string_never_gives_a_500(boss):
    client, task, request, member = boss
    gets, _ = _routes(task, request, member)
    keys = ["q", "process", "lane", "sla", "priority", "assignee", "sort", "page", "lang", "next"]
    for path in gets:
        for value in NONSENSE:
            response = client.get(path, query_string={key: value for key in keys})
            assert response.status_code < 500, (path, value, response.status_code)
            response = client.get(path, query_string={key: value for key in keys}, headers={"HX-Request": "true"})
            assert response.status_code < 500, (path, value, "htmx", response.status_code)


def test_nonsense_in_forms_never_gives_a_500(boss, engine):
    client, task, request, member = boss
    _, posts = _routes(task, request, member)
    for path, fields in posts:
        for value in NONSENSE:
            token = csrf_token(client.get("/inbox").get_data(as_text=True))
            response = client.post(path, data={"csrf_token": token, **{field: value for field in fields}})
            assert response.status_code < 500, (path, value, response.status_code)
        # Missing every field, and a field given twice.
        token = csrf_token(client.get("/inbox").get_data(as_text=True))
        assert client.post(path, data={"csrf_token": token}).status_code < 500, path
        doubled = MultiDict([("csrf_token", token)] + [(field, v) for field in fields for v in ("a", "b")])
        assert client.post(path, data=doubled).status_code < 500, (path, "doubled")
    # Unknown ids in the path.
    huge = "9" * 12  # past a 32-bit id
    for path in ("/tasks/nope", "/cases/0", "/members/0", "/tasks/nope/claim", "/requests/0/documents/x",
                 f"/tasks/{task.id}/documents/../../x", f"/cases/{huge}", f"/members/{huge}",
                 f"/cases/{huge}/diagram.bpmn", f"/requests/{huge}/documents/x", f"/inbox/filters/{huge}/delete",
                 f"/admin/users/{huge}", f"/members/{huge}/contacts", f"/members/{huge}/requests"):
        token = csrf_token(client.get("/inbox").get_data(as_text=True))
        assert client.get(path).status_code < 500, path
        assert client.post(path, data={"csrf_token": token}).status_code < 500, path


def test_a_nul_character_is_refused_with_a_message_in_both_languages(boss):
    client, task, request, member = boss
    page = client.get("/inbox", query_string={"q": "a\x00b"})
    assert page.status_code == 400 and "محرف NUL" in page.get_data(as_text=True)
    page = client.get("/inbox", query_string={"q": "a\x00b", "lang": "en"})
    assert page.status_code == 400 and "NUL character" in page.get_data(as_text=True)
    token = csrf_token(client.get("/inbox").get_data(as_text=True))
    posted = client.post(f"/members/{member.id}/contacts", data={"csrf_token": token, "channel": "phone",
                                                                 "direction": "in", "summary": "x\x00"})
    assert posted.status_code == 400


def test_a_nul_in_the_path_and_json_nested_too_deep_are_clear_400s(boss, engine):
    client, task, request, member = boss
    for path in ("/tasks/%00", "/tasks/a%00b", "/members/1/x%00"):
        assert client.get(path).status_code in (400, 404), path
    token = csrf_token(client.get("/inbox").get_data(as_text=True))
    for path in ("/tasks/%00/claim", "/tasks/%00/documents/national_id"):
        assert client.post(path, data={"csrf_token": token}).status_code == 400, path
    anonymous = client.application.test_client()
    deep = "[" * 5000 + "]" * 5000
    for path in ("/inbox", "/healthz", "/login", "/api/v1/instances"):
        response = anonymous.post(path, data=deep, content_type="application/json")
        assert response.status_code < 500, path
