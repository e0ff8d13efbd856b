"""Saved inbox views: private or shared with a role, opened by link, deleted only by their owner."""

import html
import re

import pytest

from engine.actors import SYSTEM
from tests.support.desk import Desk
from tests.web.helpers import csrf_token as _token
from tests.web.helpers import sign_in as _login
from tests.web.helpers import sign_out as _logout
from web import auth, create_app
from workflows.operations.accounts import create_user


@pytest.fixture
def client(engine):
    auth.throttle._failures.clear()
    desk = Desk(engine)
    desk.open("financial_support")
    for username, roles in (("rana", ["reception", "supervisor"]), ("omar", ["reception"]),
                            ("ali", ["committee"])):
        engine.run(lambda e, s, u=username, r=roles: create_user(e, s, SYSTEM, u, "secret-pass", u, r))
    return create_app({"TESTING": True, "SECRET_KEY": "t"}, engine=engine).test_client()


def _views(page):
    return re.findall(r'<span class="[^"]*saved-view">\s*<a href="([^"]+)">([^<]+)</a>', html.unescape(page))


def test_a_view_keeps_the_filters_and_is_shared_only_with_a_role(client):
    _login(client, "rana")
    page = client.get("/inbox?sla=late&priority=high&sort=priority").get_data(as_text=True)
    assert '<input type="hidden" name="sla" value="late">' in page  # the form carries the current filters
    response = client.post("/inbox/filters", data={"csrf_token": _token(page), "name": "متأخرة عاجلة",
                                                   "role": "reception", "sla": "late", "priority": "high",
                                                   "sort": "priority", "page": "3"}, follow_redirects=True)
    body = response.get_data(as_text=True)
    assert "حُفظ العرض" in body
    [(link, name)] = _views(body)
    assert name == "متأخرة عاجلة" and "sla=late" in link and "priority=high" in link and "page" not in link
    client.post("/inbox/filters", data={"csrf_token": _token(body), "name": "خاص بي", "lane": "supervisor"})
    assert len(_views(client.get("/inbox").get_data(as_text=True))) == 2
    _logout(client)
    _login(client, "omar")  # reception: sees the shared view, not the private one
    assert [name for _, name in _views(client.get("/inbox").get_data(as_text=True))] == ["متأخرة عاجلة"]
    _logout(client)
    _login(client, "ali")  # committee: sees neither
    assert _views(client.get("/inbox").get_data(as_text=True)) == []


def test_bad_views_are_refused_with_a_message(client):
    _login(client, "omar")
    token = _token(client.get("/inbox").get_data(as_text=True))
    body = html.unescape(client.post("/inbox/filters", data={"csrf_token": token, "name": "  "},
                                     follow_redirects=True).get_data(as_text=True))
    assert "حقل «اسم العرض» مطلوب." in body
    body = html.unescape(client.post("/inbox/filters", data={"csrf_token": token, "name": "x", "role": "committee"},
                                     follow_redirects=True).get_data(as_text=True))
    assert "لا تشارك عرضًا إلا مع دور من أدوارك." in body
    assert _views(body) == []


def test_only_the_owner_deletes_a_view(client):
    _login(client, "rana")
    token = _token(client.get("/inbox").get_data(as_text=True))
    client.post("/inbox/filters", data={"csrf_token": token, "name": "مشترك", "role": "reception"})
    page = client.get("/inbox").get_data(as_text=True)
    view_id = re.search(r'/inbox/filters/(\d+)/delete', page).group(1)
    _logout(client)
    _login(client, "omar")
    page = client.get("/inbox").get_data(as_text=True)
    assert f"/inbox/filters/{view_id}/delete" not in page  # no delete button for someone else's view
    body = client.post(f"/inbox/filters/{view_id}/delete", data={"csrf_token": _token(page)},
                       follow_redirects=True).get_data(as_text=True)
    assert "لا يحذف هذا العرض إلا \u2068rana\u2069 الذي حفظه." in body and len(_views(body)) == 1
    _logout(client)
    _login(client, "rana")
    page = client.get("/inbox").get_data(as_text=True)
    body = client.post(f"/inbox/filters/{view_id}/delete", data={"csrf_token": _token(page)},
                       follow_redirects=True).get_data(as_text=True)
    assert "حُذف العرض" in body and _views(body) == []


def test_a_view_keeps_the_team_filter_a_supervisor_used(client):
    _login(client, "rana")
    page = client.get("/inbox?group=committee&sla=late").get_data(as_text=True)
    assert '<input type="hidden" name="group" value="committee">' in page
    response = client.post("/inbox/filters", data={"csrf_token": _token(page), "name": "اللجنة المتأخرة",
                                                   "group": "committee", "sla": "late"}, follow_redirects=True)
    [(link, _)] = _views(response.get_data(as_text=True))
    assert "group=committee" in link and "sla=late" in link
