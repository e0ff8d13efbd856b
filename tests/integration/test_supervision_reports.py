"""The supervisors' reports (`workflows.read.reports`) on a small history built by hand, with known answers.

The clock stands at `T0`, Tuesday 1 December 2026, 11:00 in Riyadh. The report's period is November
2026 (custom, 30 days), so the previous period is 2 to 31 October.
"""

from datetime import UTC, date, datetime, time, timedelta
from itertools import count

import pytest

from engine.actors import Actor
from engine.errors import Forbidden
from engine.models import HumanTask, ProcessDefinition, ProcessInstance, TaskRecord
from tests.conftest import T0
from workflows.models import Decision, Member, ServiceRequest, User
from workflows.read.reports import (
    AGING_BUCKETS,
    BadPeriod,
    Period,
    aging_bucket,
    parse_period,
    percentile,
    supervision_report,
)

SUPERVISOR = Actor.user("sara", ["supervisor"], roles=["supervisor"])
NOVEMBER = Period("custom", date(2026, 11, 1), date(2026, 11, 30))
RIYADH = timedelta(hours=3)
_ids = count(1)


def _at(day: date, hour: int = 10) -> datetime:
    """``hour`` o'clock in Riyadh on ``day``, as UTC."""
    return datetime.combine(day, time(hour), tzinfo=UTC) - RIYADH


@pytest.fixture
def history(engine):
    """An instance to hang history on, and helpers that add rows to it."""
    def setup(e, s):
        definition = ProcessDefinition(key="member_request", version=1, name="طلب عضو", sha256="0" * 64, xml="<x/>",
                                       deployed_at=T0, deployed_by="t")
        s.add(definition)
        s.flush()
        instance = ProcessInstance(definition_id=definition.id, business_key="b", status="running", revision=1,
                                   snapshot="{}", started_at=T0, started_by="t", updated_at=T0, updated_by="t")
        member = Member(national_id="1000000001", name_ar="سالم", search_name="سالم", created_at=T0, created_by="t")
        s.add_all([instance, member])
        s.flush()
        return instance.id, member.id

    instance_id, member_id = engine.run(setup)

    def record(lane, closed, met, process="member_request", opened=None, outcome="completed"):
        number = next(_ids)
        return TaskRecord(task_id=f"t{number}", instance_id=instance_id, process_key=process, process_version=1,
                          element_id="e", name="e", lane=lane, candidate_group=lane, opened_at=opened or closed,
                          closed_at=closed, closed_by="x", outcome=outcome, deadline_met=met,
                          due_at=closed if met is not None else None)

    def open_task(lane, opened, assignee=None):
        return HumanTask(id=f"h{next(_ids)}", instance_id=instance_id, element_id="e", name="e", lane=lane,
                         candidate_group=lane, assignee=assignee, created_at=opened)

    def request(service, channel, opened, closed=None, promised=None, status="delivered"):
        return ServiceRequest(reference=f"REQ-{next(_ids)}", member_id=member_id, service_type=service,
                              channel=channel, status=status, opened_at=opened, opened_by="x", closed_at=closed,
                              answer_promised_on=promised)

    def add(*rows):
        def write(e, s):
            s.add_all(rows)
            s.flush()
            return [getattr(r, "id", None) for r in rows]
        return engine.run(write)

    return type("History", (), {"record": staticmethod(record), "open_task": staticmethod(open_task),
                                "request": staticmethod(request), "add": staticmethod(add)})


def _report(engine, period=NOVEMBER, actor=SUPERVISOR):
    return engine.query(supervision_report, actor, period)


def test_only_supervisors_and_administrators_read_the_reports(engine):
    for roles in (["reception"], ["committee"], ["process_owner"], []):
        with pytest.raises(Forbidden):
            _report(engine, actor=Actor.user("x", roles=roles))
    assert _report(engine, actor=Actor.user("root", roles=["administrator"])).period == NOVEMBER


def test_the_periods_of_the_picker_on_the_societys_week_and_months():
    tuesday = date(2026, 12, 1)
    week = parse_period("this_week", None, None, tuesday)
    assert (week.start, week.end) == (date(2026, 11, 29), tuesday)  # the week starts on Sunday
    assert (week.previous().start, week.previous().end) == (date(2026, 11, 22), date(2026, 11, 24))
    sunday = parse_period("this_week", None, None, date(2026, 11, 29))
    assert (sunday.start, sunday.end) == (date(2026, 11, 29), date(2026, 11, 29))
    saturday = parse_period("this_week", None, None, date(2026, 11, 28))
    assert saturday.start == date(2026, 11, 22)
    month = parse_period(None, None, None, date(2026, 12, 7))  # this month by default
    assert (month.kind, month.start, month.end) == ("this_month", date(2026, 12, 1), date(2026, 12, 7))
    assert (month.previous().start, month.previous().end) == (date(2026, 11, 1), date(2026, 11, 7))
    march = parse_period("this_month", None, None, date(2026, 3, 31)).previous()
    assert (march.start, march.end) == (date(2026, 2, 1), date(2026, 2, 28))  # February has no 31st
    last = parse_period("last_month", None, None, date(2026, 1, 15))
    assert (last.start, last.end) == (date(2025, 12, 1), date(2025, 12, 31))
    assert (last.previous().start, last.previous().end) == (date(2025, 11, 1), date(2025, 11, 30))
    custom = parse_period("custom", "2026-11-01", "2026-11-30", tuesday)
    assert custom == NOVEMBER and custom.days == 30
    assert (custom.previous().start, custom.previous().end) == (date(2026, 10, 2), date(2026, 10, 31))
    one_day = parse_period("custom", "2026-11-05", "2026-11-05", tuesday)
    assert (one_day.previous().start, one_day.previous().end) == (date(2026, 11, 4), date(2026, 11, 4))


@pytest.mark.parametrize(("kind", "start", "end", "reason"), [
    ("yearly", None, None, "kind"),
    ("custom", "", "2026-11-30", "missing"),
    ("custom", "2026-11-01", None, "missing"),
    ("custom", "2026-13-01", "2026-11-30", "not_a_date"),
    ("custom", "01/11/2026", "2026-11-30", "not_a_date"),
    ("custom", "2026-11-30", "2026-11-01", "reversed"),
    ("custom", "2010-01-01", "2026-11-01", "too_long"),
])
def test_a_bad_period_is_refused_with_its_reason(kind, start, end, reason):
    with pytest.raises(BadPeriod) as caught:
        parse_period(kind, start, end, date(2026, 12, 1))
    assert caught.value.reason == reason


def test_percentiles_interpolate_as_postgresqls_percentile_cont():
    assert percentile([], 0.5) is None
    assert percentile([4.0], 0.9) == 4.0
    assert percentile([0, 1, 2, 3, 10], 0.5) == 2
    assert percentile([10, 0, 3, 1, 2], 0.9) == 7.2  # position 3.6: 3 + 0.6 × (10 − 3)
    assert percentile([1, 2, 3, 4], 0.5) == 2.5


def test_aging_bucket_edges():
    edges = {0: "0-1", 1: "0-1", 2: "2-3", 3: "2-3", 4: "4-5", 5: "4-5", 6: "6-10", 10: "6-10", 11: ">10",
             400: ">10"}
    assert {days: aging_bucket(days) for days in edges} == edges
    assert [key for key, _, _ in AGING_BUCKETS] == ["0-1", "2-3", "4-5", "6-10", ">10"]


def test_deadlines_met_per_lane_process_and_month_beside_the_previous_period(engine, history):
    r = history.record
    history.add(
        r("reception", _at(date(2026, 11, 2)), True), r("reception", _at(date(2026, 11, 10)), True),
        r("reception", _at(date(2026, 11, 11)), False),
        # 00:30 on 1 November in Riyadh is 21:30 on 31 October in UTC: November's.
        r("reception", datetime(2026, 10, 31, 21, 30, tzinfo=UTC), True, process="inquiry"),
        # 01:00 on 1 December in Riyadh is still 30 November in UTC: December's, outside the period.
        r("reception", datetime(2026, 11, 30, 22, 0, tzinfo=UTC), False),
        r("committee", _at(date(2026, 11, 20)), True), r("committee", _at(date(2026, 11, 24)), False),
        r("committee", _at(date(2026, 11, 25)), None),  # no deadline: not counted
        r("reception", _at(date(2026, 10, 5)), True), r("reception", _at(date(2026, 10, 6)), False),
        r("reception", _at(date(2026, 10, 1)), False),  # before the previous period (2–31 October)
        r("committee", _at(date(2026, 9, 15)), False),
    )
    report = _report(engine)
    lanes = {c.key: (c.met, c.total, c.percent, c.previous_met, c.previous_total, c.previous_percent)
             for c in report.by_lane}
    assert lanes == {"reception": (3, 4, 75.0, 1, 2, 50.0), "committee": (1, 2, 50.0, 0, 0, None)}
    processes = {c.key: (c.met, c.total, c.percent, c.previous_met, c.previous_total) for c in report.by_process}
    assert processes == {"member_request": (3, 5, 60.0, 1, 2), "inquiry": (1, 1, 100.0, 0, 0)}
    months = {c.key: (c.met, c.total, c.previous_met, c.previous_total) for c in report.by_month}
    assert list(months) == ["2026-06", "2026-07", "2026-08", "2026-09", "2026-10", "2026-11"]
    assert months["2026-11"] == (4, 6, 1, 3) and months["2026-10"] == (1, 3, 0, 1)
    assert months["2026-09"] == (0, 1, 0, 0) and months["2026-06"] == (0, 0, 0, 0)
    [task, _promise] = report.breaches
    assert (task.clock, task.breached, task.total, task.percent) == ("task_deadline", 2, 6, 33.3)
    assert (task.previous_breached, task.previous_total, task.previous_percent) == (1, 2, 50.0)


def test_the_promised_decision_date_breached_when_the_committee_decided_after_it(engine, history):
    q = history.request
    ids = history.add(
        q("financial_support", "phone", _at(date(2026, 11, 1)), promised=date(2026, 11, 15)),
        q("financial_support", "phone", _at(date(2026, 11, 1)), promised=date(2026, 11, 15)),
        q("financial_support", "phone", _at(date(2026, 11, 1)), promised=date(2026, 11, 15)),
        q("financial_support", "phone", _at(date(2026, 11, 1))),  # no promise: not on this clock
        q("financial_support", "phone", _at(date(2026, 10, 1)), promised=date(2026, 10, 10)),
    )
    history.add(
        Decision(request_id=ids[0], outcome="accepted", reason="r", decided_at=datetime(2026, 11, 15, 23, tzinfo=UTC),
                 recorded_by="x", committee_members=["a"]),  # 23:00 UTC: the 16th in Riyadh, a day late
        Decision(request_id=ids[1], outcome="rejected", reason="r", decided_at=_at(date(2026, 11, 15), 20),
                 recorded_by="x", committee_members=["a"]),  # on the day promised: kept
        Decision(request_id=ids[2], outcome="accepted", reason="r", decided_at=_at(date(2026, 11, 10)),
                 recorded_by="x", committee_members=["a"]),
        Decision(request_id=ids[3], outcome="accepted", reason="r", decided_at=_at(date(2026, 11, 10)),
                 recorded_by="x", committee_members=["a"]),
        Decision(request_id=ids[4], outcome="accepted", reason="r", decided_at=_at(date(2026, 10, 12)),
                 recorded_by="x", committee_members=["a"]),
    )
    report = _report(engine)
    [_task, promise] = report.breaches
    assert (promise.clock, promise.breached, promise.total, promise.percent) == ("promised_date", 1, 3, 33.3)
    assert (promise.previous_breached, promise.previous_total) == (1, 1)
    assert report.decisions == {"accepted": (3, 1), "rejected": (1, 0)}


def test_aging_of_open_work_per_lane_at_each_bucket_edge(engine, history):
    calendar = engine.calendars.get()
    today = date(2026, 12, 1)

    def opened(working_days):
        return _at(calendar.add_business_days(today, -working_days), 9)

    o = history.open_task
    history.add(*[o("reception", opened(n)) for n in (0, 1, 2, 3, 4, 5, 6, 10, 11)],
                o("committee", opened(11)), o("committee", opened(30)), o("committee", opened(5)))
    assert calendar.business_days_between(calendar.add_business_days(today, -11), today) == 11
    aging = _report(engine).aging
    assert aging == {"committee": {"0-1": 0, "2-3": 0, "4-5": 1, "6-10": 0, ">10": 2},
                     "reception": {"0-1": 2, "2-3": 2, "4-5": 2, "6-10": 2, ">10": 1}}


def test_created_and_completed_per_day(engine, history):
    r, o = history.record, history.open_task
    history.add(
        r("reception", _at(date(2026, 11, 3)), True, opened=_at(date(2026, 11, 2))),
        r("reception", _at(date(2026, 11, 3)), True, opened=_at(date(2026, 11, 3))),
        r("reception", _at(date(2026, 11, 3)), None, opened=_at(date(2026, 11, 3)), outcome="cancelled"),
        o("reception", _at(date(2026, 11, 2))),
    )
    flow = {day: (created, completed) for day, created, completed in _report(engine).flow}
    assert len(flow) == 30 and min(flow) == date(2026, 11, 1) and max(flow) == date(2026, 11, 30)
    assert flow[date(2026, 11, 2)] == (2, 0)  # one closed since, one still open
    assert flow[date(2026, 11, 3)] == (2, 2)  # the cancelled one was created, not completed
    assert flow[date(2026, 11, 4)] == (0, 0)
    this_week = _report(engine, parse_period("this_week", None, None, date(2026, 12, 1))).flow
    assert [day for day, _, _ in this_week] == [date(2026, 11, 29), date(2026, 11, 30), date(2026, 12, 1)]


def test_work_in_progress_per_person_beside_the_teams_average_sorted_by_name(engine, history):
    def user(username, name, roles, active=True):
        return User(username=username, display_name=name, password_hash="x", roles=roles, is_active=active,
                    created_at=T0)

    history.add(user("omar", "عمر", ["reception"]), user("rana", "رنا", ["reception"]),
                user("zaid", "زيد", ["reception"], active=False), user("ali", "علي", ["committee"]))
    o = history.open_task
    history.add(o("reception", T0, "rana"), o("reception", T0, "rana"), o("reception", T0, "rana"),
                o("reception", T0, "omar"), o("reception", T0), o("committee", T0, "sara"))
    rows = [(w.lane, w.username, w.open_tasks, w.team_average) for w in _report(engine).work_in_progress]
    # By lane, then by name (رنا before عمر): never by how many each holds.
    assert rows == [("committee", "sara", 1, 0.5), ("committee", "ali", 0, 0.5),
                    ("reception", "rana", 3, 2.0), ("reception", "omar", 1, 2.0)]


def test_requests_per_channel_and_turnaround_per_service_type(engine, history):
    calendar = engine.calendars.get()
    q = history.request
    start = date(2026, 11, 1)  # a Sunday
    spans = [0, 1, 2, 3, 10]
    history.add(*[q("inquiry", "website", _at(start), _at(calendar.add_business_days(start, n))) for n in spans],
                q("financial_support", "letter", _at(date(2026, 11, 2)), _at(date(2026, 11, 5))),
                q("financial_support", "letter", _at(date(2026, 11, 2)), _at(date(2026, 11, 9)), status="cancelled"),
                q("in_kind_support", "in_person", _at(date(2026, 10, 20)), _at(date(2026, 10, 22))),
                q("in_kind_support", "social_media", datetime(2026, 11, 30, 22, tzinfo=UTC)))  # December in Riyadh
    report = _report(engine)
    turnaround = {t.service_type: (t.closed, t.median, t.p90) for t in report.turnaround}
    assert turnaround == {"inquiry": (5, 2.0, 7.2), "financial_support": (1, 3.0, 3.0)}
    assert {t.service_type: t.names["en"] for t in report.turnaround}["inquiry"] == "Inquiry"
    assert report.channel_step == "day"
    channels = dict(report.channels)
    assert len(channels) == 30 and channels["2026-11-01"]["website"] == 5
    assert channels["2026-11-02"] == {"in_person": 0, "phone": 0, "social_media": 0, "letter": 2, "website": 0}
    assert sum(c["social_media"] for c in channels.values()) == 0
    longer = _report(engine, Period("custom", date(2026, 10, 1), date(2026, 11, 30)))
    assert longer.channel_step == "month"
    assert dict(longer.channels) == {
        "2026-10": {"in_person": 1, "phone": 0, "social_media": 0, "letter": 0, "website": 0},
        "2026-11": {"in_person": 0, "phone": 0, "social_media": 0, "letter": 2, "website": 5},
    }


def test_the_demo_has_a_history_that_makes_every_figure_meaningful(engine):
    from tests.integration.test_demo_and_import import _deploy_all
    from workflows.demo import load_demo

    _deploy_all(engine)
    result = load_demo(engine)
    assert result["history"] == {"member_request": 10, "inquiry": 4, "membership_registration": 2}
    today = engine.clock.now().astimezone(engine.calendars.get().tz).date()
    months = _report(engine, Period("custom", today - timedelta(days=150), today))
    filled = [m for m in months.by_month if m.total]
    assert len(filled) >= 4  # a few months of closed tasks
    assert all(m.met for m in filled) and sum(m.total - m.met for m in filled) >= 5  # met and breached
    assert {c.key for c in months.by_lane} >= {"reception", "social_researcher", "committee", "service_delivery"}
    assert {c.key for c in months.by_process} == {"member_request", "inquiry", "membership_registration"}
    task, promise = months.breaches
    assert task.breached >= 5 and promise.breached >= 1 and promise.total > promise.breached
    assert all(sum(counts[c] for _, counts in months.channels) >= 2 for c in
               ("in_person", "phone", "social_media", "letter", "website"))
    assert months.decisions["accepted"][0] >= 5 and months.decisions["rejected"][0] >= 3
    assert {t.service_type for t in months.turnaround} == {"financial_support", "in_kind_support", "inquiry",
                                                          "membership_registration"}
    assert any(t.p90 and t.p90 > t.median for t in months.turnaround)
    assert {(w.username, w.open_tasks) for w in months.work_in_progress if w.open_tasks} == {("reception1", 2),
                                                                                           ("delivery1", 1)}
    assert sum(sum(row.values()) for row in months.aging.values()) > 20


def test_a_report_is_served_again_until_something_is_committed_or_its_time_is_up(engine, history, clock):
    r = history.record
    history.add(r("reception", _at(date(2026, 11, 2)), True))
    first = _report(engine)
    assert _report(engine) is first  # nothing committed since: the same counts
    history.add(r("reception", _at(date(2026, 11, 3)), False))  # a commit: counted again
    second = _report(engine)
    assert second is not first and [(c.met, c.total) for c in second.by_lane] == [(1, 2)]
    assert _report(engine) is second
    clock.advance(seconds=61)  # older than a minute: counted again
    assert _report(engine) is not second
    engine.settings["reports"] = {"cache_seconds": 0}
    assert _report(engine) is not _report(engine)
