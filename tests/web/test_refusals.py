"""Refusals from below web/ are worded by the page in its own language (web/refusals.py).

Every error code the engine and the domain register (``engine.errors.CODES``, filled by importing
their modules) has a sentence in Arabic and English; the Arabic one holds no Latin script outside
its parameters (references, IDs, file names); every raise a page can meet names a code; and the
three refusals the issue met (a contact without a summary, a fake PNG, a task finished by someone
else) read in Arabic on Arabic pages, with the time in Riyadh and its Hijri date.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

import engine as engine_package
import workflows as workflows_package
from engine.actors import SYSTEM, Actor
from engine.commands import complete_task
from engine.errors import CASE_CHANGED, CODES, Conflict
from engine.queries import list_tasks
from tests.support.desk import Desk
from tests.web.helpers import csrf_token, sign_in
from web import auth, create_app
from web.refusals import WORDS, wording
from web.staff.tasks import field_errors
from workflows.forms import FormErrors, load_form, validate
from workflows.operations.accounts import create_user

ROOT = Path(__file__).resolve().parents[2]
LATIN = re.compile(r"[A-Za-z]")

#: A value for every parameter a code carries (Latin ones are the isolated parameters a sentence may show).
SAMPLES: dict[str, object] = {
    "process_key": "complaint",
    "field": "summary", "value": "zz-value", "allowed": ["a1", "b1"], "limit": 11,
    "problems": [("required", {"field": "summary"}), ("not_an_email", {"field": "email", "value": "x@y"})],
    "action": "assign", "actor": "rana", "roles": ["supervisor", "committee"], "what": "task", "ident": "T-77",
    "task": "T-77", "by": "omar", "at": datetime(2026, 12, 1, 21, 5, 25, tzinfo=UTC), "reason": "cancelled",
    "assignee": "omar", "instance": 7, "status": "error", "element": "check_data", "saving": True, "key": "amount",
    "lane": "reception", "job": 3, "process": "member_request", "version": 2, "minimum": 8, "unknown": ["king"],
    "known": ["reception"], "username": "rana", "role": "committee", "owner": "rana", "member": 12,
    "name": "fake.png", "types": ["pdf", "png"], "mb": 10, "type": "PNG", "kind": "national_id",
    "reference": "REQ-2026-000001", "outcome": "approved", "letter": 5, "message": 5,
    "errors": {"summary": "is required"}, "form": "verify.json", "detail": "line 1",
    "change": "close", "text": "2026/13/45", "day": "2026-12-09", "first": 2025, "last": 2028,
    # problems of a BPMN file (engine.bpmn_problems)
    "kb": 900, "tag": "{urn:x}root", "count": 3, "lines": [4, 9], "end": "source", "ref": "Flow_9",
    "processes": ["Pool 1", "Pool 2"], "handlers": ["notify_member", "set_status"], "handler": "send_fax",
    "target": "Approve", "which": "script",
    "line": 3, "column": 14, "path": "/properties/x", "size_kb": 70, "limit_kb": 64,
    # moving cases to another version (engine.migration)
    "state": "active", "attributes": ["lane"], "new_element": "provide_service", "why": "type", "expected": 1,
    "days": 7,
}
#: Other values of the parameters that choose between sentences: each one is worded too.
VARIANTS: dict[str, list[object]] = {
    "reason": ["cancelled", "migrated", "overtaken", "moved_on"],
    "action": ["assign", "cancel", "retry", "retry_incident", "staff", "role"],
    "status": ["error", "completed", "cancelled", "running"],
    "what": ["task", "instance", "request", "member", "user", "job", "job_kind", "definition", "letter", "view",
             "form"],
    "text": ["2026/13/45", ""],
    "end": ["source", "target"], "handlers": [["notify_member"], []],
    "kind": ["national_id", "duration", "cycle", "date"],
    "which": ["script", "pre-script", "post-script", "condition", "number of instances", "completion condition",
              "deadline", "warning time", "escalation", "other"],
    "state": ["active", "completed"], "why": ["old_missing", "new_missing", "type", "place", "occupied"], "new_element": [None],
    "by": ["omar", None], "saving": [True, False], "version": [2, None], "key": ["amount", None],
    "field": ["summary", "national_id", "name_ar", "name_en", "mobile", "email", "membership_no", "status",
              "joined_on", "language", "channel", "direction", "note", "state", "reason", "committee_members",
              "outcome", "service_type", "view_name", "username", "display_name", "password", "roles", "file"],
}
#: Latin a sentence may show: the parameters' own values, and the phone format it gives as an example.
ISOLATED = sorted({"05XXXXXXXX", "x@y", "UTF-8", "XML", "BPMN 2.0", "DOCTYPE", "P10D", "R3/PT1H",
                   "2026-12-01T08:00:00+03:00", *(str(v) for v in SAMPLES.values() if isinstance(v, str | int)),
                   *(str(x) for v in SAMPLES.values() if isinstance(v, list) for x in v if isinstance(x, str)),
                   *(str(v) for values in VARIANTS.values() for v in values if v is not None)}, key=len, reverse=True)


def _import_everything() -> None:
    """Import every module of the engine and the domain, so each registers its codes."""
    for package in (engine_package, workflows_package):
        for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if ".migrations" not in module.name:
                importlib.import_module(module.name)


def _cases(code: str):
    base = {name: SAMPLES[name] for name in CODES[code]}
    yield base
    for name in CODES[code]:
        for value in VARIANTS.get(name, []):
            yield {**base, name: value}


@pytest.fixture
def app(engine):
    return create_app({"TESTING": True, "SECRET_KEY": "refusals"}, engine=engine)


def test_every_code_registered_below_web_is_worded_and_its_arabic_has_no_latin_message(app):
    _import_everything()
    assert len(CODES) > 40
    assert set(CODES) - set(WORDS) == set(), "codes without wording in web/refusals.py"
    assert {p for params in CODES.values() for p in params} - set(SAMPLES) == set(), "parameters without a sample"
    for code in CODES:
        for params in _cases(code):
            with app.test_request_context("/?lang=ar"):
                arabic = wording(code, params)
            with app.test_request_context("/?lang=en"):
                english = wording(code, params)
            stripped = arabic
            for token in ISOLATED:
                stripped = stripped.replace(token, "")
            assert arabic and not LATIN.search(stripped), (code, params, arabic)
            assert english and english != arabic and not re.search("[\u0600-\u06ff]", english), (code, english)


def test_a_time_in_a_refusal_is_in_riyadh_with_its_hijri_date(app):
    with app.test_request_context("/?lang=ar"):
        shown = wording("task_closed", {"by": "reception1", "at": datetime(2026, 12, 1, 21, 5, 25, tzinfo=UTC)})
    # 21:05 UTC is 00:05 the next day in Riyadh; 2 December 2026 is 22 Jumada II 1448. Each date
    # is isolated (U+2068 ... U+2069), so an Arabic sentence keeps it in order.
    assert shown == "أنجز \u2068reception1\u2069 هذه المهمة من قبل في \u20682026-12-02 00:05\u2069 (\u20681448-06-22\u2069 هـ)."


def _raise_sites(path: Path):
    """Each ``raise`` (or ``return``) of a refusal without ``code=``: (file, enclosing function, line)."""
    refused = {"InvalidInput", "NotFound", "Forbidden", "Conflict", "InstanceNotRunning"}
    relative = str(path.relative_to(ROOT))
    pending: list[tuple[ast.AST, str]] = [(ast.parse(path.read_text(encoding="utf-8")), "")]
    while pending:
        node, function = pending.pop()
        for child in ast.iter_child_nodes(node):
            inner = child.name if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) else function
            pending.append((child, inner))
        call = node.exc if isinstance(node, ast.Raise) else node.value if isinstance(node, ast.Return) else None
        if isinstance(call, ast.Call):
            name = getattr(call.func, "id", None) or getattr(call.func, "attr", None)
            if name in refused and not any(k.arg == "code" for k in call.keywords):
                yield relative, function, node.lineno


#: Modules whose refusals never reach a page: settings and calendar files read by the CLI and at
#: start-up, the script sandbox and the SLA parsing (a refusal there puts the case in error, an
#: incident for a supervisor), the demo, the importer and running due work as of a time (CLI only),
#: the SpiffWorkflow door.
NOT_ON_PAGES = ("engine/sandbox.py", "engine/settings.py", "engine/calendar.py", "engine/sla.py",
                "engine/job_handlers.py", "engine/spiff/", "workflows/demo", "workflows/importer.py",
                "workflows/operations/due_work.py")
#: Functions that run only inside timer and script expressions: their refusal is the case's error.
SCRIPT_ONLY = {("engine/context.py", "_business_days")}


def test_every_refusal_a_page_can_meet_names_a_code():
    missing = []
    for folder in ("engine", "workflows"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            relative = str(path.relative_to(ROOT))
            if "/migrations/" in relative or relative.startswith(NOT_ON_PAGES):
                continue
            missing += [site for site in _raise_sites(path) if site[:2] not in SCRIPT_ONLY]
    assert sorted(set(missing)) == []


def test_a_box_that_must_be_ticked_says_so_in_the_page_language(app):
    form = load_form("acknowledgement.json")
    with pytest.raises(FormErrors) as refused:
        validate(form, {"acknowledged": False, "ack_channel": "phone"})
    with app.test_request_context("/?lang=ar"):
        assert field_errors(refused.value)["acknowledged"] == "ضع علامة في هذا المربع للمتابعة."
    with app.test_request_context("/?lang=en"):
        assert field_errors(refused.value)["acknowledged"] == "Tick this box to go on."


def test_a_refusal_no_view_caught_is_a_page_in_its_language_and_english_json_under_the_api(engine):
    app = create_app({"TESTING": True, "SECRET_KEY": "refusals"}, engine=engine)

    def changed():
        raise Conflict("the case was changed by someone else first; reload and try again", code=CASE_CHANGED)

    app.add_url_rule("/refused", "refused", changed)
    app.add_url_rule("/api/refused", "api_refused", changed)
    client = app.test_client()
    page = client.get("/refused")
    assert page.status_code == 409 and "عدّل شخص آخر الحالة قبلك" in page.get_data(as_text=True)
    assert "reload and try again" not in page.get_data(as_text=True)
    assert client.get("/api/refused").get_json() == {
        "error": "the case was changed by someone else first; reload and try again"}


# -- the three refusals of the issue, end to end on Arabic pages --------------------------------------


@pytest.fixture
def desk(engine):
    auth.throttle._failures.clear()
    desk = Desk(engine)
    for username, roles in (("rana", ["reception"]),):
        engine.run(lambda e, s, u=username, r=roles: create_user(e, s, SYSTEM, u, "secret-pass", u, r))
    return desk


def test_a_contact_without_a_summary_is_refused_in_arabic_naming_the_field(desk, app):
    client = app.test_client()
    sign_in(client, "rana")
    page = client.get(f"/members/{desk.member.id}").get_data(as_text=True)
    bad = client.post(f"/members/{desk.member.id}/contacts", data={
        "csrf_token": csrf_token(page), "channel": "phone", "direction": "inbound", "summary": " "})
    body = bad.get_data(as_text=True)
    assert bad.status_code == 422 and "حقل «الملخص» مطلوب." in body
    assert "say what the contact was about" not in body


def test_a_fake_png_is_refused_in_arabic_naming_the_file(desk, app, engine):
    desk.open("financial_support")
    client = app.test_client()
    sign_in(client, "rana")
    [first] = engine.query(list_tasks, SYSTEM)
    engine.run(complete_task, Actor.user("rana", ["reception"]), first.id,
               {"visit_summary": "تم", "inquiries_answered": True})
    [check] = engine.query(list_tasks, SYSTEM)
    page = client.get(f"/tasks/{check.id}").get_data(as_text=True)
    from io import BytesIO
    response = client.post(f"/tasks/{check.id}/documents/income_proof", data={
        "csrf_token": csrf_token(page), "state": "received", "file": (BytesIO(b"<html>no</html>"), "fake.png")},
        content_type="multipart/form-data", follow_redirects=True)
    body = response.get_data(as_text=True)
    assert "«\u2068fake.png\u2069» ليس ملف \u2068PNG\u2069 حقيقيًا." in body and "is not a real PNG file" not in body


def test_a_task_finished_by_someone_else_says_who_and_when_in_arabic_local_time(desk, app, engine):
    desk.open("financial_support")
    client = app.test_client()
    sign_in(client, "rana")
    [task] = engine.query(list_tasks, SYSTEM)
    page = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    engine.run(complete_task, Actor.user("omar", ["reception"]), task.id,
               {"visit_summary": "تم", "inquiries_answered": True})
    response = client.post(f"/tasks/{task.id}", data={"csrf_token": csrf_token(page), "visit_summary": "تم",
                                                       "inquiries_answered": "on"}, follow_redirects=True)
    body = response.get_data(as_text=True)
    done_at = engine.clock.now()  # the test clock stands still: omar completed it at this moment
    local = done_at.astimezone(engine.calendars.get().tz).strftime("%Y-%m-%d %H:%M")
    assert f"أنجز \u2068omar\u2069 هذه المهمة من قبل في \u2068{local}\u2069 (" in body and "\u2069 هـ)." in body
    assert "already completed" not in body and "+00:00" not in body


def test_every_name_and_value_inside_an_arabic_refusal_is_isolated_for_bidi(app):
    """A user name, a file name, a reference or a date in an Arabic sentence sits in U+2068 ... U+2069."""
    _import_everything()
    outside = re.compile(r"[A-Za-z]|[0-9][^0-9\s]+[0-9]")
    for code in CODES:
        for params in _cases(code):
            if code == "case_changed":  # its action is an audit action (web.labels.ACTIONS), worded
                params = {**params, "action": "assigned"}
            with app.test_request_context("/?lang=ar"):
                arabic = wording(code, params)
            bare = re.sub("\u2068[^\u2068\u2069]*\u2069", "", arabic)
            assert not outside.search(bare), (code, params, arabic)
