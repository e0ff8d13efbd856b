"""The reports page in Chromium, in Arabic and in English: every chart draws (its canvas holds
painted pixels) beside its table, the category axis runs right to left in Arabic, and axe-core
finds nothing serious."""

from datetime import date

import pytest

from engine.actors import SYSTEM
from tests.browser.conftest import serious_violations
from tests.integration.test_supervision_reports import _at, history  # noqa: F401 - the fixture
from web.supervision.reports import TABLE_KEYS
from workflows.operations.accounts import create_user

NOVEMBER = "period=custom&from=2026-11-01&to=2026-11-30"

#: For each chart: painted pixels (alpha > 0), whether it is drawn, its axis and legend direction.
PAINTED = """(canvas) => {
  const chart = Chart.getChart(canvas);
  const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0;
  for (let i = 3; i < data.length; i += 4) if (data[i] > 0) painted += 1;
  return {painted, drawn: canvas.dataset.drawn, reverse: chart.options.scales.x.reverse,
          legendRtl: chart.options.plugins.legend.rtl, points: chart.data.datasets.length, width: canvas.width};
}"""


def _sign_in(page, live_server, username):
    page.goto(live_server + "/login?lang=ar")
    page.get_by_label("اسم المستخدم").fill(username)
    page.get_by_label("كلمة المرور").fill("secret-pass")
    page.get_by_role("button", name="تسجيل الدخول").click()
    page.wait_for_load_state()


@pytest.mark.parametrize(("lang", "rtl", "heading"), [("ar", True, "التقارير"), ("en", False, "Reports")])
def test_every_chart_draws_beside_its_table(page, live_server, engine, history, lang, rtl, heading):  # noqa: F811
    engine.run(create_user, SYSTEM, "sara", "secret-pass", "سارة", ["supervisor"])
    r, o = history.record, history.open_task
    history.add(r("reception", _at(date(2026, 11, 2)), True), r("committee", _at(date(2026, 11, 3)), False),
                o("reception", _at(date(2026, 11, 20)), "sara"))
    _sign_in(page, live_server, "sara")
    page.goto(f"{live_server}/supervision/reports?{NOVEMBER}&lang={lang}")
    page.get_by_role("heading", name=heading, exact=True).wait_for()
    assert page.locator("html").get_attribute("dir") == ("rtl" if rtl else "ltr")
    page.wait_for_function("() => [...document.querySelectorAll('canvas[data-chart]')].every(c => c.dataset.drawn)")
    for key in TABLE_KEYS:
        canvas = page.locator(f"#chart-{key}")
        facts = canvas.evaluate(PAINTED)
        assert facts["painted"] > 500 and facts["drawn"] == "yes", (key, facts)  # drawn from its datasets
        assert (facts["reverse"], facts["legendRtl"]) == (rtl, rtl), key
        assert canvas.get_attribute("role") == "img" and canvas.get_attribute("aria-label")
        section = page.locator(f'section[data-report="{key}"]')
        assert section.locator("table caption").inner_text().strip() == canvas.get_attribute("aria-label")
        assert section.locator("canvas").count() == 1 and section.locator("table").count() == 1
    assert [v["id"] for v in serious_violations(page)] == []


def test_a_reversed_custom_period_is_refused_on_the_page(page, live_server, engine):
    engine.run(create_user, SYSTEM, "sara", "secret-pass", "سارة", ["supervisor"])
    _sign_in(page, live_server, "sara")
    page.goto(f"{live_server}/supervision/reports?lang=ar")
    page.get_by_label("الفترة", exact=True).select_option("custom")
    page.get_by_label("اليوم الأول (للفترة المخصصة)").fill("2026-11-30")
    page.get_by_label("اليوم الأخير (للفترة المخصصة)").fill("2026-11-01")
    page.get_by_role("button", name="عرض", exact=True).click()
    assert page.locator("#period-error").inner_text().strip() == "اليوم الأخير للفترة يسبق يومها الأول؛ بدّل بينهما."
    assert [v["id"] for v in serious_violations(page)] == []
