"""/modeler: process owners see each process with its versions and drafts, import a file, save a
draft (revision-checked), read its problems and deploy it with a note; nobody else gets in."""

from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import select

from engine.actors import SYSTEM, Actor
from engine.commands import start_instance
from engine.models import DefinitionDraft, ProcessDefinition
from tests.conftest import BPMN_DIR
from tests.integration.test_drafts import FOREIGN
from tests.web.helpers import csrf_token
from tests.web.helpers import sign_in as _login
from web import auth, create_app
from workflows.operations.accounts import create_user
from workflows.operations.drafts import import_draft

OWNER = Actor.user("owner1", roles=["process_owner"])
REVIEW = (BPMN_DIR / "review.bpmn").read_text(encoding="utf-8")
#: Latin letters outside a bidi isolate (a name or a value put inside the sentence).
_LATIN_OUTSIDE = re.compile(r"(?:^|\u2069)[^\u2068]*[A-Za-z]")


@pytest.fixture
def client(engine, deploy):
    auth.throttle._failures.clear()
    for username, roles in (("owner1", ["process_owner"]), ("admin1", ["administrator"]), ("rana", ["reception"]),
                            ("sara", ["supervisor"])):
        engine.run(lambda e, s, u=username, r=roles: create_user(e, s, SYSTEM, u, "secret-pass", u, r))
    deploy("review")
    engine.run(start_instance, SYSTEM, "review")
    return create_app({"TESTING": True, "SECRET_KEY": "t"}, engine=engine).test_client()


def _token(client) -> str:
    return csrf_token(client.get("/modeler").get_data(as_text=True))


def _json(client, path, body, token):
    return client.post(path, json=body, headers={"X-CSRFToken": token})


def _draft(engine, xml=FOREIGN) -> int:
    return engine.run(import_draft, OWNER, xml.encode(), "order.bpmn")


@pytest.mark.parametrize("username", ["rana", "sara"])
def test_nobody_but_owners_and_administrators_gets_in(client, engine, username):
    draft_id = _draft(engine)
    _login(client, username)
    token = csrf_token(client.get("/inbox").get_data(as_text=True))
    assert client.get("/modeler").status_code == 403
    assert client.get(f"/modeler/drafts/{draft_id}/xml").status_code == 403
    assert client.get(f"/modeler/drafts/{draft_id}/export").status_code == 403
    assert _json(client, f"/modeler/drafts/{draft_id}", {"xml": REVIEW, "revision": 1}, token).status_code == 403
    assert _json(client, f"/modeler/drafts/{draft_id}/problems", {"xml": REVIEW}, token).status_code == 403
    assert _json(client, f"/modeler/drafts/{draft_id}/deploy", {"revision": 1, "note": "x"},
                 token).status_code == 403
    data = {"csrf_token": token, "file": (io.BytesIO(REVIEW.encode()), "r.bpmn")}
    assert client.post("/modeler/import", data=data, content_type="multipart/form-data").status_code == 403
    assert engine.query(lambda e, s: s.scalar(select(DefinitionDraft.revision))) == 1


def test_an_owner_lands_on_the_modeler_with_versions_notes_and_running_cases(client):
    _login(client, "owner1")
    assert client.get("/").headers["Location"].endswith("/modeler")
    page = client.get("/modeler").get_data(as_text=True)
    row = re.search(r'<tr data-version="1">(.*?)</tr>', page, re.S).group(1)
    assert re.search(r'class="running">1<', row)  # the one case started on version 1
    assert "system" in row


def test_an_administrator_sees_the_modeler_too(client):
    _login(client, "admin1")
    assert client.get("/modeler").status_code == 200


def test_import_opens_the_editor_and_a_file_that_is_not_bpmn_is_refused_in_arabic(client, engine):
    _login(client, "owner1")
    token = _token(client)
    refused = client.post("/modeler/import", data={"csrf_token": token, "file": (io.BytesIO(b"<html"), "x.bpmn")},
                          content_type="multipart/form-data")
    assert refused.status_code == 422
    message = re.search(r'id="modeler-error">(.*?)</div>', refused.get_data(as_text=True), re.S).group(1)
    assert "الملف" in message and not _LATIN_OUTSIDE.search(message)  # Arabic; the technical detail isolated
    opened = client.post("/modeler/import", data={"csrf_token": token, "file": (io.BytesIO(FOREIGN.encode()),
                                                                                  "order.bpmn")},
                         content_type="multipart/form-data")
    assert opened.status_code == 302
    draft_id = int(opened.headers["Location"].rsplit("/", 1)[1])
    assert client.get(f"/modeler/drafts/{draft_id}/xml").get_data(as_text=True) == FOREIGN
    exported = client.get(f"/modeler/drafts/{draft_id}/export")
    assert exported.get_data(as_text=True) == FOREIGN
    assert exported.headers["Content-Disposition"] == "attachment; filename=Order.bpmn"


def test_a_stale_save_gets_409_with_who_saved_in_the_page_language(client, engine):
    draft_id = _draft(engine)
    _login(client, "owner1")
    token = _token(client)
    saved = _json(client, f"/modeler/drafts/{draft_id}", {"xml": FOREIGN.replace("Do it", "A"), "revision": 1}, token)
    assert saved.status_code == 200 and saved.get_json()["revision"] == 2
    stale = _json(client, f"/modeler/drafts/{draft_id}", {"xml": FOREIGN, "revision": 1}, token)
    assert stale.status_code == 409
    body = stale.get_json()
    assert body["by"] == "owner1" and "owner1" in body["message"] and "أعد" in body["message"]
    client.get("/modeler?lang=en")
    english = _json(client, f"/modeler/drafts/{draft_id}", {"xml": FOREIGN, "revision": 1}, token)
    assert "reload" in english.get_json()["message"].lower()


@pytest.mark.parametrize("body", [{}, {"xml": 3, "revision": 1}, {"xml": FOREIGN, "revision": "1"},
                                  {"xml": FOREIGN, "revision": True}, [1, 2]])
def test_a_body_the_editor_never_sends_is_a_400_with_a_sentence(client, engine, body):
    draft_id = _draft(engine)
    _login(client, "owner1")
    answer = _json(client, f"/modeler/drafts/{draft_id}", body, _token(client))
    assert answer.status_code == 400 and answer.get_json()["message"]


def test_problems_name_their_element_and_deploy_is_refused_while_they_remain(client, engine):
    draft_id = _draft(engine)
    _login(client, "owner1")
    token = _token(client)
    broken = REVIEW.replace("<bpmn:script>checks = 0", "<bpmn:script>checks = (", 1)
    found = _json(client, f"/modeler/drafts/{draft_id}/problems", {"xml": broken}, token).get_json()["problems"]
    [problem] = [p for p in found if p["element_id"] == "prepare"]
    assert problem["severity"] == "error" and "Prepare" in problem["message"]
    assert not _LATIN_OUTSIDE.search(problem["message"])  # Arabic, the names and the code isolated
    assert "بالإنجليزية" not in problem["message"]  # worded, not the English fallback
    refused = _json(client, f"/modeler/drafts/{draft_id}/deploy", {"xml": broken, "revision": 1, "note": "x"}, token)
    assert refused.status_code == 422
    assert [p["element_id"] for p in refused.get_json()["problems"]] == ["prepare"]
    assert engine.query(lambda e, s: s.scalar(select(ProcessDefinition.version).order_by(
        ProcessDefinition.version.desc()).limit(1))) == 1


def test_deploy_with_a_note_makes_version_2(client, engine):
    draft_id = _draft(engine)
    _login(client, "owner1")
    token = _token(client)
    changed = REVIEW.replace('name="', 'name="٢ ', 1)
    no_note = _json(client, f"/modeler/drafts/{draft_id}/deploy", {"xml": changed, "revision": 1, "note": ""}, token)
    assert no_note.status_code == 422 and no_note.get_json()["message"]
    done = _json(client, f"/modeler/drafts/{draft_id}/deploy", {"xml": changed, "revision": 1, "note": "اسم جديد"}, token)
    assert done.status_code == 200, done.get_json()
    assert done.get_json()["deployed"] == [{"key": "review", "version": 2, "created": True}]
    page = client.get("/modeler").get_data(as_text=True)
    assert "اسم جديد" in page
    version_1 = re.search(r'<tr data-version="1">(.*?)</tr>', page, re.S).group(1)
    assert 'href="/modeler/review/migrate?from=1&amp;to=2"' in version_1  # its running case can move
    version_2 = re.search(r'<tr data-version="2">(.*?)</tr>', page, re.S).group(1)
    assert 'href="/modeler/review/diff?from=1&amp;to=2"' in version_2
    assert f'href="/modeler/drafts/{draft_id}/forms"' in page


def test_a_save_after_signing_out_elsewhere_is_a_401_with_a_reason_never_a_false_success(client, engine):
    draft_id = _draft(engine)
    _login(client, "owner1")
    token = _token(client)
    client.post("/logout", data={"csrf_token": token})
    answer = _json(client, f"/modeler/drafts/{draft_id}", {"xml": REVIEW, "revision": 1}, token)
    assert answer.status_code == 401 and answer.get_json()["signed_out"] is True
    assert "لم يُحفظ" in answer.get_json()["message"]
    assert engine.query(lambda e, s: s.scalar(select(DefinitionDraft.revision))) == 1


def test_json_refusals_of_the_editor_are_json(client, engine):
    _login(client, "owner1")
    token = _token(client)
    gone = _json(client, "/modeler/drafts/999/problems", {"xml": REVIEW}, token)
    assert gone.status_code == 404 and gone.get_json()["message"]
    draft_id = _draft(engine)
    no_csrf = client.post(f"/modeler/drafts/{draft_id}", json={"xml": REVIEW, "revision": 1})
    assert no_csrf.status_code == 400 and no_csrf.get_json()["message"]
    half = client.post(f"/modeler/drafts/{draft_id}/deploy", data='{"revision": 1, "note": "a \\ud800 b"}',
                       content_type="application/json", headers={"X-CSRFToken": token})
    assert half.status_code == 400 and half.get_json()["message"]


def test_another_change_at_the_same_moment_asks_to_try_again_not_to_reload(client, engine, monkeypatch):
    from engine.errors import SAVED_CONCURRENTLY, Conflict
    from web.modeler import editor

    def clash(*args):
        raise Conflict("two saves", code=SAVED_CONCURRENTLY)

    draft_id = _draft(engine)
    _login(client, "owner1")
    monkeypatch.setattr(editor, "deploy_draft", clash)
    answer = _json(client, f"/modeler/drafts/{draft_id}/deploy", {"revision": 1, "note": "x"}, _token(client))
    assert answer.status_code == 409
    assert (answer.get_json()["retry"], answer.get_json()["reload"]) == (True, False)


@pytest.mark.parametrize("process_id", ["عملية", "a&#10;b", 'a&quot;; x=&quot;y'])
def test_export_names_the_file_safely_whatever_the_process_id(client, engine, process_id):
    draft_id = _draft(engine, FOREIGN.replace('id="Order"', f'id="{process_id}"'))
    _login(client, "owner1")
    exported = client.get(f"/modeler/drafts/{draft_id}/export")
    assert exported.status_code == 200
    disposition = exported.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and "\n" not in disposition and "x=" not in disposition
    if process_id == "عملية":
        assert "filename*=UTF-8''" in disposition


@pytest.mark.parametrize("number", ["²", "9" * 5000, "99999999999999999999999"])
def test_a_version_or_revision_that_is_no_number_is_never_a_500(client, engine, number):
    draft_id = _draft(engine)
    _login(client, "owner1")
    token = _token(client)
    assert client.post("/modeler/review/edit", data={"csrf_token": token, "version": number}).status_code == 404
    assert client.post(f"/modeler/drafts/{draft_id}/delete", data={"csrf_token": token,
                                                                   "revision": number}).status_code == 409


@pytest.mark.parametrize("form_key", ["ع" * 150, "x" * 300])
def test_a_form_key_too_long_for_a_file_name_is_a_problem_on_its_task_never_a_500(client, engine, form_key):
    inquiry = (BPMN_DIR.parent.parent / "bpmn" / "inquiry.bpmn").read_text(encoding="utf-8")
    draft_id = _draft(engine, inquiry.replace('value="inquiry_log.json"', f'value="{form_key}"'))
    _login(client, "owner1")
    token = _token(client)
    assert client.get(f"/modeler/drafts/{draft_id}/forms").status_code == 200
    found = _json(client, f"/modeler/drafts/{draft_id}/problems", {"xml": engine.query(
        lambda e, s: s.get(DefinitionDraft, draft_id).xml)}, token).get_json()["problems"]
    assert [p["code"] for p in found if p["element_id"] == "log_inquiry"] == ["bpmn_form_missing"]
    refused = _json(client, f"/modeler/drafts/{draft_id}/deploy", {"revision": 1, "note": "x"}, token)
    assert refused.status_code == 422
