"""Who may use each route: a rule for every endpoint of ``app.url_map``, walked for every role.

`RULES` names, for every endpoint, the people who may use it and what everyone else gets:
``anonymous`` (not signed in), ``member`` (a member's own account, no role) and each staff
role of `workflows.accounts.ROLE_LANES`, signed in alone. A route added without a rule, or a
role added without its place in the table, fails `test_every_route_and_every_role_has_a_rule`.

Every GET route is opened by every one of them and the exact status is asserted (and where a
redirect goes). Every POST route is sent, with a valid CSRF token, by everyone who may not use
it: they get the exact refusal and nothing in the database changes.

The world (`build_world`) is shared with the other web reliability modules: the project's
diagrams, a member with requests at three tasks (two lanes), a stored document, a printable
letter, a saved view, and one account per role.
"""

from __future__ import annotations

import html
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, url_for
from flask.testing import FlaskClient
from sqlalchemy import inspect, select, text

from engine.actors import SYSTEM, Actor
from engine.clock import FrozenClock
from engine.models import HumanTask, OutboxMessage
from engine.settings import load_settings
from tests.conftest import T0
from tests.support.databases import sqlite_from_models, truncate_all
from tests.support.desk import RECEPTION, Desk
from tests.web.helpers import csrf_token
from web import auth, create_app
from workflows import identity
from workflows.accounts import ROLE_LANES
from workflows.bootstrap import CaseEngine, build
from workflows.documents import Upload
from workflows.models import SavedFilter
from workflows.notifications import dispatch_outbox
from workflows.operations.accounts import create_user
from workflows.operations.cases import open_request
from workflows.operations.documents import mark_checklist_item
from workflows.operations.drafts import edit_version
from workflows.operations.members import register_member
from workflows.operations.views import save_view

PASSWORD = "secret-pass"  # noqa: S105 - test accounts
API_TOKEN = "reliability-api-token"  # noqa: S105
PDF = b"%PDF-1.7\n" + b"0" * 200
#: The roles the rules below were written for. A role added to `ROLE_LANES` fails
#: `test_every_route_and_every_role_has_a_rule` until someone has read the rules for it and added it here.
ROLES = ("reception", "social_researcher", "committee", "service_delivery", "supervisor", "process_owner",
         "administrator")
ANONYMOUS, MEMBER = "anonymous", "member"
PRINCIPALS = (ANONYMOUS, MEMBER, *ROLES)
LETTER_ROLES = frozenset({"reception", "supervisor", "administrator"})


# -- The shared world ---------------------------------------------------------------------------

@dataclass
class World:
    """An app on its own database with requests at several stages, and a signed-in client per person."""

    engine: CaseEngine
    app: Flask
    uploads: Path
    ids: dict[str, Any]
    _clients: dict[str, FlaskClient] = field(default_factory=dict)

    def client(self, who: str) -> FlaskClient:
        """A client signed in as ``who`` (a role, ``member``) or not signed in (``anonymous``), kept for reuse."""
        if who not in self._clients:
            client = self.app.test_client()
            token = csrf_token(client.get("/login").get_data(as_text=True))
            if who != ANONYMOUS:
                auth.throttle.clear((who, "127.0.0.1"))
                signed = client.post("/login", data={"username": who, "password": PASSWORD, "csrf_token": token})
                assert signed.status_code == 302, (who, signed.status_code)
            self._clients[who] = client
        return self._clients[who]

    def token(self, who: str) -> str:
        """A valid CSRF token of ``who``'s session (from the sign-in page, which everyone may open)."""
        return csrf_token(self.client(who).get("/login").get_data(as_text=True))

    def fresh_client(self, who: str) -> FlaskClient:
        """A new client signed in as ``who`` (for tests that change the session's language or sign out)."""
        self._clients.pop(who, None)
        client = self.client(who)
        self._clients.pop(who)
        return client

    def dump(self) -> dict[str, list[tuple]]:
        """Every row of every table: what "nothing changed" is checked against."""
        with self.engine.db.connect() as connection:
            tables = inspect(connection).get_table_names()
            return {t: sorted(map(tuple, connection.execute(text(f'SELECT * FROM "{t}"'))), key=repr)  # noqa: S608
                    for t in sorted(tables)}


def _database(tmp_path_factory: pytest.TempPathFactory, postgres_url: str | None) -> str:
    if postgres_url is not None:
        truncate_all(postgres_url)
        return postgres_url
    return sqlite_from_models(tmp_path_factory.mktemp("web-reliability") / "tawasul.db")


def build_world(tmp_path_factory: pytest.TempPathFactory, postgres_url: str | None) -> World:
    """The shared world: see the module's docstring."""
    auth.throttle._failures.clear()
    folder = tmp_path_factory.mktemp("web-reliability-files")
    settings = load_settings(**{
        "sandbox.time_limit_ms": 300,
        "notifications.email": {"backend": "log", "path": str(folder / "email.log")},
        "notifications.sms": {"backend": "log", "path": str(folder / "sms.log")},
    })
    settings["documents"] = {"dir": str(folder / "uploads"), "max_mb": 1, "types": ["pdf", "png"]}
    settings["api"] = {"token": API_TOKEN}
    engine = build(settings, database_url=_database(tmp_path_factory, postgres_url), clock=FrozenClock(T0))
    desk = Desk(engine)
    at_intake = desk.open("financial_support")
    checking = desk.open("financial_support")
    desk.complete(RECEPTION, checking, "intake", {"visit_summary": "حضر", "inquiries_answered": True})
    check = desk.task(checking, "check_data")
    engine.run(mark_checklist_item, RECEPTION, check.id, "income_proof", "received", "",
               Upload("دخل.pdf", io.BytesIO(PDF)))
    referred = desk.open("in_kind_support")
    desk.complete(RECEPTION, referred, "intake", {"visit_summary": "حضر", "inquiries_answered": True})
    desk.complete(RECEPTION, referred, "check_data", {"complete": False, "needs_referral": True})
    explain = desk.task(referred, "explain_procedures")
    # A member with neither mobile nor e-mail: the receipt of her request is a letter to print.
    salem = engine.run(register_member, RECEPTION, name_ar="سالم الدوسري", name_en="Salem Aldosari",
                       national_id=identity.with_check_digit("104444444"))
    engine.run(open_request, RECEPTION, salem.id, "financial_support", "letter", "طلب")
    dispatch_outbox(engine)
    [letter_id] = engine.query(lambda e, s: s.scalars(select(OutboxMessage.id)
                                                      .where(OutboxMessage.status == "printable")).all())
    users = {}
    for role in ROLES:
        users[role] = engine.run(create_user, SYSTEM, role, PASSWORD, f"{role} user", [role]).id
    users[MEMBER] = engine.run(create_user, SYSTEM, MEMBER, PASSWORD, "member user", [],
                               member_id=desk.member.id).id
    owner = Actor.user("supervisor", ["supervisor"], may_assign=True, roles=["supervisor"])
    view_id = engine.run(save_view, owner, "late ones", {"sla": "late"}).id
    process_owner = Actor.user("process_owner", roles=["process_owner"])
    draft_id = engine.run(edit_version, process_owner, "inquiry")
    app = create_app({"TESTING": True, "SECRET_KEY": "web-reliability"}, engine=engine)
    ids = {"member": desk.member.id, "salem": salem.id, "intake_task": desk.task(at_intake, "intake").id,
           "check_task": check.id, "explain_task": explain.id, "intake_instance": at_intake.instance_id,
           "checking_request": checking.id, "checking_instance": checking.instance_id, "letter": letter_id,
           "view": view_id, "users": users, "desk": desk, "draft": draft_id}
    return World(engine, app, folder / "uploads", ids)


# -- The rules ----------------------------------------------------------------------------------

#: What a signed-in person gets from a login_required staff page they may not open.
FORBIDDEN = 403
#: What someone not signed in gets from a page behind the sign-in: a redirect to it.
TO_LOGIN = (302, "/login")


@dataclass(frozen=True)
class Rule:
    """Who may use an endpoint (``may``: they get ``ok``) and what each other person gets."""

    may: frozenset[str]
    ok: int | tuple[int, str] = 200
    others: int | tuple[int, str] = FORBIDDEN
    anonymous: int | tuple[int, str] = TO_LOGIN
    member: int | tuple[int, str] | None = None  # None: as ``others``
    #: People who get an answer of their own, as (who, answer) pairs (a home that is theirs).
    own: tuple[tuple[str, int | tuple[int, str]], ...] = ()

    def expected(self, who: str) -> int | tuple[int, str]:
        if who in dict(self.own):
            return dict(self.own)[who]
        if who in self.may:
            return self.ok
        if who == ANONYMOUS:
            return self.anonymous
        if who == MEMBER and self.member is not None:
            return self.member
        return self.others


def staff(*only: str, **kwargs: Any) -> Rule:
    """A staff page: the roles ``only`` (every role if none) get 200, a member 403, anonymous the sign-in."""
    return Rule(frozenset(only or ROLES), **kwargs)


EVERYONE = Rule(frozenset(PRINCIPALS))
#: The JSON API authenticates by its token only: a browser session, even an administrator's, is 401.
API = Rule(frozenset(), others=401, anonymous=401)
SIGNED_IN = Rule(frozenset(PRINCIPALS) - {ANONYMOUS})

#: Who edits diagrams, deploys them and moves running cases.
OWNING = ("process_owner", "administrator")

#: Every endpoint of the app → its rule. A new route must be added here.
RULES: dict[str, Rule] = {
    "static": EVERYONE,
    "assets.vendor": EVERYONE,
    "health.healthz": EVERYONE,
    "home.definitions": EVERYONE,
    # `/` sends each person home: a process owner to the modeler, a supervisor to the board, other
    # staff to the inbox, a member to the member area, anyone signed out to the sign-in page.
    "home.home": Rule(frozenset({"process_owner"}), ok=(302, "/modeler"), others=(302, "/inbox"),
                      member=(302, "/member"), own=(("supervisor", (302, "/supervision")),)),
    "home.member_area": SIGNED_IN,
    "home.favicon": EVERYONE,
    "auth.login": EVERYONE,
    "auth.logout": SIGNED_IN,
    "api.start_instance": API,
    "api.instance": API,
    "api.tasks": API,
    "api.complete": API,
    "inbox.inbox": staff(),
    "inbox.save_filter": staff(),
    # Only the owner deletes a saved view; anyone else is sent back to the inbox with the refusal.
    "inbox.delete_filter_route": staff("supervisor", others=(302, "/inbox"), member=FORBIDDEN),
    # Claiming or releasing a task of a lane one does not hold: 403 with the reason in the inbox table.
    # Supervisors and administrators oversee every lane: they may claim any task.
    "inbox.claim": staff("reception", "supervisor", "administrator"),
    "inbox.unclaim": staff("reception", "supervisor", "administrator"),  # assigners release anyone's
    "inbox.assign": staff("supervisor", "administrator"),
    # The intake task is in the reception lane; supervisors and administrators see it (read-only).
    "tasks.task": staff("reception", "supervisor", "administrator"),
    "tasks.mark": staff("reception"),  # so is the check of the data
    "tasks.document_file": staff(),
    "cases.case": staff(),
    "cases.diagram": staff(),
    "members.search": staff(),
    "members.member": staff(),
    "members.add_contact": staff(),
    "members.add_request": staff(),
    "letters.waiting": staff(*LETTER_ROLES),
    "letters.printable": staff(*LETTER_ROLES),
    "letters.sent": staff(*LETTER_ROLES),
    "supervision.index": staff("supervisor", "administrator"),
    "supervision.reassign": staff("supervisor", "administrator"),
    "reports.reports": staff("supervisor", "administrator"),
    "reports.export": staff("supervisor", "administrator"),
    "heatmap.index": staff("supervisor", "administrator"),
    "heatmap.process": staff("supervisor", "administrator"),
    "heatmap.diagram": staff("supervisor", "administrator"),
    "incidents.index": staff("supervisor", "administrator"),
    "incidents.retry": staff("supervisor", "administrator"),
    "incidents.dismiss": staff("supervisor", "administrator"),
    "incidents.retry_notification": staff("supervisor", "administrator"),
    "calendar.index": staff("administrator"),
    "calendar.preview": staff("administrator"),
    "calendar.save": staff("administrator"),
    "admin.users": staff("administrator"),
    "admin.add_user": staff("administrator"),
    "admin.change_user": staff("administrator"),
    "modeler.index": staff(*OWNING),
    "modeler.import_file": staff(*OWNING),
    "modeler.new": staff(*OWNING),
    "modeler.edit_process": staff(*OWNING),
    "modeler.edit": staff(*OWNING),
    "modeler.xml": staff(*OWNING),
    "modeler.export": staff(*OWNING),
    "modeler.save": staff(*OWNING),
    "modeler.check": staff(*OWNING),
    "modeler.deploy": staff(*OWNING),
    "modeler.delete": staff(*OWNING),
    "modeler_diff.diff": staff(*OWNING),
    "modeler_migrate.index": staff(*OWNING),
    "modeler_migrate.move": staff(*OWNING),
    "modeler_forms.index": staff(*OWNING),
    "modeler_forms.editor": staff(*OWNING),
    "modeler_forms.save": staff(*OWNING),
    "modeler_forms.preview": staff(*OWNING),
    "modeler_forms.discard": staff(*OWNING),
}

def url_values(world: World) -> dict[str, Callable[[], dict[str, Any]]]:
    """The URL variables of every endpoint that has some, filled with real ids of the world."""
    ids = world.ids
    return {
        "static": lambda: {"filename": "tawasul.js"},
        "assets.vendor": lambda: {"name": "htmx.org/dist/htmx.min.js"},
        "api.instance": lambda: {"instance_id": ids["intake_instance"]},
        "api.complete": lambda: {"task_id": ids["intake_task"]},
        "inbox.delete_filter_route": lambda: {"filter_id": ids["view"]},
        "inbox.claim": lambda: {"task_id": ids["intake_task"]},
        "inbox.unclaim": lambda: {"task_id": ids["intake_task"]},
        "inbox.assign": lambda: {"task_id": ids["intake_task"]},
        "tasks.task": lambda: {"task_id": ids["intake_task"]},
        "tasks.mark": lambda: {"task_id": ids["check_task"], "kind": "income_proof"},
        "tasks.document_file": lambda: {"request_id": ids["checking_request"], "kind": "income_proof"},
        "cases.case": lambda: {"instance_id": ids["intake_instance"]},
        "cases.diagram": lambda: {"instance_id": ids["intake_instance"]},
        "members.member": lambda: {"member_id": ids["member"]},
        "members.add_contact": lambda: {"member_id": ids["member"]},
        "members.add_request": lambda: {"member_id": ids["member"]},
        "letters.printable": lambda: {"message_id": ids["letter"]},
        "letters.sent": lambda: {"message_id": ids["letter"]},
        "admin.change_user": lambda: {"user_id": ids["users"]["reception"]},
        "supervision.reassign": lambda: {"task_id": ids["intake_task"]},
        "reports.export": lambda: {"key": "sla_lane", "fmt": "csv"},
        "heatmap.process": lambda: {"key": "member_request"},
        "heatmap.diagram": lambda: {"key": "member_request"},
        # Refused before any lookup: no incident need exist for the refusal to be the rule's.
        "incidents.retry": lambda: {"job_id": 1},
        "incidents.dismiss": lambda: {"job_id": 1},
        "incidents.retry_notification": lambda: {"message_id": 1},
        "modeler.edit_process": lambda: {"key": "inquiry"},
        "modeler_diff.diff": lambda: {"key": "inquiry"},
        "modeler_migrate.index": lambda: {"key": "inquiry"},
        "modeler_migrate.move": lambda: {"key": "inquiry"},
        "modeler_forms.index": lambda: {"draft_id": ids["draft"]},
        **{f"modeler_forms.{name}": (lambda: {"draft_id": ids["draft"], "form_key": "inquiry_log.json"})
           for name in ("editor", "save", "preview", "discard")},
        **{f"modeler.{name}": (lambda: {"draft_id": ids["draft"]})
           for name in ("edit", "xml", "export", "save", "check", "deploy", "delete")},
    }


#: A form that would be accepted from someone allowed, per POST endpoint (so a refusal is the rule's).
FORMS: dict[str, dict[str, Any]] = {
    "auth.login": {"username": "reception", "password": PASSWORD},
    "inbox.save_filter": {"name": "a view", "sla": "late"},
    "inbox.assign": {"assign_to": "reception"},
    "tasks.task": {"visit_summary": "حضر", "inquiries_answered": "on", "action": "complete"},
    "tasks.mark": {"state": "verified"},
    "members.add_contact": {"channel": "phone", "direction": "inbound", "summary": "اتصال"},
    "members.add_request": {"service_type": "financial_support", "channel": "phone", "summary": "طلب"},
    "admin.add_user": {"username": "newcomer", "password": PASSWORD, "display_name": "new", "roles": "reception"},
    "admin.change_user": {"roles": "committee", "is_active": "on"},
    "supervision.reassign": {"assign_to": "reception", "reason": "إجازة"},
    "incidents.dismiss": {"reason": "خطأ معروف"},
    "calendar.preview": {"change": "close", "day": "2026-12-09", "reason": "صيانة المبنى"},
    "calendar.save": {"change": "close", "day": "2026-12-09", "reason": "صيانة المبنى"},
    "modeler.new": {"key": "complaint", "name": "شكوى"},
    "modeler.delete": {"revision": "1"},
    "modeler_migrate.move": {"from": "1", "to": "2"},
    "modeler_forms.save": {"revision": "1", "schema": '{"type": "object", "properties": {}}'},
    "modeler_forms.preview": {"schema": '{"type": "object", "properties": {}}'},
    "modeler_forms.discard": {"revision": "1"},
}


def url_for_rule(world: World, rule: Any) -> str:
    """The rule's path with its variables filled (fails, naming the endpoint, when they cannot be)."""
    variables = url_values(world)
    if rule.arguments:
        assert rule.endpoint in variables, f"{rule.endpoint} ({rule.rule}): no sample ids for its URL variables"
        values = variables[rule.endpoint]()
    else:
        values = {}
    with world.app.test_request_context():
        return url_for(rule.endpoint, **values)


def outcome(response) -> int | tuple[int, str]:
    """The status, and for a redirect the path it goes to (without its query)."""
    if response.status_code in (301, 302, 303):
        return response.status_code, response.headers["Location"].split("?")[0]
    return response.status_code


@pytest.fixture(scope="module")
def world(tmp_path_factory, postgres_run_database) -> World:
    built = build_world(tmp_path_factory, postgres_run_database)
    yield built
    built.engine.dispose()


# -- The tests ----------------------------------------------------------------------------------

def routes_without_a_rule(app: Flask) -> list[str]:
    """The endpoints of ``app`` that `RULES` says nothing about."""
    return sorted({rule.endpoint for rule in app.url_map.iter_rules()} - set(RULES))


def test_every_route_and_every_role_has_a_rule(world):
    endpoints = {rule.endpoint for rule in world.app.url_map.iter_rules()}
    assert routes_without_a_rule(world.app) == [], "routes without a rule in RULES"
    assert sorted(set(RULES) - endpoints) == [], "rules of routes that are gone"
    named = {who for rule in RULES.values() for who in rule.may} - set(PRINCIPALS)
    assert named == set(), "rules naming someone who is not a role"
    assert sorted(ROLE_LANES) == sorted(ROLES), "a role was added or removed: review RULES for it, then ROLES"


def test_every_person_on_every_get_route_gets_the_exact_answer(world):
    wrong = []
    walked = 0
    for rule in sorted(world.app.url_map.iter_rules(), key=lambda r: r.endpoint):
        if "GET" not in rule.methods:
            continue
        path = url_for_rule(world, rule)
        for who in PRINCIPALS:
            with world.client(who).get(path) as response:
                got = outcome(response)
                if rule.endpoint.startswith("api.") or got in (200, TO_LOGIN):
                    pass
                elif response.status_code >= 400:
                    assert response.mimetype == "text/html", (rule.endpoint, who)
            walked += 1
            if got != RULES[rule.endpoint].expected(who):
                wrong.append((rule.endpoint, who, got, RULES[rule.endpoint].expected(who)))
    assert wrong == []
    assert walked == len(PRINCIPALS) * sum("GET" in r.methods for r in world.app.url_map.iter_rules())


def test_a_task_page_is_open_to_its_lane_and_to_those_overseeing_every_lane_only(world):
    for sample, lane_role in (("intake_task", "reception"), ("check_task", "reception"),
                              ("explain_task", "social_researcher")):
        for who in PRINCIPALS:
            got = outcome(world.client(who).get(f"/tasks/{world.ids[sample]}"))
            seeing = {lane_role, "supervisor", "administrator"}
            expected = 200 if who in seeing else TO_LOGIN if who == ANONYMOUS else FORBIDDEN
            assert got == expected, (sample, who)


def test_the_api_answers_its_token_and_not_a_session(world):
    admin = world.client("administrator")
    assert admin.get("/api/v1/tasks").status_code == 401
    response = admin.get("/api/v1/tasks", headers={"Authorization": f"Bearer {API_TOKEN}"})
    assert response.status_code == 200 and {t["id"] for t in response.get_json()} >= {world.ids["intake_task"]}


def test_everyone_refused_a_post_route_gets_the_exact_refusal_and_changes_nothing(world):
    before = world.dump()
    wrong = []
    walked = 0
    for rule in sorted(world.app.url_map.iter_rules(), key=lambda r: r.endpoint):
        if "POST" not in rule.methods:
            continue
        path = url_for_rule(world, rule)
        spec = RULES[rule.endpoint]
        for who in PRINCIPALS:
            if who in spec.may:
                continue  # allowed: what they may do is the subject of the other web tests
            form = {"csrf_token": world.token(who), **FORMS.get(rule.endpoint, {})}
            got = outcome(world.client(who).post(path, data=form))
            walked += 1
            if got != spec.expected(who):
                wrong.append((rule.endpoint, who, got, spec.expected(who)))
    assert wrong == [], "\n".join(map(str, wrong))
    assert walked > 80
    assert world.dump() == before
    assert world.engine.query(lambda e, s: s.get(SavedFilter, world.ids["view"])) is not None


def _assignee(world: World, task_id: str) -> str | None:
    return world.engine.query(lambda e, s: s.get(HumanTask, task_id).assignee)


def test_a_refused_claim_is_403_and_a_claim_someone_holds_is_409(world):
    """Not allowed (a lane one does not hold) is not a conflict: 403; someone else holding it: 409."""
    task = world.ids["explain_task"]  # the social researcher's lane
    path = f"/tasks/{task}/claim"
    refused = world.client("committee").post(path, data={"csrf_token": world.token("committee")})
    assert refused.status_code == 403
    # In the page's language, the lane by its name (the API keeps the English).
    lane = "هذه المهمة لفريق «مسؤول البحث الاجتماعي»، ولست من أعضائه."
    assert html.unescape(refused.get_data(as_text=True)).count(lane) == 1
    assert _assignee(world, task) is None
    # htmx swaps only 2xx answers: there the same refusal is 200 with the reason in the table it replaces.
    swapped = world.client("committee").post(path, data={"csrf_token": world.token("committee")},
                                             headers={"HX-Request": "true"})
    assert swapped.status_code == 200 and lane in html.unescape(swapped.get_data(as_text=True))
    assert _assignee(world, task) is None
    researcher = world.client("social_researcher")
    assert researcher.post(path, data={"csrf_token": world.token("social_researcher")}).status_code == 200
    assert _assignee(world, task) == "social_researcher"
    world.engine.run(create_user, SYSTEM, "second_researcher", PASSWORD, "another researcher",
                     ["social_researcher"])
    second = world.fresh_client("second_researcher")
    token = csrf_token(second.get("/login").get_data(as_text=True))
    taken = second.post(path, data={"csrf_token": token})
    assert taken.status_code == 409
    assert "يعمل \u2068social_researcher\u2069 على هذه المهمة" in html.unescape(taken.get_data(as_text=True))
    # Releasing someone else's task without the right to assign is refused too: 403, still held.
    released = second.post(f"/tasks/{task}/unclaim", data={"csrf_token": token})
    assert released.status_code == 403 and _assignee(world, task) == "social_researcher"
    assert researcher.post(f"/tasks/{task}/unclaim",
                           data={"csrf_token": world.token("social_researcher")}).status_code == 200
    assert _assignee(world, task) is None


def test_a_route_added_without_a_rule_is_caught(world):
    # The check above on an app with one more route (as a new feature would add it).
    app = create_app({"TESTING": True, "SECRET_KEY": "web-reliability"}, engine=world.engine)
    app.add_url_rule("/archive/<int:year>", "archive.export", lambda year: "", methods=["GET", "POST"])
    assert routes_without_a_rule(app) == ["archive.export"]
