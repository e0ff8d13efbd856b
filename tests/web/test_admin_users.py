"""Administrators manage users and roles; nobody else may."""

import re

import pytest

from engine.actors import SYSTEM
from tests.web.helpers import sign_in as _login
from web import auth, create_app
from workflows.accounts import check_password
from workflows.models import User
from workflows.operations.accounts import create_user


@pytest.fixture
def client(engine):
    auth.throttle._failures.clear()
    for username, roles in (("admin1", ["administrator"]), ("rana", ["reception"])):
        engine.run(lambda e, s, u=username, r=roles: create_user(e, s, SYSTEM, u, "secret-pass", u, r))
    return create_app({"TESTING": True, "SECRET_KEY": "t"}, engine=engine).test_client()


def _token(client):
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get("/admin/users").get_data(as_text=True)).group(1)


def _user(engine, name):
    return engine.query(lambda e, s: s.query(User).filter_by(username=name).one())


def test_add_a_user_and_change_roles(client, engine):
    _login(client, "admin1")
    response = client.post("/admin/users", data={"csrf_token": _token(client), "username": "huda", "password": "long-pass-1",
                                                 "display_name": "هدى", "roles": ["committee"]})
    assert response.status_code == 302
    huda = _user(engine, "huda")
    assert huda.roles == ["committee"] and check_password(huda, "long-pass-1")
    client.post(f"/admin/users/{huda.id}", data={"csrf_token": _token(client), "roles": ["committee", "supervisor"],
                                                 "is_active": "on", "password": "another-pass"})
    huda = _user(engine, "huda")
    assert huda.roles == ["committee", "supervisor"] and check_password(huda, "another-pass")
    client.post(f"/admin/users/{huda.id}", data={"csrf_token": _token(client), "roles": ["committee"]})
    assert _user(engine, "huda").is_active is False  # may no longer sign in


@pytest.mark.parametrize("data, message", [
    # In the page's language (Arabic), the field named by its label; the API keeps the English.
    ({"username": "x y", "password": "long-pass-1"}, "لا يحوي اسم المستخدم إلا حروفًا وأرقامًا"),
    ({"username": "new", "password": "short"}, "«كلمة المرور»: اكتب 8 أحرف على الأقل."),
    ({"username": "rana", "password": "long-pass-1"}, "اسم المستخدم \u2068rana\u2069 مستعمل."),
    ({"username": "new", "password": "long-pass-1", "roles": ["king"]}, "أدوار غير معروفة: \u2068king\u2069."),
    ({"username": "u" * 101, "password": "long-pass-1"}, "«اسم المستخدم»: اكتب 100 حرف على الأكثر."),
    ({"username": "new", "password": "long-pass-1", "display_name": "ه" * 201}, "«الاسم الظاهر»: اكتب 200 حرف على الأكثر."),
    ({"username": "new", "password": "long-pass-1", "email": "a@" + "b" * 330},
     "«البريد الإلكتروني»: اكتب 320 حرفًا على الأكثر."),
])
def test_bad_users_are_explained(client, engine, data, message):
    _login(client, "admin1")
    response = client.post("/admin/users", data={"csrf_token": _token(client), **data})
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    assert engine.query(lambda e, s: s.query(User).count()) == 2  # nothing half-written


def test_an_administrator_keeps_their_own_role(client, engine):
    _login(client, "admin1")
    admin = _user(engine, "admin1")
    response = client.post(f"/admin/users/{admin.id}", data={"csrf_token": _token(client), "roles": ["reception"],
                                                             "is_active": "on"})
    assert response.status_code == 422 and _user(engine, "admin1").roles == ["administrator"]


def test_only_administrators(client):
    _login(client, "rana")
    assert client.get("/admin/users").status_code == 403


def test_an_administrator_cannot_lock_themselves_out(client, engine):
    _login(client, "admin1")
    me = _user(engine, "admin1")
    response = client.post(f"/admin/users/{me.id}", data={"csrf_token": _token(client), "roles": ["reception"],
                                                          "is_active": "on"})
    assert response.status_code == 422
    assert "لا يمكنك إزالة دور مدير النظام عن نفسك." in response.get_data(as_text=True)
    response = client.post(f"/admin/users/{me.id}", data={"csrf_token": _token(client), "roles": ["administrator"]})
    assert response.status_code == 422 and "لا يمكنك إيقاف حسابك." in response.get_data(as_text=True)
    me = _user(engine, "admin1")
    assert (me.roles, me.is_active) == (["administrator"], True)
