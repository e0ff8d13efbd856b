"""Deadlines everywhere: every human task of the diagrams has one, a task without one says so,
and a member request carries the date its committee answer is promised by."""

import re
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select
from sqlalchemy import text as sql

from engine import sla
from engine.actors import SYSTEM
from engine.models import OutboxMessage
from tests.support.desk import COMMITTEE, DIAGRAMS, PROJECT_BPMN_DIR, RECEPTION, Desk
from tests.web.helpers import sign_in as _login
from web import auth, create_app
from workflows import identity
from workflows.notifications import dispatch_outbox
from workflows.operations.accounts import create_user
from workflows.operations.members import register_member

BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
SPIFF = "{http://spiffworkflow.org/bpmn/schema/1.0/core}"


def _human_tasks():
    """(diagram, element id, properties) of every user and manual task of the project's diagrams."""
    found = []
    for key in DIAGRAMS:
        root = ET.parse(PROJECT_BPMN_DIR / f"{key}.bpmn").getroot()
        for kind in ("userTask", "manualTask"):
            for element in root.iter(f"{BPMN}{kind}"):
                properties = {p.get("name"): p.get("value") for p in element.iter(f"{SPIFF}property")}
                found.append((key, element.get("id"), properties))
    return found


@pytest.fixture
def desk(engine):
    auth.throttle._failures.clear()
    return Desk(engine)


def _client(engine, username, roles):
    engine.run(create_user, SYSTEM, username, "secret-pass", username, roles)
    client = create_app({"TESTING": True, "SECRET_KEY": "t"}, engine=engine).test_client()
    _login(client, username)
    return client


def test_every_human_task_of_the_diagrams_has_a_due_and_a_warning_time(engine, clock):
    tasks = _human_tasks()
    assert {key for key, _, _ in tasks} == set(DIAGRAMS) and len(tasks) >= 10
    calendar = engine.calendars.get()
    opened = clock.now()
    for key, element, properties in tasks:
        # config.yaml may override a diagram's SLA; the project's configuration declares none.
        spec = engine.sla_config.get((key, element)) or sla.spec_from_properties(properties)
        assert spec is not None and spec.due and spec.warn, f"{key}.{element} has no due or warning time"
        assert not sla.lint_properties(properties), (key, element)
        # Each expression runs in the sandbox the engine uses (a bare PT4H would be a name, not a duration).
        times = sla.evaluate(spec, {}, opened, sandbox=engine.sandbox, calendar=calendar)
        assert opened < times.warn_at < times.due_at, (key, element, times)
        # Counted in working days: never more than the two weeks the committee has (P16).
        assert calendar.business_days_between(opened.date(), times.due_at.date()) <= 10, (key, element)


def test_the_first_tasks_of_each_diagram_open_with_a_deadline(desk, engine):
    request = desk.open("financial_support")
    inquiry = desk.open("inquiry")
    membership = desk.open("membership_registration")
    for case, element in ((request, "intake"), (inquiry, "log_inquiry"), (membership, "verify_application")):
        task = desk.task(case, element)
        assert task.due_at is not None and task.warn_at is not None and task.warn_at < task.due_at, element
    # The completeness check is due by the next working day (Tuesday 1 December 2026 → Wednesday).
    desk.complete(RECEPTION, request, "intake", {"visit_summary": "تم", "inquiries_answered": True})
    check = desk.task(request, "check_data")
    assert check.due_at == datetime(2026, 12, 2, 8, tzinfo=UTC)


def test_a_task_without_a_deadline_is_shown_and_filtered_as_no_deadline(desk, engine):
    timed, untimed = desk.open("financial_support"), desk.open("financial_support")
    # A task of a diagram that declares no SLA (here: its deadline removed, as another process would).
    with engine.db.begin() as connection:
        connection.execute(sql("UPDATE human_tasks SET due_at = NULL, warn_at = NULL WHERE instance_id = :i"),
                           {"i": untimed.instance_id})
    client = _client(engine, "rana", ["reception"])

    def rows(query):
        page = client.get(f"/inbox?{query}", headers={"HX-Request": "true"}).get_data(as_text=True)
        return page, set(re.findall(r'<tr data-task="([^"]+)"', page))

    timed_task, untimed_task = desk.task(timed, "intake").id, desk.task(untimed, "intake").id
    page, everything = rows("")
    assert everything == {timed_task, untimed_task}
    assert "في الموعد: 1" in page and "بلا موعد نهائي: 1" in page  # not two tasks "on time"
    row = page[page.index(f'<tr data-task="{untimed_task}"'):]
    row = row[:row.index("</tr>")]
    assert 'data-sla-state="no_deadline"' in row and "بلا موعد نهائي" in row and "في الموعد" not in row
    assert rows("sla=on_track")[1] == {timed_task}
    assert rows("sla=no_deadline")[1] == {untimed_task}
    assert rows("sla=at_risk")[1] == rows("sla=late")[1] == set()
    assert rows("sla=whatever")[1] == everything  # an unknown filter is no filter, never an error
    full = client.get("/inbox?sla=no_deadline").get_data(as_text=True)
    assert '<option value="no_deadline" selected>بلا موعد نهائي</option>' in full
    assert "No deadline: 1" in client.get("/inbox?lang=en", headers={"HX-Request": "true"}).get_data(as_text=True)
    client.get("/inbox?lang=ar")
    task_page = client.get(f"/tasks/{untimed_task}").get_data(as_text=True)
    meta = task_page[task_page.index('id="task-meta"'):task_page.index("</div>", task_page.index('id="task-meta"'))]
    assert "بلا موعد نهائي" in meta and "في الموعد" not in meta
    case_page = client.get(f"/cases/{untimed.instance_id}").get_data(as_text=True)
    assert 'data-sla-state="no_deadline"' in case_page and 'data-sla-state="on_track"' not in case_page
    assert 'data-sla-state="on_track"' in client.get(f"/cases/{timed.instance_id}").get_data(as_text=True)


def test_the_api_and_the_counts_agree_on_tasks_without_a_deadline(desk, engine):
    from engine.queries import list_tasks
    from workflows.read.inbox import inbox

    request = desk.open("financial_support")
    with engine.db.begin() as connection:
        connection.execute(sql("UPDATE human_tasks SET due_at = NULL, warn_at = NULL"))
    assert engine.query(inbox, RECEPTION).counts == {"on_track": 0, "at_risk": 0, "late": 0, "no_deadline": 1}
    assert [t.id for t in engine.query(list_tasks, SYSTEM, sla="no_deadline")] == [desk.task(request, "intake").id]
    assert engine.query(list_tasks, SYSTEM, sla="on_track") == []


PROMISED = date(2026, 12, 15)  # 10 working days after Tuesday 1 December 2026 (P16)
PROMISED_HIJRI = "1448-07-06"


def test_the_promised_date_is_on_the_case_page_every_task_page_and_the_decision_letter(desk, engine):
    # A member without mobile or e-mail: the decision notice goes by post, as a printed letter.
    desk.member = engine.run(register_member, RECEPTION, name_ar="سالم الدوسري", name_en="Salem Aldosari",
                             national_id=identity.with_check_digit("104444444"))
    request = desk.open("financial_support")
    desk.complete(RECEPTION, request, "intake", {"visit_summary": "تم", "inquiries_answered": True})
    desk.verify_all(request)
    desk.complete(RECEPTION, request, "check_data", {"complete": True, "needs_referral": False})
    assert desk.request(request).answer_promised_on is None  # not promised before the request is complete
    reception = _client(engine, "rana", ["reception"])
    before = reception.get(f"/cases/{request.instance_id}").get_data(as_text=True)
    assert "data-promised" not in before
    desk.complete(RECEPTION, request, "acknowledgement", {"acknowledged": True, "ack_channel": "in_person"})
    assert desk.request(request).answer_promised_on == PROMISED

    case_page = reception.get(f"/cases/{request.instance_id}").get_data(as_text=True)
    assert f'data-promised="{PROMISED.isoformat()}"' in case_page
    assert "موعد الرد الملتزم به للعضو" in case_page and PROMISED_HIJRI in case_page
    committee = _client(engine, "ali", ["committee"])
    review = committee.get(f"/tasks/{desk.task(request, 'committee_review').id}").get_data(as_text=True)
    assert f'data-promised="{PROMISED.isoformat()}"' in review and PROMISED_HIJRI in review
    english = committee.get(f"/tasks/{desk.task(request, 'committee_review').id}?lang=en").get_data(as_text=True)
    assert "Answer promised to the member by" in english

    desk.complete(COMMITTEE, request, "committee_review",
                  {"outcome": "accepted", "reason": "مستوفٍ", "committee_members": ["أحمد"]})
    delivery = _client(engine, "dana", ["service_delivery"])
    registration = delivery.get(f"/tasks/{desk.task(request, 'complete_registration').id}").get_data(as_text=True)
    assert f'data-promised="{PROMISED.isoformat()}"' in registration  # every task of the case, not only the committee's
    assert desk.request(request).answer_promised_on == PROMISED  # one date, kept

    dispatch_outbox(engine)
    [notice] = engine.query(lambda e, s: s.scalars(select(OutboxMessage.id).where(
        OutboxMessage.kind == "decision_accepted", OutboxMessage.status == "printable")).all())
    letter = reception.get(f"/letters/{notice}").get_data(as_text=True)
    assert f'data-promised="{PROMISED.isoformat()}"' in letter
    assert "التزمنا بالرد على طلبكم في موعد أقصاه:" in letter and PROMISED_HIJRI in letter and "هـ" in letter
    # The letter speaks the member's language whatever the page's.
    assert "التزمنا بالرد" in reception.get(f"/letters/{notice}?lang=en").get_data(as_text=True)
