"""The task page: the form rendered and checked on the server, values kept, conflicts explained."""

import re

import pytest

from engine.actors import SYSTEM, Actor
from engine.commands import complete_task
from engine.queries import list_tasks
from tests.support.desk import Desk
from tests.web.helpers import csrf_token as _token
from tests.web.helpers import sign_in as _login
from web import auth, create_app
from workflows.models import TaskDraft
from workflows.operations.accounts import create_user


@pytest.fixture
def setup(engine):
    auth.throttle._failures.clear()
    desk = Desk(engine)
    request = desk.open("financial_support")
    for username, roles in (("rana", ["reception"]), ("ali", ["committee"])):
        engine.run(lambda e, s, u=username, r=roles: create_user(e, s, SYSTEM, u, "secret-pass", u, r))
    client = create_app({"TESTING": True, "SECRET_KEY": "t"}, engine=engine).test_client()
    [task] = engine.query(list_tasks, SYSTEM)
    return client, task, request


def test_the_form_is_rendered_in_arabic_with_the_request_beside_it(setup):
    client, task, request = setup
    _login(client, "rana")
    page = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert "استقبال العضو والإجابة على استفساراته" in page  # the form's Arabic title
    assert 'name="visit_summary"' in page and 'type="checkbox"' in page
    assert request.reference in page and "نورة العتيبي" in page and "تم الاستلام" in page
    # The history beside the form, in the society's time zone (08:00 UTC is 11:00 in Riyadh).
    assert '<span dir="ltr">2026-12-01 11:00</span> · reception1' in page
    english = client.get(f"/tasks/{task.id}?lang=en").get_data(as_text=True)
    assert "Receive the member and answer their questions" in english and "Received" in english


def test_errors_are_shown_next_to_each_field_and_values_kept(setup, engine):
    client, task, _ = setup
    _login(client, "rana")
    page = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    response = client.post(f"/tasks/{task.id}", data={"csrf_token": _token(page), "visit_summary": "   "})
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="e-visit_summary">لا يجوز ترك هذا الحقل فارغًا.' in body  # in the page's language
    assert engine.query(list_tasks, SYSTEM)[0].id == task.id  # nothing changed
    response = client.post(f"/tasks/{task.id}", data={"csrf_token": _token(body), "visit_summary": "حضر وسأل",
                                                       "inquiries_answered": "on"})
    assert response.status_code == 302
    assert [t.element_id for t in engine.query(list_tasks, SYSTEM)] == ["check_data"]


def test_a_task_completed_by_someone_else_is_a_message(setup, engine):
    client, task, _ = setup
    _login(client, "rana")
    page = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    engine.run(complete_task, Actor.user("omar", ["reception"]), task.id,
               {"visit_summary": "تم", "inquiries_answered": True})
    response = client.post(f"/tasks/{task.id}", data={"csrf_token": _token(page), "visit_summary": "تم",
                                                       "inquiries_answered": "on"}, follow_redirects=True)
    assert response.status_code == 200 and "أنجز \u2068omar\u2069 هذه المهمة من قبل في" in response.get_data(as_text=True)


def test_a_role_without_the_lane_cannot_open_the_task(setup):
    client, task, _ = setup
    _login(client, "ali")
    assert client.get(f"/tasks/{task.id}").status_code == 403
    assert client.get("/tasks/not-a-task").status_code == 404


def test_a_role_without_the_lane_cannot_complete_or_save_the_task(setup, engine):
    client, task, _ = setup
    _login(client, "ali")
    token = _token(client.get("/inbox").get_data(as_text=True))
    for action in ("complete", "draft"):
        response = client.post(f"/tasks/{task.id}", data={"csrf_token": token, "action": action,
                                                           "visit_summary": "تم", "inquiries_answered": "on"})
        assert response.status_code == 403
    assert engine.query(list_tasks, SYSTEM)[0].id == task.id
    assert engine.query(lambda e, s: s.get(TaskDraft, task.id)) is None


def test_save_as_draft_keeps_values_unchecked_and_the_task_open(setup, engine):
    client, task, _ = setup
    _login(client, "rana")
    page = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    # Blank summary would fail the form; a draft is not checked.
    response = client.post(f"/tasks/{task.id}", data={"csrf_token": _token(page), "action": "draft",
                                                       "visit_summary": "نصف ملاحظة"}, follow_redirects=True)
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "حُفظت المسودة" in body
    assert 'name="visit_summary" rows="3">نصف ملاحظة</textarea>' in body  # the draft fills the text area
    assert 'id="draft-saved"' in body and "rana" in body
    assert engine.query(list_tasks, SYSTEM)[0].id == task.id  # still open
    # Another member of the team opening the task sees the draft.
    client.post("/logout", data={"csrf_token": _token(body)})
    assert client.get("/inbox").status_code == 302  # signed out
    engine.run(lambda e, s: create_user(e, s, SYSTEM, "omar", "secret-pass", "omar", ["reception"]))
    _login(client, "omar")
    page = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert "نصف ملاحظة" in page
    # Completing removes the draft.
    client.post(f"/tasks/{task.id}", data={"csrf_token": _token(page), "action": "complete",
                                           "visit_summary": "تم", "inquiries_answered": "on"})
    assert [t.element_id for t in engine.query(list_tasks, SYSTEM)] == ["check_data"]
    assert engine.query(lambda e, s: s.get(TaskDraft, task.id)) is None


def test_number_fields_are_text_boxes_that_take_arabic_digits(engine):
    from tests.unit.test_forms import SCHEMA
    from web.task_form import form_fields as _form_fields

    app = create_app({"TESTING": True, "SECRET_KEY": "t"}, engine=engine)
    with app.test_request_context("/?lang=ar"):
        fields = {f["name"]: f for f in _form_fields(SCHEMA, {"children": "٣"})}
    assert {name: f["kind"] for name, f in fields.items()} == {"children": "integer", "income": "number",
                                                              "visit": "date"}
    assert fields["children"]["value"] == "٣" and fields["income"]["label"] == "الدخل"


def test_the_deadline_and_assignee_are_shown_and_the_task_claimed_from_its_page(setup, engine, clock):
    from datetime import timedelta

    from sqlalchemy import text

    client, task, request = setup
    _login(client, "rana")
    with engine.db.begin() as connection:
        connection.execute(text("UPDATE human_tasks SET due_at = :due, warn_at = :warn WHERE id = :id"),
                           {"due": clock.now() + timedelta(days=7), "warn": clock.now() + timedelta(days=5),
                            "id": task.id})
    page = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    meta = page[page.index('id="task-meta"'):page.index("</form>", page.index('id="task-meta"'))]
    assert "في الموعد" in meta and "هـ" in meta and "أيام عمل" in meta and "غير مستلمة" in meta
    response = client.post(f"/tasks/{task.id}/claim", data={"csrf_token": _token(page), "next": "task"})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/tasks/{task.id}")
    assert engine.query(list_tasks, SYSTEM)[0].assignee == "rana"
    page = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert "إعادة للمسار" in page  # release, now that it is hers
    # Someone else's task: no button, and a claim attempt comes back with the reason.
    engine.run(lambda e, s: create_user(e, s, SYSTEM, "omar", "secret-pass", "omar", ["reception"]))
    other = client.application.test_client()
    _login(other, "omar")
    page = other.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert "rana" in page and "استلام</button>" not in page
    back = other.post(f"/tasks/{task.id}/claim", data={"csrf_token": _token(page), "next": "task"},
                      follow_redirects=True).get_data(as_text=True)
    alert = re.search(r'<div class="alert alert-warning" role="alert">([^<]*)</div>', back).group(1)
    assert "rana" in alert
    # Released from the task page: back to the inbox (the task may not be in the user's lanes).
    page = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    released = client.post(f"/tasks/{task.id}/unclaim", data={"csrf_token": _token(page), "next": "task"})
    assert released.headers["Location"] == "/inbox" and engine.query(list_tasks, SYSTEM)[0].assignee is None


def test_form_problems_are_worded_in_the_page_language(engine):
    from tests.unit.test_forms import SCHEMA
    from web.staff.tasks import field_errors
    from workflows.forms import FormErrors, validate

    schema = dict(SCHEMA, properties=dict(SCHEMA["properties"], note={
        "type": "string", "maxLength": 3, "x-label": {"ar": "ملاحظة", "en": "Note"}}))
    app = create_app({"TESTING": True, "SECRET_KEY": "t"}, engine=engine)
    with pytest.raises(FormErrors) as caught:
        validate(schema, {"children": "ثلاثة", "income": "-5", "visit": "2026-13-40", "note": "طويلة"})
    with app.test_request_context("/?lang=ar"):
        assert field_errors(caught.value) == {"children": "أدخل عددًا صحيحًا.", "income": "أدخل 0 أو أكثر.",
                                              "visit": "أدخل تاريخًا صحيحًا.", "note": "اكتب 3 أحرف على الأكثر."}
    with app.test_request_context("/?lang=en"):
        assert field_errors(caught.value)["note"] == "Write at most 3 characters."
    with pytest.raises(FormErrors) as caught:
        validate(schema, {})
    with app.test_request_context("/?lang=ar"):
        assert field_errors(caught.value) == {"children": "هذا الحقل مطلوب.", "income": "هذا الحقل مطلوب."}


def test_completing_from_the_page_reads_the_task_once_and_its_form_once(setup, engine, monkeypatch):
    """route → one operation → one engine command → case store → commit."""
    from sqlalchemy import event

    import workflows.forms

    client, task, _ = setup
    _login(client, "rana")
    token = _token(client.get("/inbox").get_data(as_text=True))
    forms_loaded, statements = [], []
    original = workflows.forms.load_form

    def counted(key, *args):
        forms_loaded.append(key)
        return original(key, *args)

    monkeypatch.setattr(workflows.forms, "load_form", counted)  # every reader goes through form_of_task

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(" ".join(statement.split()))

    commits = []

    def committed(conn):
        commits.append(1)

    event.listen(engine.db, "before_cursor_execute", record)
    event.listen(engine.db, "commit", committed)
    try:
        response = client.post(f"/tasks/{task.id}", data={"csrf_token": token, "visit_summary": "حضر وسأل",
                                                           "inquiries_answered": "on"})
    finally:
        event.remove(engine.db, "before_cursor_execute", record)
        event.remove(engine.db, "commit", committed)
    assert response.status_code == 302 and response.headers["Location"].endswith("/inbox")
    assert forms_loaded == ["intake.json"]
    reads_of_tasks = [s for s in statements if s.startswith("SELECT") and "FROM human_tasks" in s]
    assert len(reads_of_tasks) == 1 and "JOIN process_instances" in reads_of_tasks[0]
    assert commits == [1]  # one transaction wrote the completion
    assert [t.element_id for t in engine.query(list_tasks, SYSTEM)] == ["check_data"]
