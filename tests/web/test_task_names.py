"""One name per task: the inbox, the task page and the case page call a task the same, in each
language. The Arabic is the task's name in its diagram, the English its ``tawasul:nameEn`` beside
it (a form may serve several tasks, so its label cannot name one: the inquiry's form titled «الرد
على الاستفسار» headed the researcher's task that the inbox calls «توضيح الإجراءات (الباحث
الاجتماعي)»)."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from lxml import etree

from engine.actors import SYSTEM, Actor
from engine.commands import start_instance
from engine.queries import list_tasks
from tests.support.desk import Desk
from tests.web.helpers import sign_in
from web import auth, create_app
from workflows.operations.accounts import create_user
from workflows.operations.tasks import complete_task
from workflows.read.definitions import ENGLISH_NAME

BPMN = Path(__file__).resolve().parents[2] / "bpmn"
_NS = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"


def test_every_human_task_of_the_diagrams_has_an_english_name():
    missing = []
    for path in sorted(BPMN.glob("*.bpmn")):
        root = etree.parse(str(path)).getroot()
        for kind in ("userTask", "manualTask"):
            for task in root.iter(f"{_NS}{kind}"):
                if not (task.get(ENGLISH_NAME) or "").strip() or not (task.get("name") or "").strip():
                    missing.append(f"{path.name}:{task.get('id')}")
    assert missing == []


def _inbox_titles(client, lang):
    page = client.get(f"/inbox?lang={lang}").get_data(as_text=True)
    return {task_id: html.unescape(title) for task_id, title in
            re.findall(r'<tr data-task="([^"]+)">\s*<td><a href="[^"]+">([^<]+)</a>', page)}


def _task_heading(client, task_id, lang):
    page = client.get(f"/tasks/{task_id}?lang={lang}").get_data(as_text=True)
    return html.unescape(re.search(r'<h1 class="h3">([^<]+)</h1>', page).group(1)).strip()


@pytest.mark.parametrize("lang, expected", [
    ("ar", "توضيح الإجراءات (الباحث الاجتماعي)"),
    ("en", "Explain the procedures (social researcher)"),
])
def test_the_inbox_the_task_page_and_the_case_page_give_a_task_one_name(engine, lang, expected):
    auth.throttle._failures.clear()
    Desk(engine)  # deploys the three diagrams
    for username, roles in (("rana", ["reception"]), ("hala", ["social_researcher"])):
        engine.run(lambda e, s, u=username, r=roles: create_user(e, s, SYSTEM, u, "secret-pass", u, r))
    row = engine.run(start_instance, SYSTEM, "inquiry", data={})
    [log] = engine.query(list_tasks, SYSTEM, instance_id=row.id)
    engine.run(complete_task, Actor.user("rana", ["reception"]), log.id,
               fields={"question": "ما شروط الدعم؟", "can_answer": ""})
    [task] = engine.query(list_tasks, SYSTEM, instance_id=row.id)
    assert task.element_id == "explain_procedures"
    client = create_app({"TESTING": True, "SECRET_KEY": "names"}, engine=engine).test_client()
    sign_in(client, "hala")
    assert _inbox_titles(client, lang)[task.id] == expected
    assert _task_heading(client, task.id, lang) == expected  # before: the form's «الرد على الاستفسار»
    case = html.unescape(client.get(f"/cases/{row.id}?lang={lang}").get_data(as_text=True))
    assert expected in case


def test_every_open_task_of_a_request_has_the_same_name_in_the_inbox_and_on_its_page(engine):
    auth.throttle._failures.clear()
    desk = Desk(engine)
    request = desk.open("financial_support")
    desk.complete(Actor.user("r", ["reception"]), request, "intake", {"visit_summary": "تم", "inquiries_answered": True})
    desk.open("financial_support")
    engine.run(lambda e, s: create_user(e, s, SYSTEM, "rana", "secret-pass", "rana", ["reception"]))
    client = create_app({"TESTING": True, "SECRET_KEY": "names"}, engine=engine).test_client()
    sign_in(client, "rana")
    for lang in ("ar", "en"):
        titles = _inbox_titles(client, lang)
        assert len(titles) >= 2
        assert {task_id: _task_heading(client, task_id, lang) for task_id in titles} == titles
