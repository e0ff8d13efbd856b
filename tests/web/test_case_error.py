"""A case stopped on an error says so in the page's language, naming the step as drawn; the
engine's own (English, technical) message is kept in a collapsed part, marked as English."""

from __future__ import annotations

import html

from engine.actors import SYSTEM
from engine.commands import start_instance
from engine.definitions import deploy_definition
from tests.reliability.diagrams import END, START, chain, diagram
from tests.web.helpers import sign_in
from web import auth, create_app
from workflows.operations.accounts import create_user

FAILING = diagram("failing", START + '<bpmn:scriptTask id="compute" name="حساب المستحق">'
                  "<bpmn:script>x = 1 / 0</bpmn:script></bpmn:scriptTask>\n" + END, chain("start", "compute", "end"))


def test_a_case_in_error_is_worded_in_arabic_naming_the_step(engine):
    auth.throttle._failures.clear()
    engine.run(deploy_definition, SYSTEM, FAILING, "failing.bpmn")
    row = engine.run(start_instance, SYSTEM, "failing")
    assert row.status == "error"
    engine.run(lambda e, s: create_user(e, s, SYSTEM, "sara", "secret-pass", "سارة", ["supervisor"]))
    client = create_app({"TESTING": True, "SECRET_KEY": "error"}, engine=engine).test_client()
    sign_in(client, "sara")
    page = html.unescape(client.get(f"/cases/{row.id}?lang=ar").get_data(as_text=True))
    assert "توقفت الحالة بسبب خطأ عند الخطوة «حساب المستحق»." in page
    assert "تعثّرت عند" not in page and "Failed at" not in page
    technical = page[page.index('id="case-error"'):]
    assert '<p class="mb-0 mt-1" lang="en" dir="ltr">' in technical and "division by zero" in technical
    english = html.unescape(client.get(f"/cases/{row.id}?lang=en").get_data(as_text=True))
    assert "The case stopped on an error at the step «حساب المستحق»." in english
