"""Inbox search, filters, counts, sort, paging and supervisor reassignment."""

import re

import pytest

from engine.actors import SYSTEM, Actor
from engine.queries import list_tasks
from tests.integration.test_member_request import Desk
from tests.web.helpers import sign_in as _login
from web import auth, create_app
from workflows import identity
from workflows.accounts import create_user
from workflows.inbox import inbox
from workflows.members import register_member

RECEPTION = Actor.user("reception1", ["reception"])


@pytest.fixture
def desk(engine):
    auth.throttle._failures.clear()
    return Desk(engine)


def test_search_by_member_name_national_id_and_reference(desk, engine):
    first = desk.open("financial_support")
    other = engine.run(lambda e, s: register_member(s, RECEPTION, e.clock.now(), name_ar="خالد الحربي",
                                                    national_id=identity.with_check_digit("106666666")))
    desk.member = other
    second = desk.open("in_kind_support")

    def search(text):
        page = engine.query(inbox, RECEPTION, text=text)
        return [row[1].reference for row in page.rows]

    assert search("نوره") == [first.reference]  # ة written as ه
    assert search(other.national_id) == [second.reference]
    assert search(second.reference.lower()) == [second.reference]
    assert sorted(search("")) == sorted([first.reference, second.reference])
    assert search("%") == []


def test_counts_paging_and_sort(desk, engine, clock):
    for _ in range(3):
        desk.open("financial_support")
    page = engine.query(inbox, RECEPTION, per_page=2)
    assert (page.total, page.pages, len(page.rows)) == (3, 2, 2)
    assert len(engine.query(inbox, RECEPTION, per_page=2, page=2).rows) == 1
    assert page.counts == {"on_track": 3, "at_risk": 0, "late": 0}
    newest = engine.query(inbox, RECEPTION, sort="newest").rows
    assert [r[0].created_at for r in newest] == sorted([r[0].created_at for r in newest], reverse=True)
    assert engine.query(inbox, RECEPTION, process="inquiry").total == 0
    assert engine.query(inbox, RECEPTION, process="member_request").total == 3
    assert engine.query(inbox, Actor.user("x", ["committee"])).total == 0


def test_supervisor_reassigns_from_the_inbox(desk, engine):
    desk.open("financial_support")
    for username, roles in (("sara", ["supervisor", "reception"]), ("rana", ["reception"]), ("omar", ["reception"])):
        engine.run(lambda e, s, u=username, r=roles: create_user(s, e.clock.now(), u, "secret-pass", u, r))
    client = create_app({"TESTING": True, "SECRET_KEY": "t"}, engine=engine).test_client()
    _login(client, "sara")
    page = client.get("/inbox").get_data(as_text=True)
    assert "إسناد" in page and "<option>omar</option>" in page
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    [task] = engine.query(list_tasks, SYSTEM)
    fragment = client.post(f"/tasks/{task.id}/assign", data={"assignee": "omar"},
                           headers={"HX-Request": "true", "X-CSRFToken": token}).get_data(as_text=True)
    assert engine.query(list_tasks, SYSTEM)[0].assignee == "omar" and "omar" in fragment
    bad = client.post(f"/tasks/{task.id}/assign", data={"assignee": "nobody"},
                      headers={"HX-Request": "true", "X-CSRFToken": token}).get_data(as_text=True)
    assert "no user named &#39;nobody&#39;" in bad
    # a reception user sees no assignment control
    rana = client.application.test_client()
    _login(rana, "rana")
    assert "إسناد إلى" not in rana.get("/inbox").get_data(as_text=True)


def test_inbox_page_filters_in_the_browser_url(desk, engine):
    desk.open("financial_support")
    engine.run(lambda e, s: create_user(s, e.clock.now(), "rana", "secret-pass", "rana", ["reception"]))
    client = create_app({"TESTING": True, "SECRET_KEY": "t"}, engine=engine).test_client()
    _login(client, "rana")
    page = client.get("/inbox?q=REQ-2026-000001&sla=on_track&sort=priority").get_data(as_text=True)
    assert "REQ-2026-000001" in page and "1 مهمة" in page
    assert "0 مهمة" in client.get("/inbox?q=zzz").get_data(as_text=True)
