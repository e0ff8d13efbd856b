"""/modeler/<key>/migrate: the dry run grouped by where the cases are, mappings and timer choices,
moving in batches (one transaction per case) with the failures listed; owners and administrators only."""

from __future__ import annotations

import re

import pytest

from engine.actors import SYSTEM
from engine.commands import start_instance
from engine.queries import instance_detail
from tests.integration.test_migration import _deploy, _xml
from tests.support.desk import RECEPTION, Desk
from tests.support.versions import add_task_after, remove, rename, set_text
from tests.web.helpers import csrf_token, sign_in
from web import auth, create_app
from workflows.operations.accounts import create_user


@pytest.fixture
def desk(engine):
    auth.throttle._failures.clear()
    for username, roles in (("owner1", ["process_owner"]), ("admin1", ["administrator"]), ("rana", ["reception"]),
                            ("sara", ["supervisor"])):
        engine.run(lambda e, s, u=username, r=roles: create_user(e, s, SYSTEM, u, "secret-pass", u, r))
    return Desk(engine)


@pytest.fixture
def client(engine, desk):
    return create_app({"TESTING": True, "SECRET_KEY": "t"}, engine=engine).test_client()


def _version(engine, instance_id):
    return engine.query(instance_detail, instance_id)["definition"]["version"]


def _at_ack(desk):
    request = desk.open("financial_support")
    desk.verify_all(request)
    desk.complete(RECEPTION, request, "intake", {"visit_summary": "تم", "inquiries_answered": True})
    desk.complete(RECEPTION, request, "check_data", {"complete": True, "needs_referral": False})
    return request


@pytest.mark.parametrize("username", ["rana", "sara"])
def test_nobody_but_owners_and_administrators_gets_in(client, engine, desk, username):
    request = desk.open("financial_support")
    _deploy(engine, add_task_after(_xml("member_request"), "intake", "welcome_call"), "member_request")
    sign_in(client, username)
    token = csrf_token(client.get("/inbox").get_data(as_text=True))
    assert client.get("/modeler/member_request/migrate?from=1&to=2").status_code == 403
    assert client.post("/modeler/member_request/migrate", data={"csrf_token": token, "from": "1",
                                                                "to": "2"}).status_code == 403
    assert _version(engine, request.instance_id) == 1


@pytest.mark.parametrize("lang", ["ar", "en"])
def test_the_dry_run_groups_the_cases_and_moves_those_that_can(client, engine, desk, lang):
    at_ack, at_intake = _at_ack(desk), desk.open("financial_support")
    _deploy(engine, remove(add_task_after(_xml("member_request"), "intake", "welcome_call"), "acknowledgement"),
            "member_request")
    sign_in(client, "owner1")
    page = client.get(f"/modeler/member_request/migrate?lang={lang}")  # the versions chosen for the owner
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert re.search(r'<option value="1" selected>', body) and re.search(r'<option value="2" selected>', body)
    rows = re.findall(r'<tr data-status="(\w+)">', body)
    assert sorted(rows) == ["can_move", "needs_mapping"]
    removed = {"ar": "الحالة واقفة عند «", "en": "The case is at «"}[lang]
    assert removed in body and "acknowledgement" in body
    assert {"ar": "يمكن نقلها", "en": "Can move"}[lang] in body

    moved = client.post("/modeler/member_request/migrate", data={
        "csrf_token": csrf_token(body), "from": "1", "to": "2"})
    text = moved.get_data(as_text=True)
    assert moved.status_code == 200 and 'id="migrate-result"' in text
    assert {"ar": "نُقلت حالة واحدة", "en": "1 case moved."}[lang] in text
    assert _version(engine, at_intake.instance_id) == 2 and _version(engine, at_ack.instance_id) == 1


def test_a_mapping_chosen_on_the_page_lets_the_renamed_task_move_in_batches(client, engine, desk):
    requests = [desk.open("financial_support") for _ in range(3)]
    _deploy(engine, rename(_xml("member_request"), "intake", "reception_visit"), "member_request")
    sign_in(client, "owner1")
    body = client.get("/modeler/member_request/migrate?from=1&to=2&lang=en").get_data(as_text=True)
    assert 'name="map.intake"' in body and '<option value="reception_visit">' in body
    assert 'value="set_checking"' not in body  # a service task is not offered for a user task
    checked = client.get("/modeler/member_request/migrate?from=1&to=2&lang=en&map.intake=reception_visit")
    assert re.findall(r'<tr data-status="(\w+)">', checked.get_data(as_text=True)) == ["can_move"]

    token = csrf_token(body)
    form = {"csrf_token": token, "from": "1", "to": "2", "map.intake": "reception_visit", "batch": "1"}
    import web.modeler.migrate as page

    page_batch, page.BATCH = page.BATCH, 2
    try:
        first = client.post("/modeler/member_request/migrate", data=form).get_json()
        second = client.post("/modeler/member_request/migrate", data=form).get_json()
    finally:
        page.BATCH = page_batch
    assert (len(first["moved"]), first["failed"], first["remaining"]) == (2, [], 1)
    assert (len(second["moved"]), second["failed"], second["remaining"]) == (1, [], 0)
    assert all(_version(engine, r.instance_id) == 2 for r in requests)


def test_waiting_timers_need_a_choice_on_the_page(client, engine, desk, deploy):
    deploy("deadline")
    row = engine.run(start_instance, SYSTEM, "deadline")
    _deploy(engine, set_text(_xml("deadline"), "ten_working_days", "timeDate", "business_days(15)"), "deadline")
    sign_in(client, "admin1")
    body = client.get("/modeler/deadline/migrate?from=1&to=2&lang=ar").get_data(as_text=True)
    assert 'id="migrate-timers"' in body and "المؤقّت «" in body
    assert 'id="migrate-move" disabled' in body
    token = csrf_token(body)
    refused = client.post("/modeler/deadline/migrate", data={"csrf_token": token, "from": "1", "to": "2",
                                                             "batch": "1"}).get_json()
    assert refused == {"moved": [], "failed": [], "remaining": 0}
    for bogus in ("bogus", "KEEP"):  # a value that is no choice is named, never taken for none
        page = client.post("/modeler/deadline/migrate", data={"csrf_token": token, "from": "1", "to": "2",
                                                              "timers": bogus})
        assert page.status_code == 422 and bogus in page.get_data(as_text=True)
        batch = client.post("/modeler/deadline/migrate", data={"csrf_token": token, "from": "1", "to": "2",
                                                               "timers": bogus, "batch": "1"})
        assert batch.get_json()["error"]
    done = client.post("/modeler/deadline/migrate", data={"csrf_token": token, "from": "1", "to": "2",
                                                          "timers": "keep", "batch": "1"}).get_json()
    assert done["moved"] == [row.id]


def test_bad_input_is_a_clear_page_never_a_500(client, engine, desk):
    sign_in(client, "owner1")
    assert client.get("/modeler/nothing_here/migrate").status_code == 404
    assert client.get("/modeler/member_request/migrate?from=abc").status_code == 404
    same = client.get("/modeler/member_request/migrate?lang=en")  # one version only: nothing to move to
    assert same.status_code == 200 and 'id="migrate-same"' in same.get_data(as_text=True)
    token = csrf_token(same.get_data(as_text=True))
    missing = client.post("/modeler/member_request/migrate?lang=en", data={"csrf_token": token})
    assert missing.status_code == 400
    to_itself = client.post("/modeler/member_request/migrate?lang=en", data={"csrf_token": token, "from": "1",
                                                                              "to": "1"})
    assert to_itself.status_code == 422 and "to itself" in to_itself.get_data(as_text=True)


def test_a_version_the_process_does_not_have_is_named(client, engine, desk):
    desk.open("financial_support")
    _deploy(engine, add_task_after(_xml("member_request"), "intake", "welcome_call"), "member_request")
    sign_in(client, "owner1")
    page = client.get("/modeler/member_request/migrate?from=99&to=2&lang=ar").get_data(as_text=True)
    assert page.count("data-missing-version") == 1 and "99" in page
