"""Clocks that pause, on the pages: the case page says the promised date stands still (since when,
the working days used and paused) instead of a date that silently passes, and the board's partial
lists the cases waiting on the member."""

import re
from datetime import UTC, datetime

import pytest
from flask import render_template

from engine.actors import SYSTEM
from tests.support.desk import COMMITTEE, RECEPTION, SUPERVISOR, Desk
from tests.web.helpers import sign_in
from web import auth, create_app
from workflows.operations.accounts import create_user
from workflows.read.pauses import paused_cases

START = datetime(2027, 2, 16, 8, tzinfo=UTC)  # a Tuesday; Monday 22 February is Founding Day


@pytest.fixture
def desk(engine, clock):
    auth.throttle._failures.clear()
    clock.set(START)
    return Desk(engine)


@pytest.fixture
def app(engine):
    return create_app({"TESTING": True, "SECRET_KEY": "paused"}, engine=engine)


def _waiting(desk, clock):
    request = desk.open("financial_support")
    desk.complete(RECEPTION, request, "intake", {"visit_summary": "تم", "inquiries_answered": True})
    desk.verify_all(request)
    desk.complete(RECEPTION, request, "check_data", {"complete": True, "needs_referral": False})
    desk.complete(RECEPTION, request, "acknowledgement", {"acknowledged": True, "ack_channel": "in_person"})
    clock.set(datetime(2027, 2, 18, 8, tzinfo=UTC))
    desk.complete(COMMITTEE, request, "committee_review",
                  {"outcome": "more_info", "reason": "كشف حساب", "committee_members": ["أحمد"]})
    clock.set(datetime(2027, 2, 23, 8, tzinfo=UTC))
    return request


def _promise(page):
    return page[page.index('id="case-promise"'):page.index("</p>", page.index('id="case-promise"'))]


def test_the_case_page_shows_the_paused_promise_then_the_moved_date(desk, engine, clock, app):
    request = _waiting(desk, clock)
    engine.run(create_user, SYSTEM, "rana", "secret-pass", "Rana", ["reception"])
    client = app.test_client()
    sign_in(client, "rana")
    arabic = client.get(f"/cases/{request.instance_id}?lang=ar").get_data(as_text=True)
    promise = _promise(arabic)
    assert 'data-promise-paused="2027-02-18T08:00:00+00:00"' in promise and "data-promised" not in promise
    assert "موقوف" in promise and "موعد الرد موقوف بانتظار العضو منذ" in promise and "2027-02-18" in promise
    assert "1448-09-11" in promise  # 18 February 2027 in Umm al-Qura
    assert "مدة الإيقاف حتى الآن: يوما عمل" in promise  # Sunday 21 and Tuesday 23; the holiday between
    assert "أيام عمل اللجنة المستهلكة: 2 من 10" in promise
    assert "أُوقف احتساب المدة بانتظار العضو" in arabic  # the history
    english = client.get(f"/cases/{request.instance_id}?lang=en").get_data(as_text=True)
    promise = _promise(english)
    assert "The answer date is paused: waiting for the member since" in promise
    assert "Paused so far: 2 working days" in promise and "Working days of the committee used: 2 of 10" in promise
    assert "The clock is paused: waiting for the member" in english

    desk.complete(RECEPTION, request, "receive_more_info", {"member_answer": "أحضر الكشف", "contact_channel": "phone"})
    arabic = client.get(f"/cases/{request.instance_id}?lang=ar").get_data(as_text=True)
    promise = _promise(arabic)
    assert 'data-promised="2027-03-07"' in promise and "data-promise-paused" not in promise
    assert "منها يوما عمل بانتظار العضو" in promise
    assert "استُؤنف احتساب المدة بعد رد العضو" in arabic
    english = client.get(f"/cases/{request.instance_id}?lang=en").get_data(as_text=True)
    assert "including 2 working days waiting on the member" in _promise(english)
    assert "The clock runs again: the member answered" in english


def test_the_task_page_of_a_waiting_case_shows_the_paused_promise_not_a_date(desk, engine, clock, app):
    request = _waiting(desk, clock)
    engine.run(create_user, SYSTEM, "rana", "secret-pass", "Rana", ["reception"])
    client = app.test_client()
    sign_in(client, "rana")
    task = desk.task(request, "receive_more_info")
    page = client.get(f"/tasks/{task.id}?lang=ar").get_data(as_text=True)
    assert 'data-promise-paused="2027-02-18T08:00:00+00:00"' in page and "data-promised=" not in page
    assert "موعد الرد موقوف بانتظار العضو منذ" in page
    desk.complete(RECEPTION, request, "receive_more_info", {"member_answer": "أحضر الكشف", "contact_channel": "phone"})
    review = desk.task(request, "committee_review")
    engine.run(create_user, SYSTEM, "ali", "secret-pass", "Ali", ["committee"])
    client = app.test_client()
    sign_in(client, "ali")
    page = client.get(f"/tasks/{review.id}?lang=en").get_data(as_text=True)
    assert 'data-promised="2027-03-07"' in page and "including 2 working days waiting on the member" in page


def test_a_case_never_paused_shows_its_date_alone(desk, engine, clock, app):
    request = desk.open("financial_support")
    desk.complete(RECEPTION, request, "intake", {"visit_summary": "تم", "inquiries_answered": True})
    desk.verify_all(request)
    desk.complete(RECEPTION, request, "check_data", {"complete": True, "needs_referral": False})
    desk.complete(RECEPTION, request, "acknowledgement", {"acknowledged": True, "ack_channel": "in_person"})
    engine.run(create_user, SYSTEM, "rana", "secret-pass", "Rana", ["reception"])
    client = app.test_client()
    sign_in(client, "rana")
    promise = _promise(client.get(f"/cases/{request.instance_id}?lang=ar").get_data(as_text=True))
    assert 'data-promised="2027-03-03"' in promise and "بانتظار العضو" not in promise


@pytest.mark.parametrize("lang", ["ar", "en"])
def test_the_paused_cases_partial_lists_each_case_with_its_link(desk, engine, clock, app, lang):
    request = _waiting(desk, clock)
    paused = engine.query(paused_cases, SUPERVISOR)
    with app.test_request_context(f"/?lang={lang}"):
        html = render_template("_paused_cases.html", paused=paused)
        empty = render_template("_paused_cases.html", paused=[])
    [row] = re.findall(r"<tr data-paused-request=.*?</tr>", html, re.S)
    assert f'href="/cases/{request.instance_id}"' in row and request.reference in row
    assert "2027-02-18 11:00" in row and "1448-09-11" in row  # the time in Riyadh, and the Hijri day
    assert 'data-paused-days="2"' in row
    if lang == "ar":
        assert "نورة العتيبي" in row and "يوما عمل" in row and "بانتظار العضو: احتساب المدة موقوف" in html
        assert "لا توجد حالة بانتظار العضو." in empty
    else:
        assert "Noura Alotaibi" in row and "2 working days" in row and "Waiting on the member" in html
        assert "No case is waiting on the member." in empty
    assert "<tr data-paused-request" not in empty
