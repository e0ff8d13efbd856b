"""Defects an adversarial review of the domain found, each pinned by a test."""

import pytest
from sqlalchemy import select

from engine.actors import SYSTEM, Actor
from engine.commands import complete_task, start_instance
from engine.errors import InvalidInput
from engine.models import OutboxMessage
from engine.queries import instance_detail, list_tasks
from tests.support.desk import COMMITTEE, RECEPTION, RESEARCHER, Desk
from workflows import identity
from workflows.forms import FormErrors
from workflows.members import search_members
from workflows.models import Member, ServiceRequest
from workflows.operations.members import register_member


@pytest.fixture
def desk(engine):
    return Desk(engine)


def test_a_taken_membership_number_is_skipped(desk, engine):
    engine.run(lambda e, s: register_member(e, s, RECEPTION, name_ar="عضو قديم", membership_no="M-2026-00001",
                                            national_id=identity.with_check_digit("109999999")))
    request = desk.open("membership_registration")
    desk.verify_all(request)
    desk.complete(RECEPTION, request, "verify_application", {"id_verified": True})
    desk.complete(COMMITTEE, request, "approve_membership", {"approved": True, "reason": "مستوفٍ"})
    member = engine.query(lambda e, s: s.get(Member, desk.member.id))
    assert member.membership_no == "M-2026-00002" and desk.request(request).status == "registered"
    assert desk.request(request).closed_at is not None  # a registration closes the request


def test_a_failing_handler_never_leaves_the_transaction_unusable(engine, deploy):
    def clash(call):
        call.session.add(Member(national_id="1000000008", name_ar="x", search_name="x", created_at=call.now,
                                created_by="t", status="applicant", language="ar"))
        call.session.add(Member(national_id="1000000008", name_ar="y", search_name="y", created_at=call.now,
                                created_by="t", status="applicant", language="ar"))
        call.session.flush()  # raises IntegrityError
        raise AssertionError("unreachable")

    engine.register_service("stamp_request", clash)
    deploy("with_service")
    row = engine.run(start_instance, SYSTEM, "with_service", data={"year": 2026})
    [enter] = engine.query(list_tasks, SYSTEM)
    row = engine.run(complete_task, SYSTEM, enter.id, {})
    assert row.status == "error"
    assert "IntegrityError" in engine.query(instance_detail, row.id)["error"]["message"]
    assert engine.query(lambda e, s: s.query(Member).count()) == 0  # the handler's writes were undone


def test_the_member_sees_checking_again_after_the_referral(desk):
    request = desk.open("in_kind_support")
    desk.complete(RECEPTION, request, "intake", {"visit_summary": "غير واضح", "inquiries_answered": False})
    desk.complete(RECEPTION, request, "check_data", {"complete": False, "needs_referral": True})
    assert desk.request(request).status == "referred"
    desk.complete(RESEARCHER, request, "explain_procedures", {"explanation": "شرح", "procedures_clear": True})
    assert desk.request(request).status == "checking"


@pytest.mark.parametrize("data, field", [
    ({"outcome": "rejected", "reason": "   ", "committee_members": ["أحمد"]}, "reason"),
    ({"outcome": "rejected", "reason": "سبب", "committee_members": ["  "]}, "committee_members.0"),
])
def test_blank_text_is_refused_by_the_form(desk, data, field):
    request = desk.open("financial_support")
    desk.complete(RECEPTION, request, "intake", {"visit_summary": "تم", "inquiries_answered": True})  # short is fine
    desk.verify_all(request)
    desk.complete(RECEPTION, request, "check_data", {"complete": True, "needs_referral": False})
    desk.complete(RECEPTION, request, "acknowledgement", {"acknowledged": True, "ack_channel": "phone"})
    with pytest.raises(FormErrors) as caught:
        desk.complete(COMMITTEE, request, "committee_review", data)
    assert caught.value.errors[field] == "must not be blank"


def test_delivery_date_in_arabic_digits(desk):
    request = desk.open("financial_support")
    desk.complete(RECEPTION, request, "intake", {"visit_summary": "تم", "inquiries_answered": True})
    desk.verify_all(request)
    desk.complete(RECEPTION, request, "check_data", {"complete": True, "needs_referral": False})
    desk.complete(RECEPTION, request, "acknowledgement", {"acknowledged": True, "ack_channel": "phone"})
    desk.complete(COMMITTEE, request, "committee_review", {"outcome": "accepted", "reason": "مستوفٍ", "committee_members": ["أ"]})
    desk.complete(Actor.user("d", ["service_delivery"]), request, "complete_registration", {"registration_note": "تم"})
    desk.complete(Actor.user("d", ["service_delivery"]), request, "deliver_service",
                  {"delivered_on": "٢٠٢٦-١٢-٠٣", "delivery_note": "تم"})
    assert desk.detail(request)["data"]["delivered_on"] == "2026-12-03"


def test_a_member_without_mobile_or_email_is_written_to(engine, desk):
    member = engine.run(lambda e, s: register_member(e, s, RECEPTION, name_ar="بلا وسيلة اتصال",
                                                     national_id=identity.with_check_digit("108888888")))
    desk.member = member
    desk.open("financial_support")  # its receipt is notified at once
    channels = engine.query(lambda e, s: [m.payload["channel"] for m in s.scalars(
        select(OutboxMessage).where(OutboxMessage.recipient == f"member:{member.id}"))])
    assert channels == ["letter"]


def test_request_of_another_case_is_never_touched(desk, engine):
    request = desk.open("financial_support")
    other = engine.run(start_instance, SYSTEM, "member_request", data={"request_id": request.id})
    assert other.status == "error"
    assert "belongs to another case" in engine.query(instance_detail, other.id)["error"]["message"]
    assert engine.query(lambda e, s: s.get(ServiceRequest, request.id)).status == "received"


@pytest.mark.parametrize("value", ["1０８７６５４３２１", "1²00000008"])
def test_only_ascii_and_arabic_digits_make_an_id(value):
    with pytest.raises(InvalidInput, match="has 10 digits"):
        identity.national_id(value)


def test_every_problem_of_a_member_is_named_at_once(engine):
    with pytest.raises(InvalidInput) as caught:
        engine.run(lambda e, s: register_member(e, s, RECEPTION, national_id="12", name_ar=" ",
                                                name_en="x" * 300))
    message = caught.value.message
    assert "national_id" in message and "name_ar is required" in message and "name_en: at most 200" in message


def test_search_by_membership_number_and_compound_names(engine):
    member = engine.run(lambda e, s: register_member(e, s, RECEPTION, name_ar="عبد الله الشمري",
                                                     membership_no="M-2025-00001",
                                                     national_id=identity.with_check_digit("107777777")))
    for text in ("M-2025-00001", "m-2025-00001", "عبدالله", "عبد الله"):
        assert [m.id for m in engine.query(lambda e, s, t=text: search_members(s, t))] == [member.id], text
    assert engine.query(lambda e, s: search_members(s, "%")) == []
    assert engine.query(lambda e, s: search_members(s, "_")) == []


def test_import_refuses_unknown_columns_and_long_values(engine, tmp_path):
    from workflows.operations.members import import_members

    unknown = tmp_path / "unknown.csv"
    unknown.write_text("national_id,name_ar,mobile_number\n1,x,2\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match=r"unknown columns \['mobile_number'\]"):
        engine.run(lambda e, s: import_members(e, s, RECEPTION, unknown))
    long = tmp_path / "long.csv"
    good = identity.with_check_digit("107654321")
    long.write_text(f"national_id,name_ar\n{good},{'ن' * 250}\n", encoding="utf-8")
    report = engine.run(lambda e, s: import_members(e, s, RECEPTION, long, skip_bad=True))
    assert report.rejected == [{"line": 2, "reason": "name_ar: at most 200 characters (this one has 250)"}]
