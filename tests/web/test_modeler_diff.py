"""/modeler/<key>/diff: two versions of a process for the visual diff, with the running cases waiting
at each element; process owners and administrators only; unknown processes and versions are 404."""

from __future__ import annotations

import html
import json
import re

import pytest

from engine.actors import SYSTEM, Actor
from engine.definitions import deploy_definition
from tests.support.desk import PROJECT_BPMN_DIR, Desk
from tests.web.helpers import sign_in
from web import auth, create_app
from workflows.operations.accounts import create_user
from workflows.read.modeler_diff import version_diff

OWNER = Actor.user("owner1", roles=["process_owner"])
RENAMED = "استقبال العضو (معدّل)"


def _version_2(engine) -> None:
    """member_request again, its first task renamed and a note given."""
    xml = (PROJECT_BPMN_DIR / "member_request.bpmn").read_text(encoding="utf-8")
    changed = xml.replace('name="استقبال العضو والإجابة على استفساراته"', f'name="{RENAMED}"', 1)
    assert changed != xml
    engine.run(deploy_definition, SYSTEM, changed.encode(), "member_request.bpmn", "renamed the first task")


@pytest.fixture
def site(engine):
    auth.throttle._failures.clear()
    desk = Desk(engine)
    request = desk.open("financial_support")  # a case of version 1, waiting at «intake»
    _version_2(engine)
    for username, roles in (("owner1", ["process_owner"]), ("admin1", ["administrator"]), ("rana", ["reception"]),
                            ("sara", ["supervisor"])):
        engine.run(create_user, SYSTEM, username, "secret-pass", username, roles)
    return create_app({"TESTING": True, "SECRET_KEY": "diff"}, engine=engine), request


def _get(app, username, path):
    client = app.test_client()
    sign_in(client, username)
    response = client.get(path)
    return response.status_code, response.get_data(as_text=True)


def _data(page: str, name: str) -> str:
    return html.unescape(re.search(rf'{name}="([^"]*)"', page).group(1))


def test_the_read_gives_both_versions_and_the_cases_waiting_at_each_element(engine, site):
    found = engine.query(version_diff, OWNER, "member_request", None, None)
    assert (found["from"]["version"], found["to"]["version"]) == (1, 2)
    assert found["versions"] == [1, 2]
    assert RENAMED in found["to"]["xml"] and RENAMED not in found["from"]["xml"]
    assert found["to"]["note"] == "renamed the first task"
    assert found["from"]["running"] == 1 and found["to"]["running"] == 0
    assert found["waiting"]["intake"] == {"from": 1, "to": 0}
    same = engine.query(version_diff, OWNER, "member_request", 2, 2)
    assert same["from"]["version"] == same["to"]["version"] == 2


@pytest.mark.parametrize("username", ["owner1", "admin1"])
def test_owners_and_administrators_get_the_page_with_both_diagrams_and_the_counts(site, username):
    app, _request = site
    status, page = _get(app, username, "/modeler/member_request/diff?from=1&to=2&lang=en")
    assert status == 200
    assert 'src="/static/build/diff.js"' in page
    assert RENAMED in _data(page, "data-to-xml") and RENAMED not in _data(page, "data-from-xml")
    assert json.loads(_data(page, "data-counts"))["intake"] == {"from": 1, "to": 0}
    assert (_data(page, "data-from-version"), _data(page, "data-to-version")) == ("1", "2")
    assert "renamed the first task" in html.unescape(page)
    assert "<script>" not in page


def test_the_page_speaks_arabic(site):
    app, _request = site
    status, page = _get(app, "owner1", "/modeler/member_request/diff?lang=ar")
    assert status == 200
    assert "التغييرات بين الإصدارين" in html.unescape(page)
    assert json.loads(_data(page, "data-words"))["added"] == "أُضيف"


@pytest.mark.parametrize("username", ["rana", "sara"])
def test_nobody_else_sees_it(site, username):
    app, _request = site
    assert _get(app, username, "/modeler/member_request/diff?from=1&to=2")[0] == 403


@pytest.mark.parametrize("path", ["/modeler/nothing/diff", "/modeler/member_request/diff?from=7",
                                  "/modeler/member_request/diff?to=9", "/modeler/member_request/diff?from=x",
                                  "/modeler/member_request/diff?to=%D9%A2", "/modeler/member_request/diff?from=-1"])
def test_unknown_processes_and_versions_are_404(site, path):
    app, _request = site
    assert _get(app, "owner1", path)[0] == 404


def test_signed_out_goes_to_the_sign_in_page(site):
    app, _request = site
    response = app.test_client().get("/modeler/member_request/diff")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
