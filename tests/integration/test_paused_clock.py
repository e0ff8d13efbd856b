"""Clocks that pause (issue 12): while the committee waits on the member for more information the
promised decision date stands still, and moves by exactly the working days the member took; the
pauses are kept, so a later change of the calendar or of the promised period recounts the date
without losing them."""

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from engine.actors import Actor
from engine.errors import Forbidden
from engine.models import AuditEvent, OutboxMessage
from tests.support.desk import COMMITTEE, RECEPTION, SUPERVISOR, Desk
from workflows.models import Decision, RequestPause, ServiceRequest
from workflows.notifications import render
from workflows.operations.calendar import close_day
from workflows.promises import promise_clock, reckon_promise
from workflows.read.pauses import paused_cases

ADMIN = Actor.user("admin1", [], roles=["administrator"])
#: Tuesday 16 February 2027, 08:00 UTC (11:00 in Riyadh); Monday 22 February is Founding Day.
START = datetime(2027, 2, 16, 8, tzinfo=UTC)
#: 10 working days after 16 February: 17, 18, 21, (22 a holiday), 23, 24, 25, 28, 1, 2 and 3 March.
PROMISED = date(2027, 3, 3)
MEMBERS = ["أحمد", "سارة"]


@pytest.fixture
def desk(engine, clock):
    clock.set(START)
    return Desk(engine)


def _with_committee(desk, clock):
    request = desk.open("financial_support")
    desk.complete(RECEPTION, request, "intake", {"visit_summary": "سأل عن الدعم", "inquiries_answered": True})
    desk.verify_all(request)
    desk.complete(RECEPTION, request, "check_data", {"complete": True, "needs_referral": False})
    desk.complete(RECEPTION, request, "acknowledgement", {"acknowledged": True, "ack_channel": "in_person"})
    return request


def _ask(desk, request, question="كشف حساب بنكي لآخر ثلاثة أشهر"):
    desk.complete(COMMITTEE, request, "committee_review",
                  {"outcome": "more_info", "reason": question, "committee_members": MEMBERS})


def _answer(desk, request):
    desk.complete(RECEPTION, request, "receive_more_info",
                  {"member_answer": "أحضر العضو الكشف", "contact_channel": "in_person"})


def _at(clock, day):
    clock.set(datetime.combine(day, START.timetz()))


def _clock(engine, request):
    return engine.query(lambda e, s: promise_clock(e, s, s.get(ServiceRequest, request.id)))


def test_a_pause_moves_the_promise_by_the_working_days_the_member_took_across_a_weekend_and_a_holiday(
        desk, engine, clock):
    request = _with_committee(desk, clock)
    assert desk.request(request).answer_promised_on == PROMISED
    assert desk.request(request).answer_counted_from == START.date()
    _at(clock, date(2027, 2, 18))  # Thursday
    _ask(desk, request)
    assert desk.open_elements(request) == ["receive_more_info"]
    assert desk.request(request).status == "awaiting_member"
    assert desk.request(request).answer_promised_on == PROMISED  # not moved yet: nothing is paused so far

    _at(clock, date(2027, 2, 22))  # Monday, Founding Day: the weekend and the holiday hold nothing
    paused = _clock(engine, request)
    assert paused.is_paused and paused.paused_on == date(2027, 2, 18)
    assert (paused.paused_days, paused.used_days, paused.answer_days) == (1, 2, 10)  # Sunday; 17 and 18

    _at(clock, date(2027, 2, 23))  # Tuesday: the member answered after two working days (21 and 23)
    _answer(desk, request)
    # 3 March + 2 working days: Thursday 4, Sunday 7.
    assert desk.request(request).answer_promised_on == date(2027, 3, 7)
    assert desk.request(request).status == "with_committee"
    assert desk.open_elements(request) == ["committee_review"]
    running = _clock(engine, request)
    assert not running.is_paused and running.paused_days == 2 and running.promised_on == date(2027, 3, 7)
    [pause] = engine.query(lambda e, s: s.scalars(select(RequestPause)).all())
    assert (pause.reason, pause.started_by, pause.ended_by) == ("more_info", "committee1", "reception1")
    assert (pause.started_at, pause.ended_at) == (datetime(2027, 2, 18, 8, tzinfo=UTC),
                                                   datetime(2027, 2, 23, 8, tzinfo=UTC))


def test_a_pause_begun_and_ended_on_one_day_moves_nothing(desk, engine, clock):
    request = _with_committee(desk, clock)
    _ask(desk, request)
    clock.advance(timedelta(hours=3))
    _answer(desk, request)
    assert desk.request(request).answer_promised_on == PROMISED


def test_two_pauses_add_up(desk, engine, clock):
    request = _with_committee(desk, clock)
    _at(clock, date(2027, 2, 18))
    _ask(desk, request)
    _at(clock, date(2027, 2, 23))
    _answer(desk, request)  # 2 working days
    _at(clock, date(2027, 2, 28))  # Sunday
    _ask(desk, request, "صورة عقد الإيجار")
    _at(clock, date(2027, 3, 2))
    _answer(desk, request)  # Monday 1 and Tuesday 2 March: 2 more
    # 3 March + 4 working days: 4, 7, 8, then Eid al-Fitr (9–12, 14 in lieu) and Monday 15.
    assert desk.request(request).answer_promised_on == date(2027, 3, 15)
    assert _clock(engine, request).paused_days == 4
    assert engine.query(lambda e, s: s.query(RequestPause).count()) == 2
    # The member is told each question and each new date, once per pause.
    kinds = [k for k, _ in desk.outbox()]
    assert kinds.count("more_info_requested") == 4 and kinds.count("answer_date_moved") == 4


def test_a_calendar_change_after_a_resume_keeps_the_paused_days(desk, engine, clock):
    request = _with_committee(desk, clock)
    _at(clock, date(2027, 2, 18))
    _ask(desk, request)
    _at(clock, date(2027, 2, 23))
    _answer(desk, request)
    assert desk.request(request).answer_promised_on == date(2027, 3, 7)
    engine.run(close_day, ADMIN, date(2027, 3, 3), "إغلاق طارئ")
    # 12 working days from 16 February without Wednesday 3 March: ..., 2, 4, 7, 8 March.
    promised = engine.run(lambda e, s: reckon_promise(e, s, s.get(ServiceRequest, request.id)))
    assert promised == date(2027, 3, 8) == desk.request(request).answer_promised_on
    # A closure inside the pause shortens it (the member took one working day of it, not two).
    engine.run(close_day, ADMIN, date(2027, 2, 21), "إغلاق طارئ")
    promised = engine.run(lambda e, s: reckon_promise(e, s, s.get(ServiceRequest, request.id)))
    assert promised == date(2027, 3, 8)  # one working day fewer before, and one fewer paused: 17, 18, 23, ..., 8
    assert _clock(engine, request).paused_days == 1


def test_a_calendar_change_seen_in_its_own_transaction(desk, engine, clock):
    """The calendar helper recounts promises in the transaction that changes the calendar."""
    request = _with_committee(desk, clock)

    def close_and_reckon(e, s):
        close_day(e, s, ADMIN, date(2027, 2, 17), "إغلاق طارئ")
        return reckon_promise(e, s, s.get(ServiceRequest, request.id))

    assert engine.run(close_and_reckon) == date(2027, 3, 4)


def test_a_new_promised_period_keeps_the_paused_time(desk, engine, clock):
    request = _with_committee(desk, clock)
    _at(clock, date(2027, 2, 18))
    _ask(desk, request)
    _at(clock, date(2027, 2, 23))
    _answer(desk, request)
    engine.settings["requests"]["committee_answer_days"] = 12
    promised = engine.run(lambda e, s: reckon_promise(e, s, s.get(ServiceRequest, request.id)))
    # 12 + 2 paused = 14 working days from 16 February: ..., 3, 4, 7, 8 and (after Eid) 15 March.
    assert promised == date(2027, 3, 15)


def test_no_promise_no_pause_and_reckoning_leaves_it_none(desk, engine, clock):
    request = desk.open("financial_support")
    assert engine.run(lambda e, s: reckon_promise(e, s, s.get(ServiceRequest, request.id))) is None
    assert _clock(engine, request) is None


def test_pause_and_resume_are_in_the_case_history(desk, engine, clock):
    request = _with_committee(desk, clock)
    _at(clock, date(2027, 2, 18))
    _ask(desk, request)
    _at(clock, date(2027, 2, 23))
    _answer(desk, request)
    events = engine.query(lambda e, s: s.scalars(select(AuditEvent).where(
        AuditEvent.instance_id == request.instance_id, AuditEvent.action.in_(["clock_paused", "clock_resumed"]))
        .order_by(AuditEvent.id)).all())
    assert [(e.action, e.actor, e.element_id) for e in events] == [
        ("clock_paused", "committee1", "pause_for_member"), ("clock_resumed", "reception1", "resume_for_committee")]
    assert events[0].summary["reason"] == "more_info" and events[0].summary["promised_on"] == "2027-03-03"
    assert events[1].summary["paused_days"] == 2 and events[1].summary["promised_on"] == "2027-03-07"


def test_the_committee_asks_for_more_information_then_accepts(desk, engine, clock):
    request = _with_committee(desk, clock)
    _at(clock, date(2027, 2, 18))
    _ask(desk, request)
    assert engine.query(lambda e, s: s.scalars(select(Decision)).all()) == []  # asking is no decision
    _at(clock, date(2027, 2, 23))
    _answer(desk, request)
    desk.complete(COMMITTEE, request, "committee_review",
                  {"outcome": "accepted", "reason": "مستوفٍ للشروط بعد الكشف", "committee_members": MEMBERS})
    assert desk.request(request).status == "accepted"
    assert desk.open_elements(request) == ["complete_registration"]
    decision = engine.query(lambda e, s: s.scalars(select(Decision)).one())
    assert decision.outcome == "accepted"
    assert desk.request(request).answer_promised_on == date(2027, 3, 7)
    assert [k for k, _ in desk.outbox()] == [
        "request_received", "request_received", "sent_to_committee", "sent_to_committee",
        "more_info_requested", "more_info_requested", "answer_date_moved", "answer_date_moved",
        "decision_accepted", "decision_accepted"]
    messages = engine.query(lambda e, s: {m.kind: render(m.kind, "ar", m.payload["values"])[1]
                                          for m in s.scalars(select(OutboxMessage))})
    assert "كشف حساب بنكي لآخر ثلاثة أشهر" in messages["more_info_requested"]
    assert "أُوقف احتساب مدة الرد" in messages["more_info_requested"]
    assert "في موعد أقصاه 2027-03-07" in messages["answer_date_moved"]
    english = engine.query(lambda e, s: render("answer_date_moved", "en", s.scalars(select(OutboxMessage).where(
        OutboxMessage.kind == "answer_date_moved")).first().payload["values"])[1])
    assert "that is by 2027-03-07" in english


def test_the_missing_documents_before_the_promise_pause_nothing(desk, engine, clock):
    request = desk.open("financial_support")
    desk.complete(RECEPTION, request, "intake", {"visit_summary": "تم", "inquiries_answered": True})
    desk.complete(RECEPTION, request, "check_data", {"complete": False, "needs_referral": False})
    desk.complete(RECEPTION, request, "request_missing", {"missing_items": "إثبات الدخل", "contact_channel": "phone"})
    assert engine.query(lambda e, s: s.query(RequestPause).count()) == 0
    assert desk.request(request).answer_promised_on is None


def test_the_supervisors_see_the_paused_cases(desk, engine, clock):
    first = _with_committee(desk, clock)
    second = _with_committee(desk, clock)
    _at(clock, date(2027, 2, 18))
    _ask(desk, first)
    _at(clock, date(2027, 2, 21))
    _ask(desk, second)
    _at(clock, date(2027, 2, 23))
    found = engine.query(paused_cases, SUPERVISOR)
    assert [(p.reference, p.paused_days, p.since_day, p.member_name_ar) for p in found] == [
        (first.reference, 2, date(2027, 2, 18), "نورة العتيبي"), (second.reference, 1, date(2027, 2, 21), "نورة العتيبي")]
    assert found[0].instance_id == first.instance_id and found[0].reason == "more_info"
    _answer(desk, first)
    assert [p.reference for p in engine.query(paused_cases, ADMIN)] == [second.reference]
    with pytest.raises(Forbidden):
        engine.query(paused_cases, RECEPTION)


def test_asking_for_more_after_the_promised_date_gives_no_time_back(desk, engine, clock):
    """The promise already broken: the member's time cannot push the date on and hide the late answer."""
    request = _with_committee(desk, clock)
    _at(clock, date(2027, 3, 10))  # a week past the promised 3 March
    _ask(desk, request)
    _at(clock, date(2027, 3, 21))
    _answer(desk, request)
    assert desk.request(request).answer_promised_on == PROMISED
    shown = _clock(engine, request)
    assert (shown.promised_on, shown.paused_days) == (PROMISED, 0)


def test_a_calendar_change_while_the_member_is_awaited_leaves_the_paused_date_to_the_resume(desk, engine, clock):
    from workflows.operations.calendar import change_calendar

    request = _with_committee(desk, clock)
    _at(clock, date(2027, 2, 18))
    _ask(desk, request)
    _at(clock, date(2027, 3, 1))
    preview = engine.query(change_calendar, ADMIN, "close", "2027-03-03", "إغلاق طارئ", dry_run=True)
    assert preview["promises"] == []  # the pause so far is not the calendar's doing
    engine.run(change_calendar, ADMIN, "close", "2027-03-03", "إغلاق طارئ", dry_run=False)
    assert desk.request(request).answer_promised_on == PROMISED


def test_a_cancelled_case_no_longer_waits_on_the_member(desk, engine, clock):
    from workflows.operations.cases import cancel_case

    request = _with_committee(desk, clock)
    _ask(desk, request)
    assert [p.reference for p in engine.query(paused_cases, SUPERVISOR)] == [request.reference]
    engine.run(cancel_case, SUPERVISOR, request.instance_id, "طلب العضو الإلغاء")
    assert engine.query(paused_cases, SUPERVISOR) == []
    pauses = engine.query(lambda e, s: s.scalars(select(RequestPause)).all())
    assert [p.ended_by for p in pauses] == [SUPERVISOR.name]
