"""Member pages: search, a member's contacts and requests, log a contact, open a request."""

import re

import pytest

from engine.actors import SYSTEM
from tests.support.desk import Desk
from web import auth, create_app
from workflows.operations.accounts import create_user


@pytest.fixture
def client_and_member(engine):
    auth.throttle._failures.clear()
    desk = Desk(engine)
    for username, roles in (("rana", ["reception"]), ("member1", [])):
        engine.run(lambda e, s, u=username, r=roles: create_user(e, s, SYSTEM, u, "secret-pass", u, r))
    client = create_app({"TESTING": True, "SECRET_KEY": "t"}, engine=engine).test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    client.post("/login", data={"username": "rana", "password": "secret-pass", "csrf_token": token})
    return client, desk.member


def _token(client, path):
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True)).group(1)


def test_search_finds_the_member_whatever_the_spelling(client_and_member):
    client, member = client_and_member
    page = client.get("/members?q=نوره").get_data(as_text=True)  # ة written as ه
    assert f"/members/{member.id}" in page and "نورة العتيبي" in page
    assert "لا يوجد عضو مطابق" in client.get("/members?q=zzz").get_data(as_text=True)


def test_log_a_contact_on_every_channel(client_and_member):
    client, member = client_and_member
    for channel in ("in_person", "phone", "social_media", "letter", "website"):
        response = client.post(f"/members/{member.id}/contacts", data={
            "csrf_token": _token(client, f"/members/{member.id}"), "channel": channel, "direction": "inbound",
            "summary": f"تواصل عبر {channel}"})
        assert response.status_code == 302
    page = client.get(f"/members/{member.id}").get_data(as_text=True)
    for label in ("مقابلة", "اتصال هاتفي", "وسائل التواصل الاجتماعي", "خطاب", "موقع الجمعية"):
        assert label in page
    bad = client.post(f"/members/{member.id}/contacts", data={
        "csrf_token": _token(client, f"/members/{member.id}"), "channel": "phone", "direction": "inbound", "summary": " "})
    assert bad.status_code == 422 and "حقل «الملخص» مطلوب." in bad.get_data(as_text=True)


def test_open_a_request_from_the_member_page(client_and_member, engine):
    client, member = client_and_member
    response = client.post(f"/members/{member.id}/requests", data={
        "csrf_token": _token(client, f"/members/{member.id}"), "service_type": "inquiry", "channel": "website",
        "summary": "سؤال عن العضوية"})
    assert response.status_code == 302 and "/cases/" in response.headers["Location"]
    page = client.get(f"/members/{member.id}").get_data(as_text=True)
    assert "REQ-2026-000001" in page and "تم الاستلام" in page
    entry = page[page.index("REQ-2026-000001"):]
    entry = entry[:entry.index("</li>")]
    assert "استفسار" in entry and "2026-" in entry  # the service in words and the day it was opened
    bad = client.post(f"/members/{member.id}/requests", data={
        "csrf_token": _token(client, f"/members/{member.id}"), "service_type": "loan", "channel": "website"})
    assert bad.status_code == 422 and "«\u2068loan\u2069» ليست من خيارات «الخدمة»." in bad.get_data(as_text=True)


def test_member_pages_are_for_staff(client_and_member):
    client, member = client_and_member
    assert client.get("/members/99999").status_code == 404
    other = client.application.test_client()
    page = other.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    other.post("/login", data={"username": "member1", "password": "secret-pass", "csrf_token": token})
    assert other.get(f"/members/{member.id}").status_code == 403


def test_the_member_facts_are_labelled_and_missing_ones_left_out(client_and_member):
    client, member = client_and_member
    facts = client.get(f"/members/{member.id}").get_data(as_text=True)
    facts = facts[facts.index('id="member-facts"'):facts.index("</dl>")]
    assert "رقم الهوية" in facts and member.national_id in facts and "noura@example.org" in facts
    assert "رقم العضوية" not in facts  # not a member yet: no empty field, no stray separator
