"""The committee's form names the members present by ticking them, from those who hold the
committee lane (it was one free-text box), and the decision records who was ticked."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import select

from engine.actors import SYSTEM, Actor
from tests.support.desk import Desk
from tests.web.helpers import csrf_token, sign_in
from web import auth, create_app
from workflows.models import Decision
from workflows.operations.accounts import create_user

RECEPTION = Actor.user("r", ["reception"])


@pytest.fixture
def at_the_committee(engine):
    auth.throttle._failures.clear()
    desk = Desk(engine)
    request = desk.open("financial_support")
    desk.complete(RECEPTION, request, "intake", {"visit_summary": "تم", "inquiries_answered": True})
    desk.verify_all(request)
    desk.complete(RECEPTION, request, "check_data", {"complete": True, "needs_referral": False})
    desk.complete(RECEPTION, request, "acknowledgement", {"acknowledged": True, "ack_channel": "in_person"})
    for username, name, roles in (("ali", "علي القحطاني", ["committee"]), ("sara", "سارة العتيبي", ["committee"]),
                                  ("huda", "هدى الشمري", ["committee"]), ("rana", "رنا", ["reception"])):
        engine.run(lambda e, s, u=username, n=name, r=roles: create_user(e, s, SYSTEM, u, "secret-pass", n, r))
    client = create_app({"TESTING": True, "SECRET_KEY": "committee"}, engine=engine).test_client()
    sign_in(client, "ali")
    return desk, request, client


def test_the_members_present_are_ticked_from_the_committee_and_recorded(at_the_committee, engine):
    desk, request, client = at_the_committee
    task = desk.task(request, "committee_review")
    page = html.unescape(client.get(f"/tasks/{task.id}").get_data(as_text=True))
    offered = re.findall(r'type="checkbox" id="f-committee_members-\d+" name="committee_members" value="([^"]+)"', page)
    assert offered == ["سارة العتيبي", "علي القحطاني", "هدى الشمري"]  # the committee lane's people, not reception
    assert '<legend class="form-label fs-6">أعضاء اللجنة الحاضرون' in page
    done = client.post(f"/tasks/{task.id}", data={"csrf_token": csrf_token(page), "action": "complete",
                                                  "outcome": "accepted", "reason": "مستوفٍ للشروط",
                                                  "committee_members": ["علي القحطاني", "هدى الشمري"]})
    assert done.status_code == 302
    members = engine.query(lambda e, s: s.scalars(select(Decision.committee_members)).one())
    assert members == ["علي القحطاني", "هدى الشمري"]


def test_one_member_ticked_is_a_list_of_one_and_none_ticked_is_refused_in_words(at_the_committee, engine):
    desk, request, client = at_the_committee
    task = desk.task(request, "committee_review")
    page = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    refused = client.post(f"/tasks/{task.id}", data={"csrf_token": csrf_token(page), "action": "complete",
                                                     "outcome": "accepted", "reason": "مستوفٍ للشروط"})
    assert refused.status_code == 422
    body = html.unescape(refused.get_data(as_text=True))
    assert 'id="e-committee_members"' in body and re.search(r'id="e-committee_members">[^<]*[\u0600-\u06ff]', body)
    done = client.post(f"/tasks/{task.id}", data={"csrf_token": csrf_token(body), "action": "complete",
                                                  "outcome": "accepted", "reason": "مستوفٍ للشروط",
                                                  "committee_members": "سارة العتيبي"})
    assert done.status_code == 302
    assert engine.query(lambda e, s: s.scalars(select(Decision.committee_members)).one()) == ["سارة العتيبي"]
