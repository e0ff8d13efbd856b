"""No raw codes on the pages: recorded actions, task outcomes and case states have words in both
languages (one mapping, web/labels.py), processes are shown by their names from the diagrams, and
the diagram's legend is in one language."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from lxml import etree

from engine import casestore, history
from engine.actors import SYSTEM, Actor
from tests.support.desk import Desk
from tests.web.helpers import sign_in
from web import auth, create_app
from web.labels import ACTIONS, CASE_STATES, OUTCOMES, legend
from workflows.operations.accounts import create_user

ROOT = Path(__file__).resolve().parents[2]
LATIN = re.compile(r"[A-Za-z]")
ARABIC = re.compile("[\u0600-\u06ff]")


def _recorded_actions() -> set[str]:
    """Every action the engine and the domain write to the audit log, read from their code.

    ``audit.record(session, now, actor, ACTION, ...)`` with ACTION a string or a module constant,
    and the actions ``commands._set_assignee`` records for claim, release and assignment.
    """
    found: set[str] = set()
    trees = {path: ast.parse(path.read_text(encoding="utf-8"))
             for folder in ("engine", "workflows") for path in (ROOT / folder).rglob("*.py")
             if "/migrations/" not in str(path)}
    # Module constants by name (an action may be one imported from another module, as the demo's marker).
    constants = {t.id: n.value.value for tree in trees.values() for n in tree.body if isinstance(n, ast.Assign)
                 for t in n.targets if isinstance(t, ast.Name) and isinstance(n.value, ast.Constant)}
    for path, tree in trees.items():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
            if name == "record" and len(node.args) >= 4:
                argument = node.args[3]
            elif name == "_set_assignee" and node.args:
                argument = node.args[-1]
            else:
                continue
            if isinstance(argument, ast.Constant):
                found.add(argument.value)
            elif isinstance(argument, ast.Name) and argument.id in constants:
                found.add(constants[argument.id])
            else:
                assert name == "record" and isinstance(argument, ast.Name) and argument.id == "action", (
                    f"{path}:{node.lineno}: an action this test cannot read")
    return found


@pytest.fixture
def app(engine):
    return create_app({"TESTING": True, "SECRET_KEY": "labels"}, engine=engine)


def _check(labels, codes, app):
    assert set(codes) - set(labels) == set(), "codes without a label in web/labels.py"
    for code in codes:
        with app.test_request_context("/?lang=ar"):
            arabic = labels[code]()
        with app.test_request_context("/?lang=en"):
            english = labels[code]()
        assert arabic and not LATIN.search(arabic), (code, arabic)
        assert english and english != code and not ARABIC.search(english), (code, english)


def test_every_action_the_engine_records_has_a_label_in_both_languages(app):
    actions = _recorded_actions()
    assert {"started", "task_opened", "claimed", "completed", "unclaimed", "assigned"} <= actions
    _check(ACTIONS, actions, app)


def test_every_task_outcome_and_case_state_has_a_label_in_both_languages(app):
    _check(OUTCOMES, history.OUTCOMES, app)
    _check(CASE_STATES, (casestore.RUNNING, casestore.COMPLETED, casestore.CANCELLED, casestore.ERROR), app)


def test_the_legend_is_in_one_language(app):
    with app.test_request_context("/?lang=ar"):
        assert legend() == {"done": "مُنجز", "active": "جارٍ", "cancelled": "ملغى"}
    with app.test_request_context("/?lang=en"):
        assert legend() == {"done": "Done", "active": "In progress", "cancelled": "Cancelled"}


def test_every_diagram_names_its_process_in_arabic_and_english():
    bpmn = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
    for path in sorted((ROOT / "bpmn").glob("*.bpmn")):
        for process in etree.parse(str(path)).getroot().iter(f"{bpmn}process"):
            arabic, english = process.get("name") or "", process.get("{http://tawasul.example/bpmn}nameEn") or ""
            assert ARABIC.search(arabic) and english and not ARABIC.search(english), (path.name, arabic, english)


@pytest.fixture
def case(engine):
    auth.throttle._failures.clear()
    desk = Desk(engine)
    request = desk.open("financial_support")
    desk.complete(Actor.user("r", ["reception"]), request, "intake", {"visit_summary": "تم", "inquiries_answered": True})
    engine.run(lambda e, s: create_user(e, s, SYSTEM, "rana", "secret-pass", "rana", ["reception"]))
    return request


def test_the_case_page_shows_no_raw_code(case, app):
    client = app.test_client()
    sign_in(client, "rana")
    page = client.get(f"/cases/{case.instance_id}").get_data(as_text=True)
    shown = re.sub(r'<[^>]+>', " ", page)
    assert "طلب عضو" in page and "الإصدار 1" in page and "جارية" in page
    assert "بدأت الحالة" in page and "فُتحت مهمة" in page and "أُنجزت المهمة" in page
    for code in ("member_request v1", "task_opened", "claimed", "started", "running", "In progress", "done"):
        assert not re.search(rf"(?<![\w-]){re.escape(code)}(?![\w-])", shown), code
    english = re.sub(r'<[^>]+>', " ", client.get(f"/cases/{case.instance_id}?lang=en").get_data(as_text=True))
    assert "Member request" in english and "version 1" in english and "Task opened" in english
    assert "task_opened" not in english and "Case started" in english


def test_the_inbox_filter_lists_processes_by_name(case, app):
    client = app.test_client()
    sign_in(client, "rana")
    page = client.get("/inbox").get_data(as_text=True)
    assert '<option value="member_request" >طلب عضو</option>' in page
    english = client.get("/inbox?lang=en").get_data(as_text=True)
    assert '<option value="member_request" >Member request</option>' in english


def test_the_case_data_is_labelled_fields_from_the_forms_with_the_rest_in_a_technical_section(case, app):
    client = app.test_client()
    sign_in(client, "rana")
    page = client.get(f"/cases/{case.instance_id}").get_data(as_text=True)
    data = page[page.index('id="case-data"'):]
    data = data[:data.index("</dl>")]
    assert "ملخص المقابلة والاستفسارات" in data and "<bdi>تم</bdi>" in data  # the form's label and the value
    assert "تمت الإجابة على جميع الاستفسارات</dt>" in data and ">نعم</dd>" in data  # a checkbox in words
    assert "visit_summary" not in data and "request_id" not in data
    technical = page[page.index("<details"):page.index("</details>")]
    assert "بيانات تقنية" in technical and "request_id" in technical  # keys no form labels, collapsed
    english = client.get(f"/cases/{case.instance_id}?lang=en").get_data(as_text=True)
    assert "Summary of the visit and the questions asked" in english and ">Yes</dd>" in english
