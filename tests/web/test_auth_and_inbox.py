"""Sign-in (CSRF, throttling, clear messages) and the inbox (lanes, claim, language)."""

import re

import pytest

from engine.actors import SYSTEM
from engine.commands import start_instance
from engine.definitions import deploy_definition
from tests.conftest import BPMN_DIR
from web import auth, create_app
from workflows.operations.accounts import create_user


@pytest.fixture
def app(engine):
    auth.throttle._failures.clear()
    for username, roles in (("rana", ["reception"]), ("ali", ["committee"]), ("member1", [])):
        engine.run(lambda e, s, u=username, r=roles: create_user(e, s, SYSTEM, u, "secret-pass", u.title(), r))
    path = BPMN_DIR / "review.bpmn"
    engine.run(deploy_definition, SYSTEM, path.read_bytes(), path.name)
    engine.run(start_instance, SYSTEM, "review", data={"request_no": 1})
    return create_app({"TESTING": True, "SECRET_KEY": "test"}, engine=engine)


@pytest.fixture
def client(app):
    return app.test_client()


def _csrf(client, path="/login"):
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def login(client, username, password="secret-pass"):
    return client.post("/login", data={"username": username, "password": password, "csrf_token": _csrf(client)})


def test_login_page_is_arabic_rtl_by_default_and_english_on_request(client):
    page = client.get("/login").get_data(as_text=True)
    assert '<html lang="ar" dir="rtl">' in page and "تسجيل الدخول" in page and "bootstrap.rtl.min.css" in page
    english = client.get("/login?lang=en").get_data(as_text=True)
    assert '<html lang="en" dir="ltr">' in english and "Sign in" in english and "bootstrap.min.css" in english
    assert '<html lang="en"' in client.get("/login").get_data(as_text=True)  # the choice is remembered


def test_sign_in_and_out(client):
    response = login(client, "rana")
    assert response.status_code == 302 and response.headers["Location"].endswith("/inbox")
    page = client.get("/inbox").get_data(as_text=True)
    assert "صندوق المهام" in page and "Check completeness" in page
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/inbox").status_code == 302  # back to the sign-in page


def test_bad_credentials_are_a_clear_message_and_are_throttled(client):
    response = login(client, "rana", "wrong")
    assert response.status_code == 401 and "اسم المستخدم أو كلمة المرور غير صحيحة" in response.get_data(as_text=True)
    for _ in range(4):
        login(client, "rana", "wrong")
    response = login(client, "rana", "secret-pass")  # even the right password waits now
    assert response.status_code == 429 and "محاولات دخول فاشلة كثيرة" in response.get_data(as_text=True)


def test_forms_need_the_csrf_token(client):
    response = client.post("/login", data={"username": "rana", "password": "secret-pass"})
    assert response.status_code == 400


def test_the_inbox_shows_only_the_users_lanes(client):
    login(client, "ali")
    assert "Check completeness" not in client.get("/inbox").get_data(as_text=True)  # a reception task
    assert "لا توجد مهام بانتظارك" in client.get("/inbox").get_data(as_text=True)


def test_members_have_no_inbox(client):
    login(client, "member1")
    assert client.get("/inbox").status_code == 403


def test_claim_and_release_with_htmx(client, engine):
    from engine.queries import list_tasks

    login(client, "rana")
    [task] = engine.query(list_tasks, SYSTEM)
    token = _csrf(client, "/inbox")
    headers = {"HX-Request": "true", "X-CSRFToken": token}
    fragment = client.post(f"/tasks/{task.id}/claim", headers=headers).get_data(as_text=True)
    assert "<html" not in fragment and "rana" in fragment and "إعادة للمسار" in fragment
    assert engine.query(list_tasks, SYSTEM)[0].assignee == "rana"
    client.post(f"/tasks/{task.id}/unclaim", headers=headers)
    assert engine.query(list_tasks, SYSTEM)[0].assignee is None


def test_a_claim_someone_else_won_is_a_message_not_an_error_page(client, engine):
    from engine.actors import Actor
    from engine.commands import claim_task
    from engine.queries import list_tasks

    [task] = engine.query(list_tasks, SYSTEM)
    engine.run(claim_task, Actor.user("omar", ["reception"]), task.id)
    login(client, "rana")
    token = _csrf(client, "/inbox")
    response = client.post(f"/tasks/{task.id}/claim", headers={"HX-Request": "true", "X-CSRFToken": token})
    assert response.status_code == 200 and "يعمل \u2068omar\u2069 على هذه المهمة" in response.get_data(as_text=True)


def test_vendor_assets_come_from_node_modules_and_nothing_else(client):
    with client.get("/vendor/htmx.org/dist/htmx.min.js") as response:  # a streamed file: closed after use
        assert response.status_code == 200
    assert client.get("/vendor/../package.json").status_code == 404
    assert client.get("/vendor/bootstrap/package.json").status_code == 404


def test_a_page_asked_for_signed_out_is_shown_after_signing_in(client):
    response = client.get("/members?q=x")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login?next=")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "سجّل الدخول للمتابعة." in page and 'name="next" value="/members?q=x"' in page
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    signed_in = client.post("/login", data={"username": "rana", "password": "secret-pass", "csrf_token": token,
                                            "next": "/members?q=x"})
    assert signed_in.headers["Location"] == "/members?q=x"


@pytest.mark.parametrize("elsewhere", ["https://evil.example/", "//evil.example/", "/\\evil.example",
                                       "/\t/evil.example", "inbox", ""])
def test_sign_in_never_sends_anyone_to_another_site(client, elsewhere):
    response = client.post("/login", data={"username": "rana", "password": "secret-pass",
                                           "csrf_token": _csrf(client), "next": elsewhere})
    assert response.status_code == 302 and response.headers["Location"] == "/inbox"


def test_an_htmx_request_after_the_session_ended_reloads_the_whole_window_at_sign_in(client):
    response = client.get("/inbox?page=1", headers={"HX-Request": "true"})
    assert response.status_code == 401 and response.headers["HX-Redirect"] == "/login"
    assert b"<form" not in response.data  # nothing to put inside the table
