"""/modeler/drafts/<id>/forms: a task form's JSON Schema beside a live preview drawn by the task page's
own renderer, checked before it is saved with the draft (revision-checked), deployed with its version."""

from __future__ import annotations

import html
import json
import re

import pytest
from sqlalchemy import select

from engine.actors import SYSTEM, Actor
from engine.commands import start_instance
from engine.models import DefinitionDraft, HumanTask, ProcessDefinition
from tests.support.desk import PROJECT_BPMN_DIR
from tests.web.helpers import csrf_token
from tests.web.helpers import sign_in as _login
from web import auth, create_app
from workflows.forms import load_form
from workflows.operations.accounts import create_user
from workflows.operations.drafts import deploy_draft, import_draft

OWNER = Actor.user("owner1", roles=["process_owner"])
INQUIRY = (PROJECT_BPMN_DIR / "inquiry.bpmn").read_bytes()
KEY = "inquiry_log.json"


@pytest.fixture
def client(engine):
    auth.throttle._failures.clear()
    for username, roles in (("owner1", ["process_owner"]), ("admin1", ["administrator"]), ("rana", ["reception"]),
                            ("sara", ["supervisor"])):
        engine.run(lambda e, s, u=username, r=roles: create_user(e, s, SYSTEM, u, "secret-pass", u, r))
    return create_app({"TESTING": True, "SECRET_KEY": "t"}, engine=engine).test_client()


@pytest.fixture
def draft_id(engine) -> int:
    return engine.run(import_draft, OWNER, INQUIRY, "inquiry.bpmn")


def _url(draft_id: int, key: str = KEY, tail: str = "") -> str:
    return f"/modeler/drafts/{draft_id}/forms/{key}{tail}"


def _page(client, draft_id, key=KEY, lang="ar"):
    response = client.get(_url(draft_id, key) + f"?lang={lang}")
    return response, response.get_data(as_text=True)


def _text(page: str) -> str:
    return html.unescape(re.search(r'<textarea[^>]*id="schema"[^>]*>(.*?)</textarea>', page, re.S).group(1))


def _revision(page: str) -> int:
    return int(re.search(r'name="revision" value="(\d+)"', page).group(1))


def _with_label(schema: dict, arabic: str, english: str = "The question") -> str:
    changed = json.loads(json.dumps(schema))
    changed["properties"]["question"]["x-label"] = {"ar": arabic, "en": english}
    return json.dumps(changed, ensure_ascii=False, indent=2)


def _saved_forms(engine, draft_id) -> dict:
    return engine.query(lambda e, s: s.get(DefinitionDraft, draft_id).forms)


@pytest.mark.parametrize("username", ["rana", "sara"])
def test_nobody_but_owners_and_administrators_edits_a_form(client, engine, draft_id, username):
    _login(client, username)
    token = csrf_token(client.get("/inbox").get_data(as_text=True))
    assert client.get(f"/modeler/drafts/{draft_id}/forms").status_code == 403
    assert client.get(_url(draft_id)).status_code == 403
    text = json.dumps(load_form(KEY))
    assert client.post(_url(draft_id), data={"csrf_token": token, "schema": text, "revision": 1}).status_code == 403
    assert client.post(_url(draft_id, tail="/preview"), data={"csrf_token": token, "schema": text}).status_code == 403
    assert _saved_forms(engine, draft_id) == {}


def test_the_editor_shows_the_file_and_a_preview_drawn_by_the_task_page_renderer(client, draft_id):
    _login(client, "owner1")
    response, page = _page(client, draft_id)
    assert response.status_code == 200
    assert json.loads(_text(page)) == load_form(KEY)
    assert 'id="form-source"' in page
    preview = re.search(r'<div lang="ar" dir="rtl" id="preview-body" data-preview-state="ok".*?</div>\s*</div>',
                        page, re.S)
    assert preview is not None
    # The task page's own markup: a textarea for x-widget textarea, a check box for a boolean, Arabic labels.
    assert '<textarea class="form-control " id="f-question" name="question"' in page
    assert 'type="checkbox" id="f-can_answer"' in page
    assert "نص الاستفسار" in page and "يمكن الإجابة مباشرة" in page
    assert "تسجيل الاستفسار" in page  # the task that uses it is named
    # The other forms of the draft are listed.
    assert _url(draft_id, "inquiry_answer.json") in page
    listed = client.get(f"/modeler/drafts/{draft_id}/forms").get_data(as_text=True)
    assert f'href="{_url(draft_id)}"' in listed and f'href="{_url(draft_id, "inquiry_answer.json")}"' in listed


def test_the_preview_follows_the_text_in_either_language(client, draft_id):
    token = _login(client, "owner1")
    text = _with_label(load_form(KEY), "السؤال كما ورد", "The question as asked")
    arabic = client.post(_url(draft_id, tail="/preview") + "?lang=en",
                         data={"csrf_token": token, "schema": text, "preview_lang": "ar"}).get_data(as_text=True)
    assert 'lang="ar" dir="rtl"' in arabic and "السؤال كما ورد" in arabic and 'data-preview-state="ok"' in arabic
    english = client.post(_url(draft_id, tail="/preview"),
                          data={"csrf_token": token, "schema": text, "preview_lang": "en"}).get_data(as_text=True)
    assert 'lang="en" dir="ltr"' in english and "The question as asked" in english
    odd = client.post(_url(draft_id, tail="/preview"), data={"csrf_token": token, "schema": text, "preview_lang": "xx"})
    assert odd.status_code == 200 and 'lang="ar"' in odd.get_data(as_text=True)


def test_the_preview_names_a_json_mistake_by_line_and_column_in_the_page_language(client, draft_id):
    token = _login(client, "owner1")
    text = '{\n  "type": "object",\n  "properties": {\n    "a": {"type": "string",}\n  }\n}'
    body = client.post(_url(draft_id, tail="/preview") + "?lang=ar",
                       data={"csrf_token": token, "schema": text}).get_data(as_text=True)
    assert 'data-preview-state="invalid"' in body
    assert "السطر 4" in body  # a lone number keeps its order: it is not isolated
    assert "العمود" in body
    body = client.post(_url(draft_id, tail="/preview") + "?lang=en",
                       data={"csrf_token": token, "schema": text, "preview_lang": "ar"}).get_data(as_text=True)
    assert "look at line 4, column 28" in body and 'lang="en"' in body  # the problems speak the page's language


def test_a_save_is_checked_first_every_problem_worded(client, engine, draft_id):
    _login(client, "owner1")
    _, page = _page(client, draft_id)
    token, revision = csrf_token(page), _revision(page)
    schema = load_form(KEY)
    bad = json.loads(json.dumps(schema))
    del bad["properties"]["question"]["x-label"]
    bad["properties"]["can_answer"]["type"] = "object"
    bad["required"].append("ghost")
    response = client.post(_url(draft_id) + "?lang=ar", data={"csrf_token": token, "revision": revision,
                                                            "schema": json.dumps(bad)})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    problems = re.search(r'<ul class="mb-0" id="form-problems">(.*?)</ul>', page, re.S).group(1)
    assert problems.count("<li>") == 3
    assert "يحتاج إلى تسمية بالعربية" in problems and "ghost" in problems
    assert json.loads(_text(page)) == bad  # the text is kept to be corrected
    not_schema = client.post(_url(draft_id) + "?lang=en", data={"csrf_token": token, "revision": revision,
                                                              "schema": '{"type": "strin", "properties": {}}'})
    assert not_schema.status_code == 422 and "not a valid JSON Schema at \u2068/type\u2069" in not_schema.get_data(as_text=True)
    not_json = client.post(_url(draft_id), data={"csrf_token": token, "revision": revision, "schema": "{"})
    assert not_json.status_code == 422
    assert _saved_forms(engine, draft_id) == {}


def test_a_saved_form_is_kept_with_the_draft_and_deployed_with_its_version(client, engine, draft_id):
    _login(client, "owner1")
    _, page = _page(client, draft_id)
    text = _with_label(load_form(KEY), "السؤال كما ورد")
    response = client.post(_url(draft_id), data={"csrf_token": csrf_token(page), "revision": _revision(page),
                                                 "schema": text})
    assert response.status_code == 302 and response.headers["Location"].endswith(_url(draft_id))
    assert _saved_forms(engine, draft_id)[KEY]["properties"]["question"]["x-label"]["ar"] == "السؤال كما ورد"
    _, page = _page(client, draft_id)
    assert _revision(page) == 2 and "السؤال كما ورد" in _text(page) and "text-bg-primary" in page
    engine.run(deploy_draft, OWNER, draft_id, 2, "the question's label")
    forms = engine.query(lambda e, s: s.scalars(select(ProcessDefinition.forms)).one())
    assert forms[KEY]["properties"]["question"]["x-label"]["ar"] == "السؤال كما ورد"
    assert forms["inquiry_answer.json"] == load_form("inquiry_answer.json")
    instance = engine.run(start_instance, SYSTEM, "inquiry")
    task = engine.query(lambda e, s: s.scalars(select(HumanTask.id).where(HumanTask.instance_id == instance.id)).one())
    _login(client, "rana")
    assert "السؤال كما ورد" in client.get(f"/tasks/{task}").get_data(as_text=True)


def test_a_save_from_an_older_revision_is_refused_with_who_saved_since(client, engine, draft_id):
    _login(client, "owner1")
    _, page = _page(client, draft_id)
    token, revision = csrf_token(page), _revision(page)
    first = client.post(_url(draft_id), data={"csrf_token": token, "revision": revision,
                                              "schema": _with_label(load_form(KEY), "الأول")})
    assert first.status_code == 302
    second = client.post(_url(draft_id) + "?lang=ar", data={"csrf_token": token, "revision": revision,
                                                          "schema": _with_label(load_form(KEY), "الثاني")})
    assert second.status_code == 409
    page = second.get_data(as_text=True)
    assert 'id="form-conflict"' in page and "owner1" in page and "الثاني" in _text(page)
    assert _saved_forms(engine, draft_id)[KEY]["properties"]["question"]["x-label"]["ar"] == "الأول"
    missing = client.post(_url(draft_id), data={"csrf_token": token, "schema": "{}"})
    assert missing.status_code == 400


def test_a_form_no_task_names_is_not_found_and_a_new_one_starts_from_a_template(client, engine):
    xml = INQUIRY.replace(b'value="inquiry_log.json"', b'value="brand_new.json"')
    draft_id = engine.run(import_draft, OWNER, xml, "inquiry.bpmn")
    _login(client, "owner1")
    assert client.get(_url(draft_id, "nothing.json")).status_code == 404
    assert client.get(_url(draft_id, "x" * 300)).status_code == 404
    assert client.get(_url(999_999)).status_code == 404
    response, page = _page(client, draft_id, "brand_new.json")
    assert response.status_code == 200 and "text-bg-warning" in page
    assert "properties" in json.loads(_text(page)) and 'data-preview-state="ok"' in page
    token = csrf_token(page)
    saved = client.post(_url(draft_id, "brand_new.json"), data={"csrf_token": token, "revision": 1,
                                                                "schema": _text(page)})
    assert saved.status_code == 302 and "brand_new.json" in _saved_forms(engine, draft_id)
    assert client.post(_url(draft_id, "nothing.json"), data={"csrf_token": token, "revision": 2,
                                                             "schema": _text(page)}).status_code == 404


def test_an_administrator_edits_forms_too(client, draft_id):
    _login(client, "admin1")
    assert client.get(_url(draft_id)).status_code == 200


def test_odd_input_is_refused_in_words_never_a_server_error(client, engine, draft_id):
    token = _login(client, "owner1")
    text = json.dumps(load_form(KEY))
    for revision in ("²", "9" * 5000, "0", "-1", "", "1.0", "99999999999999999999"):
        response = client.post(_url(draft_id), data={"csrf_token": token, "revision": revision, "schema": text})
        assert response.status_code == 400, revision
    for schema in ('{"type": "object", "properties": {"a": {"type": "string", "x-label": {"ar": "\\u0000"}}}}',
                   '{"type": "object", "properties": {"a": {"type": "string", "x-label": {"ar": "\\ud800"}}}}',
                   "[" * 60_000, '{"properties": ' * 300 + "{}" + "}" * 300, " " * 70_000, "null", "[]", ""):
        saved = client.post(_url(draft_id), data={"csrf_token": token, "revision": 1, "schema": schema})
        assert saved.status_code == 422, schema[:40]
        shown = client.post(_url(draft_id, tail="/preview"), data={"csrf_token": token, "schema": schema})
        assert shown.status_code == 200 and 'data-preview-state="invalid"' in shown.get_data(as_text=True)
    no_schema = client.post(_url(draft_id), data={"csrf_token": token, "revision": 1})
    assert no_schema.status_code == 422
    raw = client.post(_url(draft_id), data=b"csrf_token=" + token.encode() + b"&revision=1&schema=%ED%A0%80",
                      content_type="application/x-www-form-urlencoded")
    assert raw.status_code in (400, 422)
    assert _saved_forms(engine, draft_id) == {}


def test_a_form_key_pointing_outside_the_forms_folder_is_a_new_form_never_a_file_read(client, engine):
    xml = INQUIRY.replace(b'value="inquiry_log.json"', b'value="../../config.yaml"')
    draft_id = engine.run(import_draft, OWNER, xml, "inquiry.bpmn")
    _login(client, "owner1")
    listed = client.get(f"/modeler/drafts/{draft_id}/forms").get_data(as_text=True)
    assert "../../config.yaml" in listed
    assert client.get(f"/modeler/drafts/{draft_id}/forms/..%2F..%2Fconfig.yaml").status_code == 404


def test_dropping_the_draft_edit_goes_back_to_the_file_revision_checked(client, engine, draft_id):
    _login(client, "owner1")
    _, page = _page(client, draft_id)
    token = csrf_token(page)
    assert 'id="discard-form"' not in page  # nothing edited yet
    assert client.post(_url(draft_id, tail="/discard"), data={"csrf_token": token, "revision": 1}).status_code == 404
    client.post(_url(draft_id), data={"csrf_token": token, "revision": 1, "schema": _with_label(load_form(KEY), "أ")})
    _, page = _page(client, draft_id)
    assert 'id="discard-form"' in page
    stale = client.post(_url(draft_id, tail="/discard"), data={"csrf_token": token, "revision": 1})
    assert stale.status_code == 409 and KEY in _saved_forms(engine, draft_id)
    assert client.post(_url(draft_id, tail="/discard"), data={"csrf_token": token, "revision": "²"}).status_code == 400
    dropped = client.post(_url(draft_id, tail="/discard"), data={"csrf_token": token, "revision": 2})
    assert dropped.status_code == 302 and _saved_forms(engine, draft_id) == {}
    _, page = _page(client, draft_id)
    assert json.loads(_text(page)) == load_form(KEY) and _revision(page) == 3
    _login(client, "rana")
    assert client.post(_url(draft_id, tail="/discard"), data={"csrf_token": token, "revision": 3}).status_code == 403
