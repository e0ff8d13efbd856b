"""Every door into a case's data refuses what the case could not keep, naming the field, before
anything is written: text that cannot be encoded (a lone surrogate, which JSON may write as
``"\\ud800"``: valid JSON, but no database or page can encode it), an integer too long to write,
data too large to keep. A script that makes such a value stops in error at its element, its
variable not kept. The page of every case a refused attempt touched still renders, the case as
it was (before this, one lone surrogate made a case's page a 500 for good)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from engine.actors import SYSTEM
from engine.commands import complete_task, start_instance
from engine.definitions import deploy_definition
from engine.errors import InvalidInput
from engine.models import HumanTask, ProcessInstance
from engine.queries import instance_detail, list_tasks
from tests.reliability.diagrams import END, START, chain, diagram
from tests.support.desk import Desk
from tests.web.helpers import csrf_token, sign_in
from web import auth, create_app
from workflows.models import TaskDraft
from workflows.operations.accounts import create_user

TOKEN = "entry-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SURROGATE = "\ud800"


def _script_case(key: str, script: str) -> bytes:
    """A script task ``make`` running ``script``, then a user task ``after``."""
    return diagram(key, START + f'<bpmn:scriptTask id="make"><bpmn:script>{script}</bpmn:script></bpmn:scriptTask>\n'
                   + '<bpmn:userTask id="after" />\n' + END, chain("start", "make", "after", "end"))


@pytest.fixture
def client(engine, deploy):
    auth.throttle._failures.clear()
    deploy("review")
    engine.run(lambda e, s: create_user(e, s, SYSTEM, "boss", "secret-pass", "Boss", ["supervisor"]))
    engine.settings["api"] = {"token": TOKEN}
    client = create_app({"TESTING": True, "PROPAGATE_EXCEPTIONS": False, "SECRET_KEY": "entry"},
                        engine=engine).test_client()
    sign_in(client, "boss")
    return client


def _instances(engine) -> int:
    return engine.query(lambda e, s: s.scalar(select(func.count()).select_from(ProcessInstance)))


def _state(engine, instance_id: int) -> tuple:
    """What a refused attempt must leave as it was: revision, status, data, open tasks."""
    revision = engine.query(lambda e, s: s.scalar(select(ProcessInstance.revision)
                                                  .where(ProcessInstance.id == instance_id)))
    detail = engine.query(instance_detail, instance_id)
    tasks = sorted(t.id for t in engine.query(list_tasks, SYSTEM, instance_id=instance_id))
    return revision, detail["status"], detail["data"], tasks


def _page_renders(client, instance_id: int) -> None:
    page = client.get(f"/cases/{instance_id}")
    assert page.status_code == 200, page.get_data(as_text=True)[:300]


def _review_case(engine) -> tuple[int, str]:
    row = engine.run(start_instance, SYSTEM, "review", data={"request_no": 7})
    [task] = engine.query(list_tasks, SYSTEM, instance_id=row.id)
    return row.id, task.id


# -- the API ------------------------------------------------------------------------------------


@pytest.mark.parametrize("body, error", [
    ('{"key": "review", "data": {"request_no": 1, "note": "\\ud800"}}',
     "field data['note'] holds text that is not valid Unicode ('\\ud800' at character 1)"),
    ('{"key": "review", "data": {"request_no": 1, "address": {"lines": ["ok", "No. \\udfff"]}}}',
     "field data['address']['lines'][1] holds text that is not valid Unicode ('\\udfff' at character 5)"),
    ('{"key": "review", "data": {"request_no": 1, "address": {"\\ud800": 1}}}',
     "the name '\\ud800' in data['address'] holds text that is not valid Unicode ('\\ud800' at character 1)"),
    ('{"key": "review", "data": {"request_no": 1}, "business_key": "REQ-\\udc00"}',
     "field business_key holds text that is not valid Unicode ('\\udc00' at character 5)"),
    ('{"key": "rev\\ud800iew"}', "field key holds text that is not valid Unicode ('\\ud800' at character 4)"),
])
def test_the_api_refuses_a_lone_surrogate_in_any_field_of_a_start(engine, client, body, error):
    existing, _ = _review_case(engine)
    before = _state(engine, existing)
    response = client.post("/api/v1/instances", data=body, content_type="application/json", headers=AUTH)
    assert response.status_code == 422
    assert response.get_json()["error"] == error + ": a lone surrogate can be neither stored nor shown"
    assert _instances(engine) == 1  # nothing started
    assert _state(engine, existing) == before
    _page_renders(client, existing)


@pytest.mark.parametrize("data, error", [
    ('{"complete": true, "needs_referral": false, "note": "\\ud800"}', "field data['note']"),
    ('{"complete": true, "needs_referral": false, "notes": [{"by": "x", "text": ["\\udbff"]}]}',
     "field data['notes'][0]['text'][0]"),
])
def test_the_api_refuses_a_lone_surrogate_in_a_completion_and_the_case_is_unchanged(engine, client, data, error):
    instance_id, task_id = _review_case(engine)
    before = _state(engine, instance_id)
    response = client.post(f"/api/v1/tasks/{task_id}/complete", data='{"data": ' + data + "}",
                           content_type="application/json", headers=AUTH)
    assert response.status_code == 422
    assert response.get_json()["error"].startswith(error + " holds text that is not valid Unicode")
    assert _state(engine, instance_id) == before
    _page_renders(client, instance_id)


# -- the engine (every caller: API, CLI, forms, operations) -------------------------------------


def test_the_engine_refuses_a_lone_surrogate_naming_the_key_and_the_place_inside_it(engine, client):
    with pytest.raises(InvalidInput) as refused:
        engine.run(start_instance, SYSTEM, "review", data={"request_no": 1, "address": {"lines": ["ok", SURROGATE]}})
    assert refused.value.message == (
        "data key 'address' holds text that is not valid Unicode (a lone surrogate '\\ud800' at character 1; it "
        "cannot be stored or shown) at address['lines'][1], which cannot be saved with the case")
    with pytest.raises(InvalidInput, match=r"data key 'address' holds a dictionary key '\\udc00' that is not valid"):
        engine.run(start_instance, SYSTEM, "review", data={"request_no": 1, "address": {"\udc00": 1}})
    with pytest.raises(InvalidInput, match="business_key holds text that is not valid Unicode"):
        engine.run(start_instance, SYSTEM, "review", data={"request_no": 1}, business_key="REQ-" + SURROGATE)
    assert _instances(engine) == 0
    instance_id, task_id = _review_case(engine)
    before = _state(engine, instance_id)
    with pytest.raises(InvalidInput, match=r"data key 'note' holds text that is not valid Unicode"):
        engine.run(complete_task, SYSTEM, task_id, {"complete": True, "needs_referral": False, "note": SURROGATE})
    assert _state(engine, instance_id) == before
    _page_renders(client, instance_id)


def test_data_larger_than_the_budget_is_refused_before_it_is_serialized(engine, client):
    """["x"*1000]*100000 is 100 M characters of JSON but 0.8 MB in memory (one string, shared)."""
    with pytest.raises(InvalidInput) as refused:
        engine.run(start_instance, SYSTEM, "review", data={"request_no": 1, "x": ["x" * 1000] * 100_000})
    assert refused.value.message == ("data key 'x' holds more data than a case may take in at once (about "
                                     "5,000,000 characters as JSON), which cannot be saved with the case")
    # 6 M characters through the API (under its 11 MB body limit): refused the same way.
    response = client.post("/api/v1/instances", headers=AUTH,
                           json={"key": "review", "data": {"request_no": 1, "x": ["x" * 1000] * 6_000}})
    assert response.status_code == 422 and "more data than a case may take in at once" in response.get_json()["error"]
    # Arabic text counts as JSON writes it (\uXXXX, six characters each): 900,000 letters are too many.
    with pytest.raises(InvalidInput, match="data key 'note' holds more data"):
        engine.run(start_instance, SYSTEM, "review", data={"request_no": 1, "note": "م" * 900_000})
    assert _instances(engine) == 0
    # Under the budget is kept whole: 4 M characters.
    row = engine.run(start_instance, SYSTEM, "review", data={"request_no": 1, "x": ["x" * 1000] * 4_000})
    assert len(engine.query(instance_detail, row.id)["data"]["x"]) == 4_000
    _page_renders(client, row.id)


# -- the command line ---------------------------------------------------------------------------


def test_the_command_line_refuses_a_lone_surrogate_in_data_and_business_key(engine, client, run_cli):
    # "\udcff" is what Python makes of an argument byte that is not UTF-8 (surrogateescape).
    code, _, err = run_cli("start", "review", "--data", '{"request_no": 1, "note": "\\ud800"}')
    assert (code, err.strip()) == (2, "tawasul: data key 'note' holds text that is not valid Unicode (a lone "
                                      "surrogate '\\ud800' at character 1; it cannot be stored or shown), which "
                                      "cannot be saved with the case")
    # A byte that is not UTF-8 in an argument is refused before anything is read, naming where.
    code, _, err = run_cli("start", "review", "--data", '{"request_no": 1, "note": {"by": "\udcff"}}')
    assert (code, err.strip()) == (2, "tawasul: the value of --data is not valid UTF-8 text (character 35 is a byte "
                                      "that is not UTF-8); nothing was done")
    code, _, err = run_cli("start", "review", "--data", '{"request_no": 1}', "--business-key=ab\udcff")
    assert (code, err.strip()) == (2, "tawasul: the value of --business-key is not valid UTF-8 text (character 3 is "
                                      "a byte that is not UTF-8); nothing was done")
    code, _, err = run_cli("start", "rev\udcffiew")
    assert (code, err.strip()) == (2, "tawasul: argument 2 is not valid UTF-8 text (character 4 is a byte that is "
                                      "not UTF-8); nothing was done")
    assert _instances(engine) == 0
    instance_id, task_id = _review_case(engine)
    before = _state(engine, instance_id)
    code, _, err = run_cli("complete", task_id, "--data",
                           '{"complete": true, "needs_referral": false, "note": ["\\ud800"]}')
    assert code == 2 and "data key 'note' holds text that is not valid Unicode" in err
    assert _state(engine, instance_id) == before
    _page_renders(client, instance_id)


# -- the task form ------------------------------------------------------------------------------


def test_a_hand_made_form_post_cannot_carry_a_lone_surrogate(engine, client):
    """Werkzeug decodes form bodies as UTF-8 with replacement, so bytes ED A0 80 (a surrogate's
    UTF-8 shape) never become one: kept as written (URL-encoded) or as U+FFFD (multipart)."""
    desk = Desk(engine)
    request = desk.open("financial_support")
    task = desk.task(request, "intake")
    engine.run(lambda e, s: create_user(e, s, SYSTEM, "rana", "secret-pass", "Rana", ["reception"]))
    client = client.application.test_client()
    sign_in(client, "rana")
    page = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    token = csrf_token(page)
    before = _state(engine, request.instance_id)
    urlencoded = client.post(f"/tasks/{task.id}", content_type="application/x-www-form-urlencoded",
                             data=f"csrf_token={token}&action=draft&visit_summary=a%ED%A0%80b".encode())
    assert urlencoded.status_code == 302
    assert _draft(engine, task.id)["visit_summary"] == "a%ED%A0%80b"
    boundary = "entry"
    multipart = (f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{token}\r\n'
                 f'--{boundary}\r\nContent-Disposition: form-data; name="action"\r\n\r\ndraft\r\n'
                 f'--{boundary}\r\nContent-Disposition: form-data; name="visit_summary"\r\n\r\n').encode() \
        + b"a\xed\xa0\x80b" + f"\r\n--{boundary}--\r\n".encode()
    posted = client.post(f"/tasks/{task.id}", data=multipart,
                         content_type=f"multipart/form-data; boundary={boundary}")
    assert posted.status_code == 302
    assert _draft(engine, task.id)["visit_summary"] == "a\ufffd\ufffd\ufffdb"
    assert client.get(f"/tasks/{task.id}").status_code == 200
    assert _state(engine, request.instance_id) == before
    _page_renders(client, request.instance_id)


def _draft(engine, task_id: str) -> dict:
    return engine.query(lambda e, s: s.get(TaskDraft, task_id).data)


# -- scripts ------------------------------------------------------------------------------------


@pytest.mark.parametrize("script, message", [
    ("note = chr(0xd800)", "variable 'note' holds text that is not valid Unicode (a lone surrogate '\\ud800' at "
                           "character 1; it cannot be stored or shown), which cannot be saved with the case"),
    ('note = {"lines": ["ok", "x" + chr(0xdfff)]}', "variable 'note' holds text that is not valid Unicode (a lone "
     "surrogate '\\udfff' at character 2; it cannot be stored or shown) at note['lines'][1], which cannot be "
     "saved with the case"),
    ("note = {chr(0xdc00): 1}", "variable 'note' holds a dictionary key '\\udc00' that is not valid Unicode "
                                "(a lone surrogate), which cannot be saved with the case"),
    ("big = 10 ** 5000", "variable 'big' holds an integer of more than 4300 digits, which cannot be saved with "
                         "the case"),
    ('big = ["x" * 1000] * 100000', "variable 'big' holds more data than a case may take in at once (about "
                                    "5,000,000 characters as JSON), which cannot be saved with the case"),
])
def test_a_script_that_makes_data_the_case_cannot_keep_stops_in_error_at_its_element(engine, client, script,
                                                                                      message):
    engine.run(deploy_definition, SYSTEM, _script_case("making", script), "making.bpmn")
    response = client.post("/api/v1/instances", json={"key": "making", "data": {"kept": 1}}, headers=AUTH)
    assert response.status_code == 201  # before: 422 "task data holds a value that cannot be saved", no element
    instance_id = response.get_json()["instance_id"]
    detail = engine.query(instance_detail, instance_id)
    assert detail["status"] == "error"
    assert detail["error"] == {"element_id": "make", "message": "ScriptError:" + message}
    assert detail["data"] == {"kept": 1}  # the script's variable is not kept
    _page_renders(client, instance_id)


# -- query parameters ---------------------------------------------------------------------------


@pytest.mark.parametrize("query, error", [
    ("instance=abc", "query parameter 'instance' must be an instance id (a whole number from 1), not 'abc'"),
    ("instance=", "query parameter 'instance' must be an instance id (a whole number from 1), not ''"),
    ("instance=0", "query parameter 'instance' must be an instance id (a whole number from 1), not '0'"),
    ("instance=-1", "query parameter 'instance' must be an instance id (a whole number from 1), not '-1'"),
    ("instance=%20%31", "query parameter 'instance' must be an instance id (a whole number from 1), not ' 1'"),
    ("instance=2147483648",
     "query parameter 'instance' must be an instance id (a whole number from 1), not '2147483648'"),
    ("lane=", "query parameter 'lane' must name a lane"),
    ("instanse=1", "unknown query parameter 'instanse'; this list takes 'instance' and 'lane'"),
])
def test_a_malformed_task_filter_is_a_400_naming_the_parameter(engine, client, query, error):
    _review_case(engine)
    response = client.get(f"/api/v1/tasks?{query}", headers=AUTH)
    assert (response.status_code, response.get_json()) == (400, {"error": error, "kind": "invalid"})


def test_the_task_filter_is_applied(engine, client):
    first, first_task = _review_case(engine)
    _review_case(engine)
    listed = client.get(f"/api/v1/tasks?instance={first}", headers=AUTH).get_json()
    assert [task["id"] for task in listed] == [first_task]
    assert len(client.get("/api/v1/tasks", headers=AUTH).get_json()) == 2
    assert client.get("/api/v1/tasks?lane=committee", headers=AUTH).get_json() == []
    assert engine.query(lambda e, s: s.scalar(select(func.count()).select_from(HumanTask))) == 2


# -- text stored before the doors refused it ---------------------------------------------------


def _dialect(engine) -> str:
    return engine.query(lambda e, s: s.get_bind().dialect.name)


def test_a_case_stored_with_a_lone_surrogate_before_the_fix_renders_and_goes_on(engine, client):
    """A case's stored state (JSON text) holding a lone surrogate's escape, as one started before
    every door refused them could: its pages render with U+FFFD in its place, the case goes on, and
    its next write stores the repaired text. Before, its page was a 500 for good."""
    from engine.spiff.snapshot import decode_snapshot, encode_snapshot

    instance_id, task_id = _review_case(engine)

    def poison(e, s):
        row = s.get(ProcessInstance, instance_id)
        text = decode_snapshot(row.snapshot)
        assert text.count('"request_no":7') >= 1
        row.snapshot = encode_snapshot(text.replace('"request_no":7', '"request_no":7,"note":"No. \\ud800 x"'))

    engine.run(poison)
    page = client.get(f"/cases/{instance_id}")
    assert page.status_code == 200
    assert "No. \ufffd x" in page.get_data(as_text=True)
    api = client.get(f"/api/v1/instances/{instance_id}", headers=AUTH)
    assert api.status_code == 200
    assert api.get_json()["data"]["note"] == "No. \ufffd x"
    state = engine.run(complete_task, SYSTEM, task_id, {"complete": True, "needs_referral": False})
    assert (state.status, engine.query(instance_detail, instance_id).get("error")) == ("running", None)
    stored = engine.query(lambda e, s: decode_snapshot(s.get(ProcessInstance, instance_id).snapshot))
    assert "\\ud800" not in stored and "\\ufffd" in stored  # the repaired text was written back
    _page_renders(client, instance_id)


def test_a_json_column_stored_with_a_lone_surrogate_reads_back_repaired(engine, client):
    """A draft and an audit summary holding a lone surrogate's escape. On SQLite JSON columns are
    text: they read back with U+FFFD and the pages render. PostgreSQL's jsonb refuses the escape."""
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    desk = Desk(engine)
    request = desk.open("financial_support")
    task = desk.task(request, "intake")
    poisoned = '{"note": "No. \\ud800 x"}'
    if _dialect(engine) == "postgresql":
        with pytest.raises(DBAPIError, match="Unicode"):
            engine.run(lambda e, s: s.execute(text("UPDATE audit_events SET summary = CAST(:v AS jsonb)"),
                                              {"v": poisoned}))
        return
    engine.run(lambda e, s: s.add(TaskDraft(task_id=task.id, data={"note": "draft"}, saved_by="rana",
                                            saved_at=e.clock.now())))
    engine.run(lambda e, s: s.execute(text("UPDATE audit_events SET summary = :v WHERE instance_id = :i"),
                                      {"v": poisoned, "i": request.instance_id}))
    engine.run(lambda e, s: s.execute(text("UPDATE task_drafts SET data = :v"), {"v": poisoned}))
    assert engine.query(lambda e, s: s.get(TaskDraft, task.id).data) == {"note": "No. \ufffd x"}
    engine.run(lambda e, s: create_user(e, s, SYSTEM, "rana", "secret-pass", "Rana", ["reception"]))
    client = client.application.test_client()
    sign_in(client, "rana")
    assert client.get(f"/tasks/{task.id}").status_code == 200
    _page_renders(client, request.instance_id)
