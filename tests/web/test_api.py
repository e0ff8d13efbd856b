"""The integration JSON API: off without a token, then start → tasks → complete."""

import pytest

from engine.bootstrap import build_engine
from engine.settings import load_settings
from web import create_app

TOKEN = "s3cret-token"


@pytest.fixture
def api(database_url, clock, deploy_with):
    engine = build_engine(load_settings(**{"api.token": TOKEN}), database_url=database_url, clock=clock)
    deploy_with(engine, "review")
    client = create_app({"TESTING": True}, engine=engine).test_client()
    yield client
    engine.dispose()


AUTH = {"Authorization": f"Bearer {TOKEN}"}


def test_api_is_off_without_a_token(engine):
    client = create_app({"TESTING": True}, engine=engine).test_client()
    assert client.post("/api/v1/instances", json={"key": "review"}).status_code == 404


def test_api_needs_the_token(api):
    assert api.get("/api/v1/tasks").status_code == 401
    assert api.get("/api/v1/tasks", headers={"Authorization": "Bearer wrong"}).status_code == 401


def test_start_list_complete(api):
    started = api.post("/api/v1/instances", json={"key": "review", "data": {"request_no": 4}}, headers=AUTH)
    assert started.status_code == 201
    instance_id = started.get_json()["instance_id"]
    [task] = api.get(f"/api/v1/tasks?instance={instance_id}", headers=AUTH).get_json()
    assert task["element_id"] == "check" and task["sla"] is None
    refused = api.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": {"complete": "yes"}}, headers=AUTH)
    assert refused.status_code == 422  # checked against the task's form before the engine sees it
    assert refused.get_json()["fields"] == {"complete": "'yes' is not of type 'boolean'", "needs_referral": "is required"}
    done = api.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": {"complete": False, "needs_referral": False}},
                    headers=AUTH)
    assert done.get_json()["status"] == "completed"
    assert api.get(f"/api/v1/instances/{instance_id}", headers=AUTH).get_json()["status"] == "completed"
    again = api.post(f"/api/v1/tasks/{task['id']}/complete", json={}, headers=AUTH)
    assert again.status_code == 409 and "already completed" in again.get_json()["error"]


@pytest.mark.parametrize(
    "body, status, message",
    [
        ("not json", 422, "must be a JSON object"),
        ({"data": {}}, 422, "'key' (the process key) is required"),
        ({"key": "review", "version": "1"}, 422, "must be a whole number"),
        ({"key": "nope"}, 404, "no process definition with key 'nope'"),
        ({"key": "review", "data": {"bad key": 1}}, 422, "not a valid variable name"),
    ],
)
def test_bad_requests_are_named(api, body, status, message):
    kwargs = {"data": body, "content_type": "application/json"} if isinstance(body, str) else {"json": body}
    response = api.post("/api/v1/instances", headers=AUTH, **kwargs)
    assert response.status_code == status
    assert message in response.get_json()["error"]


@pytest.mark.parametrize("body", [None, "text", [], {"key": 5}, {"key": "review", "version": "1"},
                                  {"key": "review", "version": True}, {"key": "review", "data": []},
                                  {"key": "review", "data": "x"}, {"key": "review", "business_key": {"a": 1}},
                                  {"key": "review", "business_key": "x" * 5000}, {"key": "nope"},
                                  {"key": "review", "data": {"n": 1e308 * 10}}, {"key": "rev\x00iew"},
                                  {"key": "review", "data": {"note": "a\x00"}}])
def test_nonsense_bodies_get_a_json_error_never_a_500(api, body):
    started = api.post("/api/v1/instances", json=body, headers=AUTH)
    assert started.status_code < 500 and started.is_json, started.get_data(as_text=True)
    if started.status_code >= 400:
        assert started.get_json()["error"]
    completed = api.post("/api/v1/tasks/nope/complete", json=body, headers=AUTH)
    assert 400 <= completed.status_code < 500 and completed.get_json()["error"]
    for path in ("/api/v1/tasks?instance=abc&lane=%00", "/api/v1/instances/0", "/api/v1/instances/99999999999"):
        response = api.get(path, headers=AUTH)
        assert response.status_code < 500 and response.is_json, path


def test_out_of_range_numbers_and_odd_tokens_are_clear_errors(api):
    assert api.get("/api/v1/tasks?instance=2147483648", headers=AUTH).status_code == 400  # a query parameter
    assert api.post("/api/v1/instances", json={"key": "review", "version": 2**40}, headers=AUTH).status_code == 422
    assert api.get("/api/v1/tasks", headers={"Authorization": "Bearer é"}).status_code == 401
    assert api.post("/api/v1/tasks/%00/complete", json={}, headers=AUTH).status_code == 400


@pytest.fixture
def api_with_desk(database_url, clock, settings):
    from tests.support.desk import Desk
    from workflows.bootstrap import build

    engine = build(dict(settings, api={"token": TOKEN}), database_url=database_url, clock=clock)
    desk = Desk(engine)
    yield create_app({"TESTING": True}, engine=engine).test_client(), desk
    engine.dispose()


def test_starting_a_member_request_opens_a_request_or_says_how(api_with_desk):
    from workflows.models import ServiceRequest

    client, desk = api_with_desk
    refused = client.post("/api/v1/instances", json={"key": "member_request", "data": {"member_id": desk.member.id}},
                          headers=AUTH)
    assert refused.status_code == 422
    assert refused.get_json()["error"] == (
        "process 'member_request' runs member requests, so starting it opens one: service_type, channel missing; "
        'give data like {"member_id": 1, "service_type": "financial_support", "channel": "phone"} '
        "(service_type: financial_support or in_kind_support; channel: in_person, phone, social_media, letter, website)")
    assert desk.engine.query(lambda e, s: s.query(ServiceRequest).count()) == 0  # nothing half-written
    huge = client.post("/api/v1/instances", headers=AUTH, json={
        "key": "member_request", "data": {"member_id": 2**40, "service_type": "in_kind_support", "channel": "phone"}})
    assert huge.status_code == 422
    assert f"member_id {2**40} is not a member's number" in huge.get_json()["error"]
    started = client.post("/api/v1/instances", headers=AUTH, json={
        "key": "member_request",
        "data": {"member_id": desk.member.id, "service_type": "in_kind_support", "channel": "website"}})
    assert started.status_code == 201
    body = started.get_json()
    assert body["reference"] == "REQ-2026-000001" and body["status"] == "running"
    assert list(body["open_tasks"].values()) == ["intake"]
    request = desk.engine.query(lambda e, s: s.get(ServiceRequest, body["request_id"]))
    assert (request.instance_id, request.channel, request.service_type) == (body["instance_id"], "website",
                                                                            "in_kind_support")
    detail = client.get(f"/api/v1/instances/{body['instance_id']}", headers=AUTH).get_json()
    assert detail["data"]["request_id"] == request.id and detail["business_key"] == "REQ-2026-000001"
