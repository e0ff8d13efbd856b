"""Members, contacts on every channel, the checklist (PDPL), decisions."""

import pytest

from engine.actors import SYSTEM, Actor
from engine.errors import Conflict, InvalidInput, NotFound
from tests.conftest import PROJECT_BPMN_DIR
from workflows import identity
from workflows.members import member_contacts, search_members
from workflows.operations.cases import open_request
from workflows.operations.members import log_contact, register_member, update_member
from workflows.requests import mark_document, record_decision

RECEPTION = Actor.user("reception1", ["reception"])
NOURA_ID = identity.with_check_digit("108765432")


def _register(engine, **fields):
    base = {"national_id": NOURA_ID, "name_ar": "نورة العتيبي", "name_en": "Noura Alotaibi", "mobile": "0551234567"}
    return engine.run(lambda e, s: register_member(e, s, RECEPTION, **{**base, **fields}))


def test_register_normalises_what_was_typed(engine):
    arabic_id = NOURA_ID.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    member = _register(engine, national_id=arabic_id, mobile="٠٥٥١٢٣٤٥٦٧", email=" Noura@Example.ORG ",
                       joined_on="٢٠٢٦-٠١-١٥")
    assert (member.national_id, member.mobile, member.email) == (NOURA_ID, "+966551234567", "Noura@example.org")
    assert member.joined_on.isoformat() == "2026-01-15" and member.status == "applicant"


def test_every_wrong_field_is_named_at_once(engine):
    with pytest.raises(InvalidInput) as caught:
        _register(engine, national_id="1234", mobile="12", email="x@", status="vip")
    message = caught.value.message
    for expected in ("national_id: a national ID or iqama has 10 digits", "mobile: '12' is not",
                     "email: 'x@' is not an e-mail address", "status: 'vip' is not one of"):
        assert expected in message


def test_required_fields_and_duplicates(engine):
    with pytest.raises(InvalidInput, match="name_ar is required"):
        engine.run(lambda e, s: register_member(e, s, RECEPTION, national_id=NOURA_ID))
    first = _register(engine)
    with pytest.raises(Conflict, match=f"national_id {NOURA_ID} is already registered to member {first.id}"):
        _register(engine, name_ar="أخرى")


def test_search_finds_arabic_names_whatever_the_spelling(engine):
    member = _register(engine, name_ar="فاطمة أحمد الزهراني", name_en="Fatimah Alzahrani")
    for text in ("فاطمه", "احمد", "الزهراني", "fatimah", NOURA_ID[:6], "0551234567", "٠٥٥١٢٣٤٥٦٧"):
        assert [m.id for m in engine.query(lambda e, s, t=text: search_members(s, t))] == [member.id], text
    assert engine.query(lambda e, s: search_members(s, "خالد")) == []


def test_update_member(engine):
    member = _register(engine)
    updated = engine.run(lambda e, s: update_member(e, s, RECEPTION, member.id, name_ar="نورة سعد", status="active"))
    assert (updated.name_ar, updated.status) == ("نورة سعد", "active")
    assert engine.query(lambda e, s: search_members(s, "سعد"))[0].id == member.id


@pytest.mark.parametrize("channel", ["in_person", "phone", "social_media", "letter", "website"])
def test_contacts_on_every_channel(engine, channel):
    member = _register(engine)
    engine.run(lambda e, s: log_contact(e, s, RECEPTION, member.id, channel, "outbound", "متابعة"))
    [contact] = engine.query(lambda e, s: member_contacts(s, member.id))
    assert (contact.channel, contact.direction, contact.staff) == (channel, "outbound", "reception1")


@pytest.mark.parametrize(
    "args, error, message",
    [
        (("fax", "inbound", "x"), InvalidInput, "channel: 'fax' is not one of"),
        (("phone", "sideways", "x"), InvalidInput, "direction: 'sideways'"),
        (("phone", "inbound", "  "), InvalidInput, "say what the contact was about"),
    ],
)
def test_bad_contacts(engine, args, error, message):
    member = _register(engine)
    with pytest.raises(error, match=message):
        engine.run(lambda e, s: log_contact(e, s, RECEPTION, member.id, *args))
    with pytest.raises(NotFound):
        engine.run(lambda e, s: log_contact(e, s, RECEPTION, 999, "phone", "inbound", "x"))


@pytest.fixture
def request_(engine):
    from engine.definitions import deploy_definition

    path = PROJECT_BPMN_DIR / "member_request.bpmn"
    engine.run(deploy_definition, SYSTEM, path.read_bytes(), path.name)
    member = _register(engine)
    return engine.run(lambda e, s: open_request(e, s, RECEPTION, member.id, "financial_support", "in_person"))


def test_id_documents_are_verified_not_stored(engine, request_):
    item = engine.run(lambda e, s: mark_document(e, s, RECEPTION, request_.id, "national_id", "verified"))
    assert (item.state, item.verified_by, item.verified_at, item.file_name) == ("verified", "reception1", engine.clock.now(), None)
    with pytest.raises(InvalidInput, match="national_id: this document is verified, not stored"):
        engine.run(lambda e, s: mark_document(e, s, RECEPTION, request_.id, "national_id", "verified",
                                              file_name="id-scan.pdf"))
    stored = engine.run(lambda e, s: mark_document(e, s, RECEPTION, request_.id, "income_proof", "received",
                                                   file_name="income.pdf"))
    assert stored.file_name == "income.pdf" and stored.received_at is not None


def test_checklist_mistakes_are_named(engine, request_):
    with pytest.raises(InvalidInput, match="note: say what is missing"):
        engine.run(lambda e, s: mark_document(e, s, RECEPTION, request_.id, "income_proof", "missing"))
    with pytest.raises(InvalidInput, match="state: 'lost'"):
        engine.run(lambda e, s: mark_document(e, s, RECEPTION, request_.id, "income_proof", "lost"))
    with pytest.raises(NotFound, match="has no document 'passport'"):
        engine.run(lambda e, s: mark_document(e, s, RECEPTION, request_.id, "passport", "received"))


def test_open_request_refuses_unknown_services_and_channels(engine, request_):
    with pytest.raises(InvalidInput, match="service_type 'loan' is not offered"):
        engine.run(lambda e, s: open_request(e, s, RECEPTION, request_.member_id, "loan", "phone"))
    with pytest.raises(InvalidInput, match="channel: 'pigeon'"):
        engine.run(lambda e, s: open_request(e, s, RECEPTION, request_.member_id, "inquiry", "pigeon"))


def test_a_decision_is_recorded_once(engine, request_):
    def decide(outcome, reason):
        return engine.run(lambda e, s: record_decision(e, s, RECEPTION, request_.id, outcome, reason, ["أحمد"]))

    first = decide("accepted", "مستوفٍ")
    assert decide("accepted", "مستوفٍ").id == first.id  # a retried step changes nothing
    with pytest.raises(Conflict, match="already has a decision"):
        decide("rejected", "تغيير")
    with pytest.raises(InvalidInput, match="reason: the committee gives a reason"):
        engine.run(lambda e, s: record_decision(e, s, RECEPTION, request_.id, "accepted", " ", ["a"]))
