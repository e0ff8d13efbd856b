"""Changing the working calendar: a preview of the open deadlines that move, then saving them with it."""

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from engine import calendar as engine_calendar
from engine.actors import SYSTEM, Actor
from engine.commands import start_instance
from engine.errors import Forbidden, InvalidInput
from engine.models import AuditEvent, CalendarDay, HumanTask, Job
from engine.settings import load_settings
from tests.conftest import T0
from tests.support.desk import RECEPTION
from workflows import identity
from workflows.bootstrap import build
from workflows.models import ServiceRequest
from workflows.operations.calendar import change_calendar, clear_day, close_day, open_day
from workflows.operations.members import register_member
from workflows.read.calendar import calendar_page

ADMIN = Actor.user("admin1", [], roles=["administrator"])
SUPERVISOR = Actor.user("sara", [], roles=["supervisor"])
DUE = datetime(2026, 12, 15, 8, tzinfo=UTC)  # 10 working days after Tue 1 Dec 2026, 08:00 UTC
WARN = datetime(2026, 12, 13, 8, tzinfo=UTC)  # 8
SECOND_LEVEL = datetime(2026, 12, 17, 8, tzinfo=UTC)  # 12


def _task(engine):
    return engine.query(lambda e, s: s.scalars(select(HumanTask)).one())


def _jobs(engine):
    return engine.query(lambda e, s: [(j.kind, j.due_at) for j in s.scalars(select(Job).order_by(Job.kind))])


def _events(engine, action):
    return engine.query(lambda e, s: s.scalars(select(AuditEvent).where(AuditEvent.action == action)
                                               .order_by(AuditEvent.id)).all())


@pytest.fixture
def committee_task(engine, deploy):
    deploy("committee_sla")
    engine.run(start_instance, SYSTEM, "committee_sla", data={"request_no": 1})
    return _task(engine)


def test_a_closure_moves_the_due_date_and_its_jobs_by_one_working_day(engine, committee_task):
    assert (committee_task.due_at, committee_task.warn_at) == (DUE, WARN)
    result = engine.run(change_calendar, ADMIN, "close", "2026-12-09", "General assembly", dry_run=False)
    task = _task(engine)
    assert (task.due_at, task.warn_at) == (datetime(2026, 12, 16, 8, tzinfo=UTC), datetime(2026, 12, 14, 8, tzinfo=UTC))
    # Thursday 17 December's escalation moves over the weekend to Sunday 20 December.
    assert _jobs(engine) == [("sla_escalate_1", datetime(2026, 12, 16, 8, tzinfo=UTC)),
                             ("sla_escalate_2", datetime(2026, 12, 20, 8, tzinfo=UTC)),
                             ("sla_warn", datetime(2026, 12, 14, 8, tzinfo=UTC))]
    assert (result["deadlines"], result["by_days"], result["warnings"], result["jobs"]) == (1, {1: 1}, 1, 3)
    assert engine.calendars.get().is_working_day(date(2026, 12, 9)) is False  # the cache saw it after commit


def test_the_command_line_s_close_open_and_clear_move_the_deadlines_as_the_page_does(engine, committee_task):
    moved = (datetime(2026, 12, 16, 8, tzinfo=UTC), datetime(2026, 12, 14, 8, tzinfo=UTC))
    engine.run(close_day, ADMIN, "2026-12-09", "General assembly")  # `tawasul calendar close`
    assert (_task(engine).due_at, _task(engine).warn_at) == moved
    assert ("sla_warn", moved[1]) in _jobs(engine)
    assert engine.run(clear_day, ADMIN, "2026-12-09")[1] is True  # `tawasul calendar clear`: back again
    assert (_task(engine).due_at, _task(engine).warn_at) == (DUE, WARN)
    engine.run(close_day, ADMIN, "2026-12-09", "General assembly")
    engine.run(open_day, ADMIN, "2026-12-09", "Held online after all")  # `tawasul calendar open`
    assert (_task(engine).due_at, _task(engine).warn_at) == (DUE, WARN)
    assert [e.summary["change"] for e in _events(engine, "calendar_changed")] == ["close", "clear", "close", "open"]
    for day, reason in (("2026-12-10", "  "), ("2026-12-10", "x" * 201), ("9999-12-31", "far")):
        with pytest.raises(InvalidInput):
            engine.run(close_day, ADMIN, day, reason)
    assert engine.calendars.get().is_working_day(date(2026, 12, 10)) is True


def test_an_eid_correction_moves_a_deadline_earlier(engine, clock, deploy):
    # Opened Monday 15 Feb 2027: ten working days skip Founding Day (Monday 22 Feb), due Tuesday 2 March.
    clock.set(datetime(2027, 2, 15, 8, tzinfo=UTC))
    deploy("committee_sla")
    engine.run(start_instance, SYSTEM, "committee_sla")
    assert _task(engine).due_at == datetime(2027, 3, 2, 8, tzinfo=UTC)
    result = engine.run(change_calendar, ADMIN, "move", "2027-02-22", "Announced for 3 March", "2027-03-03",
                        dry_run=False)
    assert _task(engine).due_at == datetime(2027, 3, 1, 8, tzinfo=UTC)
    assert result["by_days"] == {-1: 1}
    current = engine.calendars.get()
    assert current.is_working_day(date(2027, 2, 22)) and not current.is_working_day(date(2027, 3, 3))


def test_a_fixed_duration_deadline_does_not_move(database_url, clock, deploy_with):
    settings = load_settings(**{"sla": {"committee_sla": {"decide": {"due": '"P20D"', "warn": "business_days(8)"}}}})
    engine = build(settings, database_url=database_url, clock=clock)
    try:
        deploy_with(engine, "committee_sla")
        engine.run(start_instance, SYSTEM, "committee_sla")
        result = engine.run(change_calendar, ADMIN, "close", "2026-12-09", "General assembly", dry_run=False)
        task = _task(engine)
        assert task.due_at == datetime(2026, 12, 21, 8, tzinfo=UTC)  # twenty calendar days, as before
        assert task.warn_at == datetime(2026, 12, 14, 8, tzinfo=UTC)  # the working days moved
        assert [t["due_before"] == t["due_after"] for t in result["tasks"]] == [True]
    finally:
        engine.dispose()


def test_the_preview_announces_what_saving_changes(engine, committee_task):
    before = _task(engine), _jobs(engine)
    preview = engine.query(change_calendar, ADMIN, "close", "2026-12-09", "General assembly", dry_run=True)
    assert (_task(engine).due_at, _jobs(engine)) == (before[0].due_at, before[1])  # a preview changes nothing
    assert engine.query(lambda e, s: s.scalars(select(CalendarDay)).all()) == []
    saved = engine.run(change_calendar, ADMIN, "close", "2026-12-09", "General assembly", dry_run=False)
    assert preview == saved
    [moved] = preview["tasks"]
    assert (moved["due_before"], moved["due_after"]) == (before[0].due_at, _task(engine).due_at)
    assert moved["jobs"] == sum(1 for old, new in zip(before[1], _jobs(engine), strict=True) if old != new)


def test_saving_is_audited_and_each_task_keeps_it_in_its_history(engine, committee_task):
    engine.run(change_calendar, ADMIN, "close", "2026-12-09", "General assembly", dry_run=False)
    [event] = _events(engine, "calendar_changed")
    assert event.actor == "admin1"
    assert event.summary["days"] == [{"day": "2026-12-09", "is_working": False}]
    assert (event.summary["deadlines"], event.summary["jobs"], event.summary["by_days"]) == (1, 3, {"1": 1})
    [moved] = _events(engine, "deadline_moved")
    assert (moved.task_id, moved.instance_id) == (committee_task.id, committee_task.instance_id)
    assert moved.summary["due"] == [DUE.isoformat(), datetime(2026, 12, 16, 8, tzinfo=UTC).isoformat()]


def test_a_failure_in_the_middle_leaves_nothing_changed(engine, committee_task, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("the disk is full")

    # The tasks and jobs are written first, then the calendar day: that write fails.
    monkeypatch.setattr(engine_calendar, "set_day", broken)
    with pytest.raises(RuntimeError):
        engine.run(change_calendar, ADMIN, "close", "2026-12-09", "General assembly", dry_run=False)
    assert (_task(engine).due_at, _task(engine).warn_at) == (DUE, WARN)
    assert _jobs(engine) == [("sla_escalate_1", DUE), ("sla_escalate_2", SECOND_LEVEL), ("sla_warn", WARN)]
    assert _events(engine, "deadline_moved") == [] and _events(engine, "calendar_changed") == []
    assert engine.query(lambda e, s: s.scalars(select(CalendarDay)).all()) == []


def test_reopening_a_closure_moves_the_deadline_back(engine, committee_task):
    engine.run(change_calendar, ADMIN, "close", "2026-12-09", "General assembly", dry_run=False)
    result = engine.run(change_calendar, ADMIN, "reopen", "2026-12-09", "Assembly postponed", dry_run=False)
    assert _task(engine).due_at == DUE and result["by_days"] == {-1: 1}
    assert engine.query(lambda e, s: s.scalars(select(CalendarDay)).all()) == []  # the closure is gone


@pytest.mark.parametrize("change, day, reason, to_day, code", [
    ("close", "9/12/2026", "x", None, "calendar_not_a_date"),
    ("close", "2031-12-09", "x", None, "calendar_out_of_range"),
    ("close", "2026-12-09", "  ", None, "calendar_reason_missing"),
    ("reopen", "2026-12-09", "x", None, "calendar_not_closed"),
    ("close", "2026-12-11", "x", None, "calendar_already_closed"),  # a Friday
    ("move", "2026-12-09", "x", "2026-12-10", "calendar_not_closed"),
    ("move", "2027-02-22", "x", "", "calendar_not_a_date"),
    ("open", "2026-12-09", "x", None, "calendar_unknown_change"),
])
def test_bad_changes_are_refused_and_nothing_is_saved(engine, committee_task, change, day, reason, to_day, code):
    with pytest.raises(InvalidInput) as refused:
        engine.run(change_calendar, ADMIN, change, day, reason, to_day, dry_run=False)
    assert refused.value.code == code
    assert _task(engine).due_at == DUE
    assert engine.query(lambda e, s: s.scalars(select(CalendarDay)).all()) == []


def test_only_administrators_change_or_read_the_calendar(engine):
    with pytest.raises(Forbidden):
        engine.run(change_calendar, SUPERVISOR, "close", "2026-12-09", "x", dry_run=True)
    with pytest.raises(Forbidden):
        engine.query(calendar_page, SUPERVISOR, 2026, "ar")


def test_the_page_names_the_holidays_in_either_language(engine):
    engine.run(change_calendar, ADMIN, "close", "2026-12-09", "General assembly", dry_run=False)
    arabic = engine.query(calendar_page, ADMIN, 2026, "ar")
    english = engine.query(calendar_page, ADMIN, 2026, "en")
    assert {d["date"]: d["name"] for d in arabic["days"]}[date(2026, 9, 23)] == "اليوم الوطني"
    assert {d["date"]: d["name"] for d in english["days"]}[date(2026, 9, 23)] == "National Day Holiday"
    closure = {d["date"]: d for d in english["days"]}[date(2026, 12, 9)]
    assert (closure["kind"], closure["reason"], closure["hijri"]) == ("closure", "General assembly", "1448-06-29")
    assert english["weekend"] == [4, 5] and english["years"] == [2025, 2026, 2027, 2028]


@pytest.fixture
def promised(engine):
    """A request promised an answer by Tuesday 15 December (ten working days from Tuesday 1 December)."""
    member = engine.run(register_member, RECEPTION, name_ar="سالم الدوسري", name_en="Salem Aldosari",
                        national_id=identity.with_check_digit("104444444"))

    def add(e, s):
        request = ServiceRequest(reference="REQ-2026-000001", member_id=member.id, service_type="financial_support",
                                 channel="walk_in", opened_at=T0, opened_by="rana", answer_counted_from=date(2026, 12, 1),
                                 answer_promised_on=date(2026, 12, 15))
        s.add(request)
        s.flush()
        return request.id

    return engine.run(add)


def _promise(engine, request_id):
    return engine.query(lambda e, s: s.get(ServiceRequest, request_id).answer_promised_on)


def test_a_closure_moves_the_promised_answer_date_too(engine, promised):
    preview = engine.query(change_calendar, ADMIN, "close", "2026-12-09", "General assembly", dry_run=True)
    assert _promise(engine, promised) == date(2026, 12, 15)  # the preview wrote nothing
    assert [(p["before"], p["after"], p["working_days"]) for p in preview["promises"]] == [
        (date(2026, 12, 15), date(2026, 12, 16), 1)]
    saved = engine.run(change_calendar, ADMIN, "close", "2026-12-09", "General assembly", dry_run=False)
    assert saved == preview and _promise(engine, promised) == date(2026, 12, 16)
    assert (saved["deadlines"], saved["by_days"]) == (1, {1: 1})
    [event] = _events(engine, "promise_moved")
    assert (event.summary["before"], event.summary["after"]) == ("2026-12-15", "2026-12-16")
    assert _events(engine, "calendar_changed")[0].summary["promises"] == 1


def test_a_holiday_moved_off_the_weekend_leaves_the_weekend_closed(engine):
    # Eid al-Fitr 2026 has Friday 20 March; moving that day to Wednesday 25 March closes the Wednesday only.
    result = engine.run(change_calendar, ADMIN, "move", "2026-03-20", "Eid announced a day late", "2026-03-25",
                        dry_run=False)
    current = engine.calendars.get()
    assert not current.is_working_day(date(2026, 3, 20)) and not current.is_working_day(date(2026, 3, 25))
    assert [(c["day"], c["is_working"]) for c in result["changes"]] == [(date(2026, 3, 25), False)]
