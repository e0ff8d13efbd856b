"""CSRF on every form post, generated from the route table.

Every rule of ``app.url_map`` that accepts POST, PUT, PATCH or DELETE outside the JSON API is
sent by someone allowed there (the rules of `test_web_authorization.RULES`), with its URL
variables filled with real ids and an otherwise acceptable form, three times: without a
``csrf_token``, with one from another session, and with a made-up one. Each time the answer is
the app's CSRF refusal (400, "reload the page and send it again", Arabic by default) and not
one row of the database changed. A route whose variables cannot be filled fails the test,
naming it; so does one that stops being refused.

The API is exempt on purpose, and only the API: it reads no session, so a browser on another
site cannot make it act for anyone; without its bearer token it refuses (401).
"""

from __future__ import annotations

import pytest

from tests.reliability.test_web_authorization import (
    ANONYMOUS,
    API_TOKEN,
    FORMS,
    PRINCIPALS,
    RULES,
    build_world,
    url_for_rule,
)
from web import create_app
from web.extensions import csrf

WRITES = {"POST", "PUT", "PATCH", "DELETE"}
REFUSAL_AR = "انتهت صلاحية النموذج أو أُرسل من مكان آخر. أعد تحميل الصفحة وأرسله مجددًا."
REFUSAL_EN = "The form expired or was sent from elsewhere. Reload the page and send it again."
#: Endpoints left out of the walk, each with its reason. Empty: every form post is walked.
NOT_WALKED: dict[str, str] = {}


@pytest.fixture(scope="module")
def world(tmp_path_factory, postgres_run_database):
    built = build_world(tmp_path_factory, postgres_run_database)
    yield built
    built.engine.dispose()


def _form_routes(app):
    return sorted((r for r in app.url_map.iter_rules() if r.methods & WRITES and not r.endpoint.startswith("api.")),
                  key=lambda r: r.endpoint)


def _someone_allowed(endpoint: str) -> str:
    may = RULES[endpoint].may
    # A signed-in person where one may be (the refusal must come before the sign-in check).
    return next((who for who in PRINCIPALS if who in may and who != ANONYMOUS), ANONYMOUS)


def test_every_form_post_without_or_with_a_wrong_token_is_refused_and_changes_nothing(world):
    routes = [r for r in _form_routes(world.app) if r.endpoint not in NOT_WALKED]
    other_token = world.token(ANONYMOUS)  # a real token, of another session
    before = world.dump()
    wrong = []
    for rule in routes:
        who = _someone_allowed(rule.endpoint)
        client = world.client(who)
        path = url_for_rule(world, rule)  # fails, naming the endpoint, when it cannot be filled
        form = FORMS.get(rule.endpoint, {})
        for method in sorted(rule.methods & WRITES):
            for name, token in (("none", None), ("another session's", other_token), ("made up", "x" * 40)):
                data = dict(form) if token is None else {**form, "csrf_token": token}
                response = client.open(path, method=method, data=data)
                body = response.get_data(as_text=True)
                if response.status_code != 400 or REFUSAL_AR not in body:
                    wrong.append((rule.endpoint, who, method, name, response.status_code))
    assert wrong == [], "\n".join(map(str, wrong))
    assert world.dump() == before
    assert len(routes) >= 14  # every form post of the app today
    # Still signed in and not signed in as someone else: the refused sign-in and sign-out did nothing.
    assert world.client("reception").get("/inbox").status_code == 200
    assert world.client(ANONYMOUS).get("/inbox").status_code == 302


def test_the_refusal_is_in_english_on_an_english_page(world):
    client = world.fresh_client("committee")
    response = client.post(f"/members/{world.ids['member']}/contacts?lang=en",
                           data={"channel": "phone", "direction": "inbound", "summary": "x"})
    assert response.status_code == 400 and REFUSAL_EN in response.get_data(as_text=True)
    assert 'dir="ltr"' in response.get_data(as_text=True)


def test_the_same_posts_with_the_right_token_are_not_refused_for_csrf(world):
    # The walk above proves the refusal; this proves the token is what it was about: with a
    # valid token the same post passes the check (the form is then handled as usual).
    rule = next(r for r in world.app.url_map.iter_rules() if r.endpoint == "inbox.save_filter")
    client = world.client("committee")
    response = client.post(url_for_rule(world, rule),
                           data={**FORMS["inbox.save_filter"], "csrf_token": world.token("committee")})
    assert response.status_code == 302 and response.headers["Location"].startswith("/inbox")


def test_only_the_token_authenticated_api_is_exempt(world):
    api_views = {f"{view.__module__}.{view.__name__}" for endpoint, view in world.app.view_functions.items()
                 if endpoint.startswith("api.")}
    assert {bp.name for bp in csrf._exempt_blueprints} == {"api"}
    assert csrf._exempt_views == set()
    assert api_views  # the API has routes, all under the exempt blueprint
    assert all(r.rule.startswith("/api/") for r in world.app.url_map.iter_rules() if r.endpoint.startswith("api."))
    # Exempt because no session is read there: a signed-in administrator's cookie alone is refused.
    admin = world.client("administrator")
    before = world.dump()
    for path in ("/api/v1/instances", f"/api/v1/tasks/{world.ids['intake_task']}/complete"):
        response = admin.post(path, json={"key": "member_request", "data": {}})
        assert (response.status_code, response.is_json) == (401, True), path
    assert world.dump() == before
    # With the token (and no CSRF token) it acts.
    response = world.app.test_client().post("/api/v1/instances", json={"key": "inquiry", "data": {
        "member_id": world.ids["member"], "service_type": "inquiry", "channel": "phone"}},
                                            headers={"Authorization": f"Bearer {API_TOKEN}"})
    assert response.status_code == 201, response.get_json()


def test_a_form_post_added_later_is_walked_and_must_have_its_url_values(world):
    # What the walk does with a route a new feature adds: it is in the walk, and with URL
    # variables nobody gave sample ids for, the walk stops naming it (rather than skipping it).
    app = create_app({"TESTING": True, "SECRET_KEY": "web-reliability"}, engine=world.engine)
    app.add_url_rule("/archive/<int:year>", "archive.export", lambda year: "", methods=["POST"])
    walked = [rule for rule in _form_routes(app) if rule.endpoint == "archive.export"]
    assert len(walked) == 1
    with pytest.raises(AssertionError, match=r"archive\.export \(/archive/<int:year>\): no sample ids"):
        url_for_rule(world, walked[0])
    # And it is refused without a token like every other form post (the app's CSRF covers it).
    client = app.test_client()
    response = client.post("/archive/2026", data={})
    assert response.status_code == 400 and REFUSAL_AR in response.get_data(as_text=True)
