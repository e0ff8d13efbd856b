"""Inbox search, filters, counts, sort, paging and supervisor reassignment."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import text as sql

from engine.actors import SYSTEM, Actor
from engine.errors import ConfigError
from engine.queries import list_tasks
from tests.support.desk import Desk
from tests.web.helpers import sign_in as _login
from web import auth, create_app
from workflows import identity
from workflows.bootstrap import build
from workflows.operations.accounts import create_user
from workflows.operations.members import register_member
from workflows.read.inbox import count_cache, inbox

RECEPTION = Actor.user("reception1", ["reception"])


@pytest.fixture
def desk(engine):
    auth.throttle._failures.clear()
    return Desk(engine)


def test_search_by_member_name_national_id_and_reference(desk, engine):
    first = desk.open("financial_support")
    other = engine.run(lambda e, s: register_member(e, s, RECEPTION, name_ar="خالد الحربي",
                                                    national_id=identity.with_check_digit("106666666")))
    desk.member = other
    second = desk.open("in_kind_support")

    def search(text):
        page = engine.query(inbox, RECEPTION, text=text)
        return [row[1].reference for row in page.rows]

    assert search("نوره") == [first.reference]  # ة written as ه
    assert search(other.national_id) == [second.reference]
    assert search(second.reference.lower()) == [second.reference]
    assert sorted(search("")) == sorted([first.reference, second.reference])
    assert search("%") == []


def test_counts_paging_and_sort(desk, engine, clock):
    for _ in range(3):
        desk.open("financial_support")
    page = engine.query(inbox, RECEPTION, per_page=2)
    assert (page.total, page.pages, len(page.rows)) == (3, 2, 2)
    assert len(engine.query(inbox, RECEPTION, per_page=2, page=2).rows) == 1
    assert page.counts == {"on_track": 3, "at_risk": 0, "late": 0, "no_deadline": 0}
    newest = engine.query(inbox, RECEPTION, sort="newest").rows
    assert [r[0].created_at for r in newest] == sorted([r[0].created_at for r in newest], reverse=True)
    assert engine.query(inbox, RECEPTION, process="inquiry").total == 0
    assert engine.query(inbox, RECEPTION, process="member_request").total == 3
    assert engine.query(inbox, Actor.user("x", ["committee"])).total == 0


def _rana(engine):
    """A client signed in as rana (reception) and the CSRF token of her session."""
    engine.run(lambda e, s: create_user(e, s, SYSTEM, "rana", "secret-pass", "rana", ["reception"]))
    client = create_app({"TESTING": True, "SECRET_KEY": "t"}, engine=engine).test_client()
    return client, _login(client, "rana")


def _behind_the_engine(engine, statement, **params):
    """Change rows the way another process would: this engine's commit counter does not move."""
    with engine.db.begin() as connection:
        connection.execute(sql(statement), params)


def test_team_counts_are_shared_for_a_few_seconds_then_counted_again(desk, engine, clock):
    assert count_cache(engine).seconds == 5  # config.yaml
    first, second, third = (desk.open("financial_support") for _ in range(3))
    assert engine.query(inbox, RECEPTION).counts["on_track"] == 3
    # Another process moves a task to the committee: the shared count lags until it is stale...
    _behind_the_engine(engine, "UPDATE human_tasks SET lane = 'committee', candidate_group = 'committee' "
                               "WHERE instance_id = :i", i=first.instance_id)
    page = engine.query(inbox, Actor.user("reception2", ["reception"]))
    assert page.counts["on_track"] == 3 and len(page.rows) == 2  # the rows are always read afresh
    clock.advance(seconds=5)
    assert engine.query(inbox, RECEPTION).counts["on_track"] == 2
    # ...while a command committed through this engine is seen at once.
    _behind_the_engine(engine, "UPDATE human_tasks SET lane = 'committee', candidate_group = 'committee' "
                               "WHERE instance_id = :i", i=second.instance_id)
    engine.run(lambda e, s: register_member(e, s, RECEPTION, name_ar="سعد القحطاني",
                                            national_id=identity.with_check_digit("107777777")))
    assert engine.query(inbox, RECEPTION).counts["on_track"] == 1
    # The clock moving the SLA states on counts again too.
    _behind_the_engine(engine, "UPDATE human_tasks SET due_at = :due WHERE instance_id = :i",
                       due=clock.now() + timedelta(hours=1), i=third.instance_id)
    clock.advance(hours=2)
    assert engine.query(inbox, RECEPTION).counts == {"on_track": 0, "at_risk": 0, "late": 1, "no_deadline": 0}


def test_tasks_assigned_beyond_the_team_are_counted_on_every_page(desk, engine, clock):
    request = desk.open("financial_support")
    desk.open("financial_support")
    assert engine.query(inbox, RECEPTION).total == 2
    # A committee task assigned to reception1 (and one with no candidate group at all): neither
    # is in the cached team count, both are theirs at once.
    _behind_the_engine(engine, "UPDATE human_tasks SET lane = 'committee', candidate_group = NULL, "
                               "assignee = 'reception1' WHERE instance_id = :i", i=request.instance_id)
    page = engine.query(inbox, RECEPTION)
    assert page.total == 3 and len(page.rows) == 2  # team count still cached at 2, plus 1 of their own
    mine = engine.query(inbox, RECEPTION, assignee="me")
    assert mine.total == 1 and mine.rows[0][0].lane == "committee"
    assert engine.query(inbox, RECEPTION, assignee="none").total == 1
    clock.advance(seconds=5)
    assert engine.query(inbox, RECEPTION).total == 2
    assert engine.query(inbox, Actor.user("reception2", ["reception"])).total == 1


def test_counts_on_every_page_when_the_setting_is_zero(desk, engine, clock, settings, database_url):
    settings["inbox"] = {"counts_seconds": 0}
    fresh = build(settings, database_url=database_url, clock=clock)
    try:
        request = desk.open("financial_support")
        assert fresh.query(inbox, RECEPTION).total == 1
        _behind_the_engine(fresh, "UPDATE human_tasks SET lane = 'committee', candidate_group = 'committee' "
                                  "WHERE instance_id = :i", i=request.instance_id)
        assert fresh.query(inbox, RECEPTION).total == 0
    finally:
        fresh.dispose()


@pytest.mark.parametrize(("key", "value"), [("counts_seconds", "soon"), ("counts_seconds", -1),
                                            ("counts_seconds", 301), ("counts_seconds", None),
                                            ("refresh_seconds", 0), ("refresh_seconds", "1m"),
                                            ("refresh_seconds", 1.5), ("refresh_seconds", True)])
def test_a_bad_inbox_setting_stops_the_start_with_its_name(settings, database_url, clock, key, value):
    settings["inbox"] = {"counts_seconds": 5, "refresh_seconds": 60, key: value}
    with pytest.raises(ConfigError, match=f"inbox.{key}"):
        build(settings, database_url=database_url, clock=clock)


def test_supervisor_reassigns_from_the_inbox(desk, engine):
    desk.open("financial_support")
    for username, roles in (("sara", ["supervisor", "reception"]), ("rana", ["reception"]), ("omar", ["reception"])):
        engine.run(lambda e, s, u=username, r=roles: create_user(e, s, SYSTEM, u, "secret-pass", u, r))
    client = create_app({"TESTING": True, "SECRET_KEY": "t"}, engine=engine).test_client()
    _login(client, "sara")
    page = client.get("/inbox").get_data(as_text=True)
    assert "إسناد" in page and "<option>omar</option>" in page
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    [task] = engine.query(list_tasks, SYSTEM)
    fragment = client.post(f"/tasks/{task.id}/assign", data={"assign_to": "omar", "assignee": "none"},
                           headers={"HX-Request": "true", "X-CSRFToken": token}).get_data(as_text=True)
    # Assigned, and the "Unclaimed" filter sent along still applies to the table that comes back.
    assert engine.query(list_tasks, SYSTEM)[0].assignee == "omar" and "<tr data-task=" not in fragment
    fragment = client.post(f"/tasks/{task.id}/assign", data={"assign_to": "rana"},
                           headers={"HX-Request": "true", "X-CSRFToken": token}).get_data(as_text=True)
    assert engine.query(list_tasks, SYSTEM)[0].assignee == "rana" and ">rana</td>" in fragment
    bad = client.post(f"/tasks/{task.id}/assign", data={"assign_to": "nobody"},
                      headers={"HX-Request": "true", "X-CSRFToken": token}).get_data(as_text=True)
    assert "لم يُعثر على المستخدم «\u2068nobody\u2069»." in bad
    # a reception user sees no assignment control
    rana = client.application.test_client()
    _login(rana, "rana")
    assert "إسناد إلى" not in rana.get("/inbox").get_data(as_text=True)


def test_inbox_page_filters_in_the_browser_url(desk, engine):
    desk.open("financial_support")
    client, _ = _rana(engine)
    page = client.get("/inbox?q=REQ-2026-000001&sla=on_track&sort=priority").get_data(as_text=True)
    assert "REQ-2026-000001" in page and "مهمة واحدة" in page
    assert "لا مهام" in client.get("/inbox?q=zzz").get_data(as_text=True)


def test_page_links_show_the_ends_and_the_neighbourhood_with_gaps():
    from web.staff.inbox import page_numbers

    assert page_numbers(1, 1) == [1]
    assert page_numbers(2, 4) == [1, 2, 3, 4]
    assert page_numbers(1, 1000) == [1, 2, 3, None, 999, 1000]
    assert page_numbers(500, 1000) == [1, 2, 3, None, 498, 499, 500, 501, 502, None, 999, 1000]
    assert page_numbers(6, 10) == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]


def test_inbox_pages_link_to_each_other(desk, engine):
    for _ in range(27):
        desk.open("financial_support")
    client, _ = _rana(engine)
    first = client.get("/inbox").get_data(as_text=True)
    assert first.count("<tr data-task=") == 25
    assert re.search(r'hx-get="/inbox\?page=1"[^>]*aria-current="page">1<', first)
    assert 'hx-get="/inbox?page=2"' in first and 'page=3"' not in first
    second = client.get("/inbox?page=2", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert second.count("<tr data-task=") == 2 and "<html" not in second


def test_page_numbers_in_arabic_digits_and_nonsense_pages(desk, engine):
    for _ in range(27):
        desk.open("financial_support")
    client, _ = _rana(engine)
    second = client.get("/inbox?page=٢", headers={"HX-Request": "true"})
    assert second.status_code == 200 and second.get_data(as_text=True).count("<tr data-task=") == 2
    for nonsense in ("²", "-3", "0", "9" * 5000, "abc", ""):
        response = client.get("/inbox", query_string={"page": nonsense}, headers={"HX-Request": "true"})
        assert response.status_code == 200, nonsense
        assert response.get_data(as_text=True).count("<tr data-task=") == 25, nonsense
    far = client.get("/inbox?page=999999", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert far.count("<tr data-task=") == 2 and 'aria-current="page">2<' in far  # the last page


def test_time_left_in_words_with_arabic_plural_forms(engine):
    from web.deadlines import time_left

    app = create_app({"TESTING": True, "SECRET_KEY": "t"}, engine=engine)
    with app.test_request_context("/?lang=ar"):
        assert [time_left(n) for n in (1, 2, 3, 11, 0, -1, -2, -5, -12)] == [
            "بقي يوم عمل واحد", "بقي يوما عمل", "بقيت 3 أيام عمل", "بقي 11 يوم عمل", "مستحقة اليوم",
            "متأخرة يوم عمل واحد", "متأخرة يومَي عمل", "متأخرة 5 أيام عمل", "متأخرة 12 يوم عمل"]
    with app.test_request_context("/?lang=en"):
        assert [time_left(n) for n in (1, 4, 0, -1, -3)] == [
            "1 working day left", "4 working days left", "Due today", "1 working day late", "3 working days late"]


def test_the_open_inbox_fetches_its_table_again_with_the_same_filters_and_page(desk, engine):
    desk.open("financial_support")
    client, _ = _rana(engine)
    page = client.get("/inbox").get_data(as_text=True)
    table = re.search(r'<div id="inbox-table"[^>]*>', page).group(0)
    # static/inbox.js sends "inbox-refresh" every data-refresh-seconds (no inline condition: the CSP).
    assert 'hx-trigger="inbox-refresh"' in table and 'data-refresh-seconds="60"' in table
    assert 'hx-include="#filters, #current-page"' in table
    # One request at a time on the table: a refresh never lands after (and over) a claim's answer.
    assert 'hx-sync="this:replace"' in table
    with client.get("/static/inbox.js") as script:  # no refresh while a request is in flight
        assert ".htmx-request" in script.get_data(as_text=True)
    assert 'hx-sync="#inbox-table:replace"' in re.search(r'<form id="filters"[^>]*>', page).group(0)
    assert '<input type="hidden" id="current-page" name="page" value="1">' in page


def test_deadline_words_know_the_time_of_day_and_the_weekend(engine):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from web.deadlines import deadline

    riyadh = ZoneInfo("Asia/Riyadh")

    def at(day, hour):  # November 2026: the 26th is a Thursday, the 27th and 28th the weekend
        return datetime(2026, 11, day, hour, tzinfo=riyadh)

    calendar = engine.calendars.get()
    app = create_app({"TESTING": True, "SECRET_KEY": "t"}, engine=engine)
    with app.test_request_context("/?lang=ar"):
        def words(due, now):
            return deadline(due, None, now, calendar)["time_left"]

        assert words(at(26, 15), at(26, 9)) == "مستحقة اليوم"
        assert words(at(26, 15), at(26, 17)) == "انقضى موعدها"  # late the same day
        assert words(at(26, 15), at(28, 10)) == "انقضى موعدها"  # and over the weekend
        assert words(at(26, 15), at(29, 9)) == "متأخرة يوم عمل واحد"
        assert words(at(28, 12), at(27, 10)) == "مستحقة قبل يوم العمل التالي"
        assert words(at(29, 10), at(26, 17)) == "بقي يوم عمل واحد"
        far = deadline(datetime(2080, 1, 1, tzinfo=riyadh), None, at(26, 9), calendar)
        assert far["hijri"] == "" and far["sla"] == "on_track"  # beyond the Umm al-Qura tables: no error


def test_claiming_the_last_row_of_the_last_page_shows_the_page_before(desk, engine):
    for _ in range(26):
        desk.open("financial_support")
    client, token = _rana(engine)
    last = client.get("/inbox?assignee=none&page=2", headers={"HX-Request": "true"}).get_data(as_text=True)
    [task_id] = re.findall(r'<tr data-task="([^"]+)"', last)
    after = client.post(f"/tasks/{task_id}/claim", data={"assignee": "none", "page": "2"},
                        headers={"HX-Request": "true", "X-CSRFToken": token}).get_data(as_text=True)
    assert after.count("<tr data-task=") == 25 and 'value="1"' in after  # page 1 of the 25 still unclaimed


def test_a_commit_while_the_team_is_being_counted_is_not_hidden_by_the_cache(desk, engine, monkeypatch):
    import workflows.read.inbox as inbox_module
    from engine.commands import claim_task

    desk.open("financial_support")
    desk.open("financial_support")
    [first, _] = engine.query(list_tasks, SYSTEM)
    original, claimed = inbox_module._sla_counts, []

    def counting_while_someone_claims(session, query, now):
        counts = original(session, query, now)
        if not claimed:  # another request thread commits while this count is in flight
            claimed.append(engine.run(claim_task, RECEPTION, first.id))
        return counts

    monkeypatch.setattr(inbox_module, "_sla_counts", counting_while_someone_claims)
    assert engine.query(inbox, RECEPTION, assignee="none").total == 2  # counted before the claim
    page = engine.query(inbox, RECEPTION, assignee="none")
    assert page.total == 1 and len(page.rows) == 1  # counted again, not served stale


def test_task_names_in_english_come_from_their_forms(desk, engine):
    desk.open("financial_support")
    client, _ = _rana(engine)
    english = client.get("/inbox?lang=en").get_data(as_text=True)
    arabic = client.get("/inbox?lang=ar").get_data(as_text=True)
    assert ">Receive the member and answer their questions</a>" in english
    assert ">استقبال العضو والإجابة على استفساراته</a>" in arabic
