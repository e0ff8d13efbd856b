"""Notifications: written with the step that causes them, sent after commit, retried, delivered."""

import json
import socket
from datetime import timedelta
from email import message_from_bytes, policy

import pytest
from sqlalchemy import select

from engine.actors import SYSTEM, Actor
from engine.models import OutboxMessage
from engine.settings import load_settings
from tests.conftest import T0
from workflows import identity
from workflows.bootstrap import build
from workflows.notifications import dispatch_outbox, notify, render
from workflows.operations.accounts import create_user
from workflows.operations.members import register_member

RECEPTION = Actor.user("reception1", ["reception"])


def _member(engine, **extra):
    fields = {"national_id": identity.with_check_digit("109876543"), "name_ar": "سارة القحطاني",
              "mobile": "0559876543", "email": "sara@example.org", **extra}
    return engine.run(lambda e, s: register_member(e, s, RECEPTION, **fields))


def _messages(engine):
    return engine.query(lambda e, s: [(m.kind, m.payload["channel"], m.status, m.attempts, m.last_error)
                                      for m in s.scalars(select(OutboxMessage).order_by(OutboxMessage.id))])


def test_working_days_in_arabic_take_the_dual_and_plural():
    from workflows.notifications import working_days

    assert [working_days(n, "ar") for n in (1, 2, 3, 10, 11, 100, 103)] == [
        "يوم عمل واحد", "يومَي عمل", "3 أيام عمل", "10 أيام عمل", "11 يوم عمل", "100 يوم عمل", "103 أيام عمل"]
    assert working_days(5, "en") == "5 working days"


def test_render_in_both_languages():
    values = {"reference": "REQ-2026-000007", "name": "Sara", "days": 10}
    subject, body = render("sent_to_committee", "en", values)
    assert subject == "Your request REQ-2026-000007 is with the research committee" and "10 working days" in body
    subject, body = render("sent_to_committee", "ar", dict(values, name="سارة"))
    assert "لجنة البحث" in body and "خلال 10 أيام عمل." in body
    assert "خلال 11 يوم عمل." in render("sent_to_committee", "ar", dict(values, days=11))[1]
    assert "within 1 working day." in render("sent_to_committee", "en", dict(values, days=1))[1]
    assert "خلال 5 أيام عمل." in render("sent_to_committee", "ar", dict(values, days="٥"))[1]
    assert "خلال المدة المحددة." in render("sent_to_committee", "ar", {"reference": "R"})[1]
    # The date promised to the member, in Gregorian and Hijri, once the request is complete.
    promised = dict(values, promised="2026-12-15")
    assert "خلال 10 أيام عمل، أي في موعد أقصاه 2026-12-15 (1448-07-06 هـ)." in render("sent_to_committee", "ar",
                                                                                     promised)[1]
    assert "within 10 working days, that is by 2026-12-15 (1448-07-06 AH)." in render("sent_to_committee", "en",
                                                                                       promised)[1]
    assert "خلال 10 أيام عمل." in render("sent_to_committee", "ar", dict(values, promised="not a day"))[1]
    assert render("decision_rejected", "ar", {})[1].endswith("السبب: ")  # a missing value shows as empty


def test_sent_after_commit_and_never_on_rollback(engine, tmp_path):
    member = _member(engine)

    class Boom(Exception):
        pass

    def notify_then_fail(e, s):
        notify(s, e.clock.now(), "request_received", member, {"reference": "REQ-X"}, ("sms",))
        raise Boom  # the step fails: its message must never go out

    with pytest.raises(Boom):
        engine.run(notify_then_fail)
    assert _messages(engine) == []
    engine.run(lambda e, s: notify(s, e.clock.now(), "request_received", member, {"reference": "REQ-Y"}, ("sms",)))
    assert _messages(engine) == [("request_received", "sms", "pending", 0, None)]  # nothing sent inside the step
    assert dispatch_outbox(engine) == 1
    assert _messages(engine) == [("request_received", "sms", "sent", 1, None)]
    assert dispatch_outbox(engine) == 0  # sent once


def test_dedupe_makes_notify_idempotent(engine):
    member = _member(engine)
    for _ in range(3):
        engine.run(lambda e, s: notify(s, e.clock.now(), "request_received", member, {}, ("sms", "email"),
                                       dedupe="REQ-1:request_received:notify_received"))
    assert len(_messages(engine)) == 2


def test_sms_goes_to_the_log_provider(engine):
    member = _member(engine, language="ar")
    engine.run(lambda e, s: notify(s, e.clock.now(), "decision_accepted", member,
                                   {"reference": "REQ-2026-000009", "name": member.name_ar}, ("sms",)))
    dispatch_outbox(engine)
    provider = engine.extensions["workflows"].providers["sms"]
    [line] = provider.path.read_text(encoding="utf-8").splitlines()
    sent = json.loads(line)
    assert sent["to"] == "+966559876543" and "قبول طلبك رقم REQ-2026-000009" in sent["body"]


def test_a_channel_without_an_address_is_skipped(engine):
    member = _member(engine, email=None)
    engine.run(lambda e, s: notify(s, e.clock.now(), "request_received", member, {}, ("sms", "email")))
    assert [m[1] for m in _messages(engine)] == ["sms"]  # no e-mail row for a member without one


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_server():
    from aiosmtpd.controller import Controller

    received = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
            received.append(envelope)
            return "250 OK"

    port = _free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    yield port, received
    controller.stop()


def _smtp_engine(database_url, clock, port, tmp_path, **extra):
    settings = load_settings(**{
        "notifications.email": {"backend": "smtp", "host": "127.0.0.1", "port": port, "sender": "tawasul@society.example"},
        "notifications.sms": {"backend": "log", "path": str(tmp_path / "sms.log")}, **extra})
    return build(settings, database_url=database_url, clock=clock)


def test_email_is_delivered_to_a_real_smtp_server(database_url, clock, smtp_server, tmp_path):
    port, received = smtp_server
    engine = _smtp_engine(database_url, clock, port, tmp_path)
    try:
        member = _member(engine)
        engine.run(lambda e, s: notify(s, e.clock.now(), "request_received", member,
                                       {"reference": "REQ-2026-000011", "name": member.name_ar}, ("email",)))
        assert dispatch_outbox(engine) == 1
        [envelope] = received
        assert envelope.mail_from == "tawasul@society.example" and envelope.rcpt_tos == ["sara@example.org"]
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert message["Subject"] == "تم استلام طلبك REQ-2026-000011"
        assert "عزيزنا سارة القحطاني" in message.get_content()
    finally:
        engine.dispose()


def test_a_failing_server_is_retried_with_backoff_then_marked_failed(database_url, clock, tmp_path):
    port = _free_port()  # nobody listens here
    engine = _smtp_engine(database_url, clock, port, tmp_path,
                          **{"notifications.max_attempts": 2, "notifications.backoff_seconds": 30})
    try:
        member = _member(engine)
        engine.run(lambda e, s: notify(s, e.clock.now(), "request_received", member, {}, ("email",)))
        assert dispatch_outbox(engine, T0) == 0
        [(_, _, status, attempts, error)] = _messages(engine)
        assert (status, attempts) == ("pending", 1) and "ConnectionRefusedError" in error
        assert dispatch_outbox(engine, T0 + timedelta(seconds=10)) == 0  # still backing off: not tried
        assert _messages(engine)[0][3] == 1
        dispatch_outbox(engine, T0 + timedelta(seconds=31))
        assert _messages(engine)[0][2:4] == ("failed", 2)
    finally:
        engine.dispose()


def test_sla_messages_reach_the_staff_of_the_group(database_url, clock, smtp_server, tmp_path):
    port, received = smtp_server
    engine = _smtp_engine(database_url, clock, port, tmp_path)
    try:
        engine.run(lambda e, s: create_user(e, s, SYSTEM, "committee1", "demo-pass-123", "عضو اللجنة",
                                            ["committee"], email="committee1@society.example"))
        engine.run(lambda e, s: create_user(e, s, SYSTEM, "reception1", "demo-pass-123", "الاستقبال",
                                            ["reception"], email="reception1@society.example"))
        with engine.unit_of_work() as uow:
            uow.session.add(OutboxMessage(created_at=T0, kind="task_warning", recipient="group:committee",
                                          status="pending", attempts=0,
                                          payload={"task_name": "دراسة الطلب", "due_at": "2026-12-15"}))
            uow.commit()
        assert dispatch_outbox(engine) == 1
        assert [e.rcpt_tos for e in received] == [["committee1@society.example"]]
    finally:
        engine.dispose()


def test_worker_drain_sends_the_outbox(engine):
    """`tawasul jobs run-due` (and every worker drain) sends what is pending."""
    from engine.jobs import run_due_jobs

    member = _member(engine)
    engine.run(lambda e, s: notify(s, e.clock.now(), "request_received", member, {}, ("sms",)))
    assert run_due_jobs(engine, T0).sent == 1


def test_letters_become_printable_letters(engine):
    from engine.errors import InvalidInput, NotFound
    from workflows.read.letters import letter, letters_waiting
    from workflows.requests import status_label

    member = _member(engine)
    engine.run(lambda e, s: notify(s, e.clock.now(), "decision_accepted", member,
                                   {"reference": "REQ-2026-000042", "name": member.name_ar}, ("letter",)))
    dispatch_outbox(engine)
    [waiting] = engine.query(letters_waiting, SYSTEM)
    printed = engine.query(letter, SYSTEM, waiting.id)
    assert (printed.language, printed.direction, printed.addressee) == ("ar", "rtl", "سارة القحطاني")
    assert printed.subject == "قبول طلبك REQ-2026-000042" and printed.status == "printable"
    assert printed.society == "الجمعية التعاونية متعددة الأغراض بالمحفر"  # from config.yaml
    assert status_label("with_committee") == "لدى لجنة البحث" and status_label("with_committee", "en") == "With the research committee"
    with pytest.raises(NotFound):
        engine.query(letter, SYSTEM, 999)
    engine.run(lambda e, s: notify(s, e.clock.now(), "request_received", member, {}, ("sms",)))
    sms_id = engine.query(lambda e, s: s.scalars(select(OutboxMessage.id).order_by(OutboxMessage.id.desc())).first())
    with pytest.raises(InvalidInput, match="is a sms message, not a letter"):
        engine.query(letter, SYSTEM, sms_id)
