"""The completeness check: ticking «البيانات مكتملة» while required documents are not verified
sends the request on to ask for them (the diagram's rule). Before, it did so silently; now the
form says so before submit, and the page after it names the documents."""

from __future__ import annotations

import html

import pytest

from engine.actors import SYSTEM, Actor
from tests.support.desk import Desk
from tests.web.helpers import csrf_token, sign_in
from web import auth, create_app
from workflows.operations.accounts import create_user

RECEPTION = Actor.user("r", ["reception"])


@pytest.fixture
def at_the_check(engine):
    auth.throttle._failures.clear()
    desk = Desk(engine)
    request = desk.open("financial_support")
    desk.complete(RECEPTION, request, "intake", {"visit_summary": "تم", "inquiries_answered": True})
    engine.run(lambda e, s: create_user(e, s, SYSTEM, "rana", "secret-pass", "rana", ["reception"]))
    client = create_app({"TESTING": True, "SECRET_KEY": "check"}, engine=engine).test_client()
    sign_in(client, "rana")
    return desk, request, client


def test_the_form_names_the_unverified_documents_before_submit_and_the_page_after(at_the_check):
    desk, request, client = at_the_check
    task = desk.task(request, "check_data")
    page = html.unescape(client.get(f"/tasks/{task.id}?lang=ar").get_data(as_text=True))
    assert 'id="unverified-documents"' in page
    assert "لم يُتحقق بعد من هذه المستندات المطلوبة: الهوية الوطنية أو الإقامة، إثبات الدخل، شهادة الآيبان." in page
    done = client.post(f"/tasks/{task.id}", data={"csrf_token": csrf_token(page), "action": "complete",
                                                  "complete": "on", "check_note": ""},
                       follow_redirects=True)
    shown = html.unescape(done.get_data(as_text=True))
    assert ("وُضعت علامة «البيانات مكتملة»، غير أن هذه المستندات المطلوبة لم يُتحقق منها بعد: الهوية الوطنية أو "
            "الإقامة، إثبات الدخل، شهادة الآيبان.") in shown
    assert desk.open_elements(request) == ["request_missing"]  # what the words say happened


def test_in_english_and_once_every_document_is_verified_nothing_is_said(at_the_check):
    desk, request, client = at_the_check
    task = desk.task(request, "check_data")
    page = client.get(f"/tasks/{task.id}?lang=en").get_data(as_text=True)
    assert ("These required documents are not verified yet: National ID or iqama, Proof of income, IBAN "
            "certificate.") in html.unescape(page)
    desk.verify_all(request)
    page = client.get(f"/tasks/{task.id}?lang=en").get_data(as_text=True)
    assert 'id="unverified-documents"' not in page
    done = client.post(f"/tasks/{task.id}", data={"csrf_token": csrf_token(page), "action": "complete",
                                                  "complete": "on", "check_note": ""},
                       follow_redirects=True)
    assert "not verified" not in done.get_data(as_text=True)
    assert desk.open_elements(request) == ["acknowledgement"]


def test_nothing_is_said_after_a_check_that_did_not_mark_the_data_complete(at_the_check):
    desk, request, client = at_the_check
    task = desk.task(request, "check_data")
    page = client.get(f"/tasks/{task.id}?lang=en").get_data(as_text=True)
    done = client.post(f"/tasks/{task.id}", data={"csrf_token": csrf_token(page), "action": "complete",
                                                  "check_note": "لم تكتمل"}, follow_redirects=True)
    assert "were marked complete" not in done.get_data(as_text=True) and "marked complete" not in html.unescape(
        done.get_data(as_text=True))
    assert desk.open_elements(request) == ["request_missing"]
