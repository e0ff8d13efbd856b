"""/admin/calendar: administrators see the year, preview a change with the deadlines it moves, then save it."""

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from engine.actors import SYSTEM
from engine.commands import start_instance
from engine.models import CalendarDay, HumanTask
from tests.web.helpers import csrf_token
from tests.web.helpers import sign_in as _login
from web import auth, create_app
from workflows.operations.accounts import create_user

DUE = datetime(2026, 12, 15, 8, tzinfo=UTC)
MOVED = datetime(2026, 12, 16, 8, tzinfo=UTC)
CLOSE = {"change": "close", "day": "2026-12-09", "reason": "الجمعية العمومية"}


@pytest.fixture
def client(engine, deploy):
    auth.throttle._failures.clear()
    for username, roles in (("admin1", ["administrator"]), ("sara", ["supervisor"]), ("rana", ["reception"])):
        engine.run(lambda e, s, u=username, r=roles: create_user(e, s, SYSTEM, u, "secret-pass", u, r))
    deploy("committee_sla")
    engine.run(start_instance, SYSTEM, "committee_sla", data={"request_no": 1})
    return create_app({"TESTING": True, "SECRET_KEY": "t"}, engine=engine).test_client()


def _due(engine):
    return engine.query(lambda e, s: s.scalars(select(HumanTask.due_at)).one())


def _days(engine):
    return engine.query(lambda e, s: [(d.day, d.is_working, d.reason) for d in s.scalars(select(CalendarDay))])


def _post(client, path, data):
    token = csrf_token(client.get("/admin/calendar").get_data(as_text=True))
    return client.post(path, data={"csrf_token": token, **data})


@pytest.mark.parametrize("username", ["sara", "rana"])
def test_only_administrators(client, engine, username):
    _login(client, username)
    assert client.get("/admin/calendar").status_code == 403
    token = csrf_token(client.get("/inbox").get_data(as_text=True))
    assert client.post("/admin/calendar/preview", data={"csrf_token": token, **CLOSE}).status_code == 403
    assert client.post("/admin/calendar", data={"csrf_token": token, **CLOSE}).status_code == 403
    assert _days(engine) == [] and _due(engine) == DUE


def test_signed_out_is_sent_to_sign_in(client):
    assert client.get("/admin/calendar").status_code == 302


def test_the_year_in_arabic_with_hijri_dates_and_the_weekend(client):
    _login(client, "admin1")
    page = client.get("/admin/calendar?year=2026").get_data(as_text=True)
    assert "تقويم العمل" in page and "اليوم الوطني" in page and "1448-04-12" in page  # 23 Sep 2026
    assert "العطلة الأسبوعية (كل أسبوع): الجمعة، السبت." in page
    assert 'href="/admin/calendar"' in page  # the nav link


def test_the_year_in_english(client):
    _login(client, "admin1")
    page = client.get("/admin/calendar?year=2027&lang=en").get_data(as_text=True)
    assert "National Day Holiday" in page and "2027-09-23" in page and "Weekend (every week): Friday, Saturday." in page
    assert "اليوم الوطني" not in page


def test_a_year_out_of_range_is_explained(client):
    _login(client, "admin1")
    response = client.get("/admin/calendar?year=1990")
    assert response.status_code == 400
    assert "يُعرض التقويم للسنوات من 2025 إلى 2028." in response.get_data(as_text=True)


def test_preview_then_confirm_moves_the_deadline(client, engine):
    _login(client, "admin1")
    response = _post(client, "/admin/calendar/preview", CLOSE)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "يتغير موعد مفتوح واحد: موعد واحد (يتأخر يومَ عمل واحدًا)." in page
    assert "2026-12-15 11:00" in page and "2026-12-16 11:00" in page  # Riyadh time, before and after
    assert _days(engine) == [] and _due(engine) == DUE  # the preview saved nothing
    response = _post(client, "/admin/calendar", CLOSE)
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/calendar?year=2026")
    assert _days(engine) == [(date(2026, 12, 9), False, "الجمعية العمومية")] and _due(engine) == MOVED
    page = client.get("/admin/calendar?year=2026").get_data(as_text=True)
    assert "عُدّل التقويم. يتغير موعد مفتوح واحد" in page and "الجمعية العمومية" in page


def test_the_preview_in_english(client):
    _login(client, "admin1")
    client.get("/admin/calendar?lang=en")
    page = _post(client, "/admin/calendar/preview", CLOSE).get_data(as_text=True)
    assert "1 open deadline moves: 1 deadline (1 working day later)." in page and "<td>1 working day later</td>" in page


@pytest.mark.parametrize("data, message", [
    ({**CLOSE, "day": "9 December"}, "«\u20689 December\u2069» ليس تاريخًا"),
    ({**CLOSE, "day": ""}, "اكتب اليوم: السنة ثم الشهر ثم اليوم، مثل"),
    ({**CLOSE, "day": "2040-01-01"}, "اليوم \u20682040-01-01\u2069 خارج السنوات التي يجوز تعديل تقويمها (من 2025 إلى 2028)."),
    ({**CLOSE, "reason": " "}, "اذكر سبب التعديل."),
    ({**CLOSE, "reason": "x" * 201}, "اكتب السبب في 200 حرف على الأكثر."),
    ({**CLOSE, "change": "reopen"}, "اليوم \u20682026-12-09\u2069 ليس عطلة: لا يُعاد فتح إلا يوم عطلة."),
    ({**CLOSE, "day": "2026-12-11"}, "اليوم \u20682026-12-11\u2069 عطلة من قبل."),
    ({**CLOSE, "change": "move", "day": "2026-09-23", "to_day": "2026-09-23"}, "يجب أن تنتقل العطلة إلى يوم آخر."),
    ({**CLOSE, "change": "drop"}, "اختر التعديل: إغلاق يوم، أو إعادة فتح يوم، أو نقل عطلة."),
])
@pytest.mark.parametrize("path", ["/admin/calendar/preview", "/admin/calendar"])
def test_bad_input_is_explained_and_nothing_is_saved(client, engine, path, data, message):
    _login(client, "admin1")
    response = _post(client, path, data)
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    assert _days(engine) == [] and _due(engine) == DUE


def test_bad_input_in_english(client, engine):
    _login(client, "admin1")
    client.get("/admin/calendar?lang=en")
    response = _post(client, "/admin/calendar", {**CLOSE, "change": "reopen"})
    assert response.status_code == 422
    assert "\u20682026-12-09\u2069 is not closed: only a closed day can be reopened." in response.get_data(as_text=True)


def test_eastern_arabic_digits_are_read(client, engine):
    _login(client, "admin1")
    assert _post(client, "/admin/calendar", {**CLOSE, "day": "٢٠٢٦-١٢-٠٩"}).status_code == 302
    assert _due(engine) == MOVED
