"""Every path of the three diagrams, driven as staff will drive them: forms checked on the
server, the checklist marked, the member told at each step (P12–P16)."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from engine.actors import SYSTEM
from engine.errors import Forbidden
from engine.models import OutboxMessage
from engine.queries import list_tasks
from tests.support.desk import COMMITTEE, DELIVERY, RECEPTION, RESEARCHER, SUPERVISOR, Desk
from tests.support.jobs import fire_due_timers
from workflows.forms import FormErrors
from workflows.members import member_contacts
from workflows.models import Acknowledgement, Decision, Member, Survey
from workflows.requests import documents


@pytest.fixture
def desk(engine):
    return Desk(engine)


def _through_check(desk, request):
    desk.complete(RECEPTION, request, "intake", {"visit_summary": "سأل عن شروط الدعم", "inquiries_answered": True})
    assert desk.request(request).status == "checking"
    desk.verify_all(request)
    desk.complete(RECEPTION, request, "check_data", {"complete": True, "needs_referral": False})
    desk.complete(RECEPTION, request, "acknowledgement", {"acknowledged": True, "ack_channel": "in_person"})


def test_open_request_writes_the_request_checklist_contact_and_instance(desk, engine):
    request = desk.open("financial_support", channel="phone")
    assert request.reference == "REQ-2026-000001"
    assert desk.request(request).status == "received"
    assert [(d.kind, d.required, d.state) for d in engine.query(lambda e, s: documents(s, request.id))] == [
        ("national_id", True, "missing"), ("income_proof", True, "missing"), ("iban_certificate", True, "missing")]
    [contact] = engine.query(lambda e, s: member_contacts(s, desk.member.id))
    assert (contact.channel, contact.direction, contact.request_id) == ("phone", "inbound", request.id)
    detail = desk.detail(request)
    assert detail["business_key"] == "REQ-2026-000001" and detail["data"]["request_id"] == request.id
    assert desk.open_elements(request) == ["intake"]
    assert desk.outbox() == [("request_received", "sms"), ("request_received", "email")]
    assert desk.open("in_kind_support").reference == "REQ-2026-000002"


def test_happy_path_to_delivery_and_survey(desk, engine, clock):
    request = desk.open("financial_support")
    _through_check(desk, request)
    assert desk.request(request).status == "with_committee"
    [review] = [t for t in engine.query(list_tasks, SYSTEM) if t.element_id == "committee_review"]
    assert review.due_at == datetime(2026, 12, 15, 8, tzinfo=UTC)  # 10 working days (P16)
    desk.complete(COMMITTEE, request, "committee_review",
                  {"outcome": "accepted", "reason": "مستوفٍ للشروط", "committee_members": ["أحمد", "سارة", "خالد"]})
    assert desk.request(request).status == "accepted"
    desk.complete(DELIVERY, request, "complete_registration", {"registration_note": "سُجّل في برنامج الدعم"})
    desk.complete(DELIVERY, request, "deliver_service", {"delivered_on": "2026-12-03", "delivery_note": "صُرف الدعم"})
    final = desk.request(request)
    assert final.status == "delivered" and final.closed_at is not None
    assert desk.detail(request)["status"] == "completed"
    ack = engine.query(lambda e, s: s.scalars(select(Acknowledgement)).one())
    assert (ack.request_id, ack.text_version, ack.channel, ack.recorded_by) == (request.id, "2026-1", "in_person", "reception1")
    assert "مسؤول مسؤولية مباشرة" in ack.text
    decision = engine.query(lambda e, s: s.scalars(select(Decision)).one())
    assert (decision.outcome, decision.committee_members, decision.recorded_by) == ("accepted", ["أحمد", "سارة", "خالد"], "committee1")
    survey = engine.query(lambda e, s: s.scalars(select(Survey)).one())
    assert survey.due_at == clock.now().replace(day=4)
    kinds = [k for k, _ in desk.outbox()]
    assert kinds == ["request_received", "request_received", "sent_to_committee", "sent_to_committee",
                     "decision_accepted", "decision_accepted", "service_delivered", "service_delivered",
                     "survey_invitation", "survey_invitation"]
    from workflows.notifications import render

    bodies = engine.query(lambda e, s: [render(m.kind, m.payload.get("language", "ar"), m.payload["values"])[1]
                                        for m in s.scalars(select(OutboxMessage)
                                                           .where(OutboxMessage.kind == "sent_to_committee"))])
    assert bodies and all("خلال 10 أيام عمل، أي في موعد أقصاه" in body and " هـ)." in body for body in bodies)


def test_incomplete_data_asks_for_what_is_missing_and_comes_back(desk):
    request = desk.open("financial_support")
    desk.complete(RECEPTION, request, "intake", {"visit_summary": "تقدم بالطلب", "inquiries_answered": True})
    # the staff says complete, but the checklist is not verified: the diagram asks for what is missing
    desk.complete(RECEPTION, request, "check_data", {"complete": True, "needs_referral": False})
    assert desk.open_elements(request) == ["request_missing"]
    desk.complete(RECEPTION, request, "request_missing", {"missing_items": "إثبات الدخل", "contact_channel": "phone"})
    assert desk.open_elements(request) == ["check_data"]
    desk.verify_all(request)
    desk.complete(RECEPTION, request, "check_data", {"complete": True, "needs_referral": False})
    assert desk.open_elements(request) == ["acknowledgement"]


def test_referral_to_the_social_researcher_and_back(desk, engine):
    request = desk.open("in_kind_support")
    desk.complete(RECEPTION, request, "intake", {"visit_summary": "غير واضح", "inquiries_answered": False})
    desk.complete(RECEPTION, request, "check_data", {"complete": False, "needs_referral": True})
    assert desk.request(request).status == "referred"
    [task] = engine.query(list_tasks, SYSTEM, instance_id=request.instance_id)
    assert (task.element_id, task.lane) == ("explain_procedures", "social_researcher")
    with pytest.raises(Forbidden):
        desk.complete(RECEPTION, request, "explain_procedures", {"explanation": "x" * 5, "procedures_clear": True})
    desk.complete(RESEARCHER, request, "explain_procedures",
                  {"explanation": "شرحت شروط الدعم العيني", "procedures_clear": True})
    assert desk.open_elements(request) == ["check_data"]
    desk.verify_all(request)
    desk.complete(RECEPTION, request, "check_data", {"complete": True, "needs_referral": False})
    assert desk.open_elements(request) == ["acknowledgement"]


def test_rejection_tells_the_member_why_and_closes(desk):
    request = desk.open("financial_support")
    _through_check(desk, request)
    desk.complete(COMMITTEE, request, "committee_review",
                  {"outcome": "rejected", "reason": "الدخل أعلى من الحد", "committee_members": ["أحمد"]})
    final = desk.request(request)
    assert (final.status, final.closed_at is not None) == ("rejected", True)
    assert desk.detail(request)["status"] == "completed"
    assert desk.outbox()[-2:] == [("decision_rejected", "sms"), ("decision_rejected", "email")]


def test_late_committee_gets_a_reminder_then_goes_to_the_supervisor(desk, engine, clock):
    request = desk.open("financial_support")
    _through_check(desk, request)
    assert engine.query(list_tasks, SUPERVISOR) == []
    fire_due_timers(engine, datetime(2026, 12, 13, 8, tzinfo=UTC))  # 8 working days: the reminder
    warnings = engine.query(lambda e, s: s.scalars(select(OutboxMessage.recipient).where(
        OutboxMessage.kind == "task_warning")).all())
    assert warnings == ["group:committee"]
    clock.set(datetime(2026, 12, 15, 8, tzinfo=UTC))  # 10 working days: late
    fire_due_timers(engine)
    [late] = engine.query(list_tasks, SUPERVISOR, sla="late")
    assert (late.element_id, late.candidate_group) == ("committee_review", "supervisor")


def test_form_errors_name_each_field_and_change_nothing(desk):
    request = desk.open("financial_support")
    with pytest.raises(FormErrors) as caught:
        desk.complete(RECEPTION, request, "intake", {"inquiries_answered": "yes", "extra": 1})
    assert caught.value.errors["visit_summary"] == "is required"
    assert "is not of type 'boolean'" in caught.value.errors["inquiries_answered"]
    assert desk.open_elements(request) == ["intake"]
    desk.complete(RECEPTION, request, "intake", {"visit_summary": "تم الاستقبال", "inquiries_answered": True})


def test_acknowledgement_must_be_given(desk):
    request = desk.open("financial_support")
    desk.complete(RECEPTION, request, "intake", {"visit_summary": "تم الاستقبال", "inquiries_answered": True})
    desk.verify_all(request)
    desk.complete(RECEPTION, request, "check_data", {"complete": True, "needs_referral": False})
    with pytest.raises(FormErrors, match="acknowledged"):
        desk.complete(RECEPTION, request, "acknowledgement", {"acknowledged": False, "ack_channel": "phone"})


@pytest.mark.parametrize("can_answer, lane, actor", [(True, "reception", RECEPTION), (False, "social_researcher", RESEARCHER)])
def test_inquiry_paths(desk, engine, can_answer, lane, actor):
    request = desk.open("inquiry", channel="social_media")
    desk.complete(RECEPTION, request, "log_inquiry", {"question": "ما شروط العضوية؟", "can_answer": can_answer})
    [task] = engine.query(list_tasks, SYSTEM, instance_id=request.instance_id)
    assert task.lane == lane
    desk.complete(actor, request, task.element_id, {"answer": "تجدها في موقع الجمعية"})
    assert desk.request(request).status == "answered"
    assert desk.outbox()[-1] == ("inquiry_answered", "email")


def test_membership_registration_issues_a_number_and_welcomes(desk, engine):
    request = desk.open("membership_registration")
    desk.complete(RECEPTION, request, "verify_application", {"id_verified": True})
    assert desk.open_elements(request) == ["request_missing"]  # the share payment is not verified yet
    desk.complete(RECEPTION, request, "request_missing", {"missing_items": "إيصال الأسهم", "contact_channel": "phone"})
    desk.verify_all(request)
    desk.complete(RECEPTION, request, "verify_application", {"id_verified": True})
    desk.complete(COMMITTEE, request, "approve_membership", {"approved": True, "reason": "مستوفٍ"})
    member = engine.query(lambda e, s: s.get(Member, desk.member.id))
    assert (member.status, member.membership_no, member.joined_on.isoformat()) == ("active", "M-2026-00001", "2026-12-01")
    assert desk.request(request).status == "registered"
    assert desk.outbox()[-1] == ("welcome_member", "email")


def test_membership_can_be_refused(desk, engine):
    request = desk.open("membership_registration")
    desk.verify_all(request)
    desk.complete(RECEPTION, request, "verify_application", {"id_verified": True})
    desk.complete(COMMITTEE, request, "approve_membership", {"approved": False, "reason": "غير مستوفٍ"})
    assert desk.request(request).status == "rejected"
    assert engine.query(lambda e, s: s.get(Member, desk.member.id)).membership_no is None
