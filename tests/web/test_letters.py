"""Letters: reception sees those waiting in the outbox, prints each one and marks it sent."""

import re

import pytest
from sqlalchemy import select

from engine.actors import SYSTEM
from engine.models import OutboxMessage
from tests.support.desk import RECEPTION, Desk
from tests.web.helpers import csrf_token as _token
from tests.web.helpers import sign_in as _login
from web import auth, create_app
from workflows import identity
from workflows.members import member_contacts
from workflows.models import Member
from workflows.notifications import dispatch_outbox, notify
from workflows.operations.accounts import create_user
from workflows.operations.members import register_member


@pytest.fixture
def letter_desk(engine):
    """A member with neither mobile nor e-mail, whose request's receipt goes by post."""
    auth.throttle._failures.clear()
    desk = Desk(engine)
    desk.member = engine.run(register_member, RECEPTION, name_ar="سالم الدوسري", name_en="Salem Aldosari",
                             national_id=identity.with_check_digit("104444444"))
    request = desk.open("financial_support")
    dispatch_outbox(engine)
    for username, roles in (("rana", ["reception"]), ("ali", ["committee"]), ("member1", [])):
        engine.run(create_user, SYSTEM, username, "secret-pass", username, roles,
                   member_id=desk.member.id if not roles else None)
    client = create_app({"TESTING": True, "SECRET_KEY": "t"}, engine=engine).test_client()
    [message_id] = engine.query(lambda e, s: s.scalars(select(OutboxMessage.id)
                                                       .where(OutboxMessage.status == "printable")).all())
    return client, desk, request, message_id


def test_reception_prints_a_letter_and_marks_it_sent(letter_desk, engine, clock):
    client, desk, request, message_id = letter_desk
    _login(client, "rana")
    listing = client.get("/letters").get_data(as_text=True)
    assert "خطابات للإرسال بالبريد" in listing and "سالم الدوسري" in listing
    assert f"تم استلام طلبك {request.reference}" in listing
    page = client.get(f"/letters/{message_id}").get_data(as_text=True)
    assert '<article class="letter bg-white border" lang="ar" dir="rtl"' in page
    assert "الجمعية التعاونية متعددة الأغراض بالمحفر" in page and "مسجلة بوزارة العمل" in page  # config.yaml
    assert 'href="/static/letter.css"' in page  # the print rules, from a file (the CSP allows no inline style)
    with client.get("/static/letter.css") as sheet:
        assert "@media print" in sheet.get_data(as_text=True) and "nav, .no-print" in sheet.get_data(as_text=True)
    assert "عزيزنا سالم الدوسري" in page and "2026-12-01" in page and "1448-" in page  # Gregorian and Hijri
    response = client.post(f"/letters/{message_id}/sent", data={"csrf_token": _token(page)}, follow_redirects=True)
    assert "سُجّل إرسال الخطاب إلى سالم الدوسري." in response.get_data(as_text=True)
    assert "لا توجد خطابات بانتظار الإرسال." in response.get_data(as_text=True)
    message = engine.query(lambda e, s: s.get(OutboxMessage, message_id))
    assert (message.status, message.sent_at) == ("sent", clock.now())
    [posted, _] = engine.query(lambda e, s: member_contacts(s, desk.member.id))  # the letter, then the request
    assert (posted.channel, posted.direction, posted.staff, posted.request_id) == ("letter", "outbound", "rana",
                                                                                   request.id)
    again = client.post(f"/letters/{message_id}/sent", data={"csrf_token": _token(page)}, follow_redirects=True)
    assert "سبق تسجيل إرسال هذا الخطاب." in again.get_data(as_text=True)
    assert len(engine.query(lambda e, s: member_contacts(s, desk.member.id))) == 2  # not recorded twice


def test_letters_are_for_those_who_post_them(letter_desk):
    client, _, _, message_id = letter_desk
    _login(client, "ali")
    token = _token(client.get("/inbox").get_data(as_text=True))
    assert client.get("/letters").status_code == 403
    assert client.get(f"/letters/{message_id}").status_code == 403
    assert client.post(f"/letters/{message_id}/sent", data={"csrf_token": token}).status_code == 403
    assert "/letters" not in client.get("/inbox").get_data(as_text=True)  # no link to them either
    member = client.application.test_client()
    _login(member, "member1")
    assert member.get("/letters").status_code == 403


def test_an_unknown_or_non_letter_message_is_not_found(letter_desk, engine):
    client, _, _, _ = letter_desk
    _login(client, "rana")
    assert client.get("/letters/99999").status_code == 404
    noura = engine.query(lambda e, s: s.scalars(select(Member).where(Member.name_ar == "نورة العتيبي")).one())
    engine.run(lambda e, s: notify(s, e.clock.now(), "request_received", noura, {}, ("sms",)))
    [sms] = engine.query(lambda e, s: s.scalars(select(OutboxMessage.id)
                                                .where(OutboxMessage.recipient == f"member:{noura.id}")).all())
    assert client.get(f"/letters/{sms}").status_code == 404
    assert re.search(r'href="/letters"', client.get("/inbox").get_data(as_text=True))


def test_two_people_marking_one_letter_at_once_record_it_once(letter_desk, engine, monkeypatch):
    """The second to commit read the letter as printable before the first marked it: it is refused."""
    from engine.errors import Conflict
    from workflows.operations import letters as operation
    from workflows.operations.letters import ALREADY_SENT, mark_letter_sent
    from workflows.read.letters import letter

    _, desk, _, message_id = letter_desk
    rana = engine.query(lambda e, s: letter(e, s, RECEPTION, message_id))  # what the slower one read
    engine.run(mark_letter_sent, RECEPTION, message_id)
    monkeypatch.setattr(operation, "letter", lambda *args: rana)
    with pytest.raises(Conflict) as refused:
        engine.run(mark_letter_sent, RECEPTION, message_id)
    assert refused.value.code == ALREADY_SENT
    assert len(engine.query(lambda e, s: member_contacts(s, desk.member.id))) == 2  # the letter once, the request
