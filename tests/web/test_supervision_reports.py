"""The reports page (`/supervision/reports`) and its downloads: who may open them, the period picker,
each chart beside its table, and the CSV and XLSX of every table."""

import csv
import io
import re
from datetime import date

import pytest
from openpyxl import load_workbook

from engine.actors import SYSTEM
from tests.integration.test_supervision_reports import _at, history  # noqa: F401 - the fixture
from tests.web.helpers import sign_in
from web import auth, create_app
from web.supervision.reports import TABLE_KEYS
from workflows.operations.accounts import create_user

NOVEMBER = "period=custom&from=2026-11-01&to=2026-11-30"


@pytest.fixture
def client(engine, history):  # noqa: F811 - the fixture imported above
    auth.throttle._failures.clear()
    for username, name, roles in (("sara", "سارة", ["supervisor"]), ("root", "مدير", ["administrator"]),
                                  ("rana", "رنا", ["reception"]), ("omar", "عمر", ["reception"]),
                                  ("ali", "علي", ["committee"]), ("member1", "عضو", [])):
        engine.run(create_user, SYSTEM, username, "secret-pass", name, roles)
    r, o = history.record, history.open_task
    history.add(r("reception", _at(date(2026, 11, 2)), True), r("reception", _at(date(2026, 11, 3)), True),
                r("reception", _at(date(2026, 11, 4)), False), r("committee", _at(date(2026, 11, 5)), True),
                r("reception", _at(date(2026, 10, 5)), False),
                o("reception", _at(date(2026, 11, 30)), "omar"), o("reception", _at(date(2026, 11, 30)), "rana"),
                o("reception", _at(date(2026, 11, 30)), "rana"))
    return create_app({"TESTING": True, "SECRET_KEY": "t"}, engine=engine).test_client()


def _as(client, username):
    sign_in(client, username)
    return client


def test_anonymous_people_are_sent_to_sign_in(client):
    for path in ("/supervision/reports", "/supervision/reports/sla_lane.csv"):
        response = client.get(path)
        assert response.status_code == 302 and response.headers["Location"].startswith("/login")


@pytest.mark.parametrize("username", ["rana", "ali", "member1"])
def test_reception_committee_and_members_are_refused(client, username):
    _as(client, username)
    for path in ("/supervision/reports", f"/supervision/reports/wip.csv?{NOVEMBER}",
                 "/supervision/reports/aging.xlsx"):
        assert client.get(path).status_code == 403, path


@pytest.mark.parametrize("username", ["sara", "root"])
def test_supervisors_and_administrators_see_every_chart_beside_its_table(client, username):
    page = _as(client, username).get(f"/supervision/reports?{NOVEMBER}").get_data(as_text=True)
    assert '<html lang="ar" dir="rtl">' in page and "<h1 class=\"h3\">التقارير</h1>" in page
    assert "chart.js/dist/chart.umd.js" in page and "/static/reports.js" in page
    for key in TABLE_KEYS:
        assert re.search(rf'<canvas id="chart-{key}" role="img" aria-label="[^"]+" data-chart="', page), key
        assert f'<table class="table table-sm bg-white align-middle" id="table-{key}">' in page, key
        assert f'<caption id="{key}-caption">' in page
        assert f"/supervision/reports/{key}.csv?period=custom&amp;from=2026-11-01&amp;to=2026-11-30" in page
        assert f"/supervision/reports/{key}.xlsx?period=custom" in page
    assert '<th scope="col">المسار</th>' in page and '<th scope="row">الاستقبال</th>' in page
    # The period in Gregorian and Hijri, and the period compared with.
    shown = re.search(r'<p id="period-shown">(.*?)</p>', page, re.S).group(1)
    assert "2026-11-01" in shown and "1448-05-21" in shown and "2026-11-30" in shown and "1448-06-20" in shown
    assert "2026-10-02" in shown and "2026-10-31" in shown
    english = client.get(f"/supervision/reports?{NOVEMBER}&lang=en").get_data(as_text=True)
    assert '<html lang="en" dir="ltr">' in english and "Deadlines met per lane" in english
    assert "Work in progress per person, beside the team&#39;s average" in english


def test_the_sla_table_holds_the_same_numbers_as_its_chart(client):
    page = _as(client, "sara").get(f"/supervision/reports?{NOVEMBER}&lang=en").get_data(as_text=True)
    table = re.search(r'<table[^>]*id="table-sla_lane">.*?</table>', page, re.S).group(0)
    rows = re.findall(r"<tr><th scope=\"row\">([^<]+)</th>(.*?)</tr>", table, re.S)
    cells = {name: re.findall(r">([^<]*)</td>", rest) for name, rest in rows}
    assert cells == {"Research committee": ["1", "1", "100.0", "0", "0", ""],
                     "Reception": ["2", "3", "66.7", "0", "1", "0.0"]}
    chart = re.search(r'<canvas id="chart-sla_lane"[^>]*data-chart="([^"]+)"', page).group(1)
    assert "66.7" in chart and "100.0" in chart


def test_work_in_progress_is_listed_by_name_not_by_how_much(client):
    page = _as(client, "sara").get("/supervision/reports").get_data(as_text=True)
    table = re.search(r'<table[^>]*id="table-wip">.*?</table>', page, re.S).group(0)
    reception = re.findall(r'<tr><th scope="row">([^<]+)</th><td>الاستقبال</td>'
                           r'<td dir="ltr" class="text-end">(\d+)</td><td dir="ltr" class="text-end">([\d.]+)</td>',
                           table)
    assert reception == [("رنا", "2", "1.5"), ("عمر", "1", "1.5")]  # رنا before عمر: by name
    assert "ترتيب" in page  # the note says it is not a ranking


@pytest.mark.parametrize(("query", "words"), [
    ("period=custom&from=2026-11-30&to=2026-11-01", "اليوم الأخير للفترة يسبق يومها الأول؛ بدّل بينهما."),
    ("period=custom&from=2026-02-30&to=2026-11-01", "«2026-02-30» ليس تاريخًا"),
    ("period=custom&from=&to=2026-11-01", "تحتاج الفترة المخصصة إلى يومها الأول ويومها الأخير معًا."),
    ("period=yearly", "اختر فترة من القائمة."),
    ("period=custom&from=1990-01-01&to=2026-11-01", "لا تزيد الفترة المخصصة على خمس سنوات."),
    # Years a report cannot cover (the period before them would leave the calendar), ISO's other forms.
    ("period=custom&from=0001-01-01&to=0001-01-05", "«0001-01-01» ليس تاريخًا"),
    ("period=custom&from=9999-12-25&to=9999-12-31", "«9999-12-25» ليس تاريخًا"),
    ("period=custom&from=2026-W45-1&to=2026-11-30", "«2026-W45-1» ليس تاريخًا"),
    ("period=custom&from=20261101&to=2026-11-30", "«20261101» ليس تاريخًا"),
])
def test_a_bad_period_says_what_is_wrong_in_the_pages_language(client, query, words):
    response = _as(client, "sara").get(f"/supervision/reports?{query}")
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and words in page
    assert '<div class="alert alert-danger" role="alert" id="period-error">' in page
    assert 'id="table-sla_lane"' in page  # this month is shown instead
    assert client.get(f"/supervision/reports/sla_lane.csv?{query}").status_code == 400


def test_a_custom_period_takes_eastern_arabic_digits(client):
    response = _as(client, "sara").get("/supervision/reports?period=custom&from=٢٠٢٦-١١-٠١&to=٢٠٢٦-١١-٣٠")
    assert response.status_code == 200 and 'id="period-error"' not in response.get_data(as_text=True)


def test_a_bad_period_in_english(client):
    page = _as(client, "sara").get("/supervision/reports?period=custom&from=2026-11-30&to=2026-11-01&lang=en")
    assert "The period&#39;s last day comes before its first day; swap them." in page.get_data(as_text=True)


def test_csv_is_utf8_with_a_bom_and_headers_in_the_pages_language(client):
    response = _as(client, "sara").get(f"/supervision/reports/sla_lane.csv?{NOVEMBER}")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    assert "tawasul-sla_lane-2026-11-01-2026-11-30.csv" in response.headers["Content-Disposition"]
    body = response.get_data()
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0][:4] == ["المسار", "المنجز في موعده", "ذات موعد", "المنجز في موعده (%)"]
    assert rows[1:] == [["لجنة البحث", "1", "1", "100.0", "0", "0", ""],  # lanes in the order of their keys
                        ["الاستقبال", "2", "3", "66.7", "0", "1", "0.0"]]
    english = client.get(f"/supervision/reports/sla_lane.csv?{NOVEMBER}&lang=en").get_data().decode("utf-8-sig")
    assert english.splitlines()[0].startswith("Lane,Met,With a deadline,Met (%)")


def test_xlsx_holds_the_caption_headers_and_numbers(client):
    response = _as(client, "root").get(f"/supervision/reports/breaches.xlsx?{NOVEMBER}&lang=en")
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    sheet = load_workbook(io.BytesIO(response.get_data())).active
    assert sheet["A1"].value == "Which clock was breached"
    assert [c.value for c in sheet[2]][:4] == ["Clock", "Breached", "Ran on this clock", "Breached (%)"]
    assert [c.value for c in sheet[3]] == ["Task deadline", 1, 4, 25, 1, 1, 100]
    assert sheet["A4"].value == "Decision date promised to the member" and sheet["C4"].value == 0
    assert not sheet.sheet_view.rightToLeft
    arabic = load_workbook(io.BytesIO(client.get(f"/supervision/reports/aging.xlsx?{NOVEMBER}&lang=ar").get_data())).active
    assert arabic.sheet_view.rightToLeft is True and arabic["A2"].value == "المسار"
    assert [c.value for c in arabic[3]] == ["الاستقبال", 3, 0, 0, 0, 0, 3]


def test_an_unknown_table_or_format_is_not_found(client):
    _as(client, "sara")
    assert client.get("/supervision/reports/passwords.csv").status_code == 404
    assert client.get("/supervision/reports/sla_lane.pdf").status_code == 404
