"""The migration page in Chromium, Arabic and English: the dry run, a mapping chosen, the move in
batches with its progress bar; no script error, CSP refusal, overflow or serious axe violation."""

from __future__ import annotations

import pytest

from engine.actors import SYSTEM
from engine.queries import instance_detail
from tests.browser.conftest import sign_in
from tests.browser.test_every_page import _check
from tests.integration.test_migration import _deploy, _xml
from tests.support.desk import RECEPTION, Desk
from tests.support.versions import rename
from workflows.operations.accounts import create_user


@pytest.fixture
def cases(engine):
    desk = Desk(engine)
    engine.run(lambda e, s: create_user(e, s, SYSTEM, "owner1", "secret-pass", "owner1", ["process_owner"]))
    requests = [desk.open("financial_support") for _ in range(2)]
    past_intake = desk.open("financial_support")
    desk.complete(RECEPTION, past_intake, "intake", {"visit_summary": "تم", "inquiries_answered": True})
    _deploy(engine, rename(_xml("member_request"), "intake", "reception_visit"), "member_request")
    return [r.instance_id for r in (*requests, past_intake)]


@pytest.mark.parametrize("lang", ["ar", "en"])
def test_the_owner_previews_maps_and_moves_the_cases(browser, live_server, engine, cases, lang):
    context = browser.new_context(locale="ar-SA" if lang == "ar" else "en-US")
    page = context.new_page()
    try:
        sign_in(page, live_server, "owner1")
        url = f"{live_server}/modeler/member_request/migrate"
        problems: list[str] = []
        _check(page, url, lang, problems, 1280)
        assert problems == []
        assert page.locator('#migrate-groups tr[data-status="needs_mapping"]').count() == 2
        assert page.locator("#migrate-move").is_disabled()

        page.locator('select[name="map.intake"]').select_option("reception_visit")
        page.get_by_role("button", name={"ar": "أعد الفحص بهذه الاختيارات",
                                         "en": "Check again with these choices"}[lang]).click()
        page.wait_for_load_state("networkidle")
        assert page.locator('#migrate-groups tr[data-status="can_move"]').count() == 2
        problems = []
        page.set_viewport_size({"width": 390, "height": 800})
        _check(page, page.url, lang, problems, 390)
        assert problems == []

        page.locator("#migrate-move").click()
        page.locator("#migrate-finished:not(:empty)").wait_for()
        assert page.locator("#migrate-bar").evaluate("bar => [bar.value, bar.max]") == [3, 3]
        assert page.locator("#migrate-failures li").count() == 0
        assert page.locator("#migrate-count").inner_text() == {"ar": "نُقل 3 من 3", "en": "3 of 3 moved"}[lang]
        assert all(engine.query(instance_detail, ident)["definition"]["version"] == 2 for ident in cases)
    finally:
        context.close()
