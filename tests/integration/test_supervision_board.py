"""The supervisors' board read model (workflows.read.supervision.board) and reassigning with a reason:
the order by time to breach, the counts, the escalations' waits and the forecast on the calendar."""

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from engine import audit
from engine.actors import SYSTEM, Actor
from engine.calendar import clear_day, set_day
from engine.commands import complete_task, start_instance
from engine.errors import Conflict, Forbidden, InvalidInput
from engine.models import AuditEvent, HumanTask
from workflows.operations.accounts import create_user
from workflows.operations.tasks import assign_task
from workflows.read.supervision import board

SUPERVISOR = Actor.user("sami", ["supervisor"], may_assign=True, roles=["supervisor"], oversees_all=True)
ADMIN = Actor.user("adel", may_assign=True, roles=["administrator"], oversees_all=True)
RECEPTION = Actor.user("rana", ["reception"], roles=["reception"])
# The clock stands at T0: Tuesday 1 December 2026, 08:00 UTC (11:00 in Riyadh).
NOW = datetime(2026, 12, 1, 8, tzinfo=UTC)
HOUR, DAY = timedelta(hours=1), timedelta(days=1)


@pytest.fixture
def case(engine, deploy):
    deploy("review")
    row = engine.run(start_instance, SYSTEM, "review", data={"request_no": 1})
    # Only the tasks a test adds: the diagram's own first task goes.
    engine.run(lambda e, s: [s.delete(t) for t in s.scalars(select(HumanTask))])
    return row.id


@pytest.fixture
def add(engine, case):
    def _add(task_id, lane="committee", due=None, warn=None, group=None, assignee=None, created=NOW - DAY,
             level=0):
        engine.run(lambda e, s: s.add(HumanTask(
            id=task_id, instance_id=case, element_id="review", name="Review", lane=lane,
            candidate_group=group or lane, assignee=assignee, created_at=created, due_at=due, warn_at=warn,
            priority=50, escalation_level=level)))
    return _add


def test_the_board_lists_late_then_at_risk_then_undated_tasks_by_time_to_breach(engine, add):
    add("on-track", due=NOW + 5 * DAY, warn=NOW + 3 * DAY)
    add("undated-new", created=NOW - HOUR)
    add("risk-due-2", due=NOW + 2 * DAY, warn=NOW - HOUR)
    add("late-1", due=NOW - DAY, warn=NOW - 3 * DAY)
    add("undated-old", lane="reception", created=NOW - 3 * DAY)
    add("risk-warn-only", warn=NOW - 2 * HOUR)
    add("risk-due-1", due=NOW + DAY, warn=NOW - HOUR)
    add("late-3", due=NOW - 3 * DAY)
    found = engine.query(board, SUPERVISOR)
    assert [t.task.id for t in found.tasks] == ["late-3", "late-1", "risk-due-1", "risk-due-2", "risk-warn-only",
                                                "undated-old", "undated-new"]
    assert [t.state for t in found.tasks] == ["late", "late", "at_risk", "at_risk", "at_risk", "no_deadline",
                                              "no_deadline"]
    assert found.tasks[0].seconds_to_breach == -3 * 86400 and found.tasks[2].seconds_to_breach == 86400
    assert found.tasks[-1].seconds_to_breach is None
    assert found.total == 7  # the task on track is not on the board
    assert [t.task.id for t in engine.query(board, SUPERVISOR, limit=2).tasks] == ["late-3", "late-1"]
    assert engine.query(board, SUPERVISOR, limit=2).total == 7


def test_counts_per_lane_process_team_and_assignee_per_state(engine, add):
    add("a", due=NOW - DAY, assignee="omar")
    add("b", due=NOW - 2 * DAY, group="supervisor", level=1)
    add("c", due=NOW + DAY, warn=NOW - HOUR, assignee="omar")
    add("d", lane="reception")
    add("e", lane="reception", due=NOW + 9 * DAY)  # on track: not counted
    counts = engine.query(board, SUPERVISOR).counts
    assert counts["lane"] == {"committee": {"late": 2, "at_risk": 1, "no_deadline": 0},
                              "reception": {"late": 0, "at_risk": 0, "no_deadline": 1}}
    assert counts["process"] == {"review": {"late": 2, "at_risk": 1, "no_deadline": 1}}
    assert counts["group"] == {"committee": {"late": 1, "at_risk": 1, "no_deadline": 0},
                               "reception": {"late": 0, "at_risk": 0, "no_deadline": 1},
                               "supervisor": {"late": 1, "at_risk": 0, "no_deadline": 0}}
    # People by name, unclaimed last: never ranked by their numbers.
    assert list(counts["assignee"]) == ["omar", None]
    assert counts["assignee"]["omar"] == {"late": 1, "at_risk": 1, "no_deadline": 0}
    assert counts["assignee"][None] == {"late": 1, "at_risk": 0, "no_deadline": 1}


def test_only_supervisors_and_administrators_read_the_board(engine, add):
    add("a", due=NOW - DAY)
    assert engine.query(board, ADMIN).total == 1
    with pytest.raises(Forbidden):
        engine.query(board, RECEPTION)
    with pytest.raises(Forbidden):
        engine.query(board, Actor.user("omar", ["committee"], roles=["committee"]))


def test_the_forecast_counts_deadlines_within_1_3_and_5_working_days_per_lane_past_a_closed_day(engine, add):
    # Wednesday 2 December is closed: one working day from Tuesday 11:00 is Thursday 11:00 (Riyadh).
    engine.run(lambda e, s: set_day(s, date(2026, 12, 2), False, "General assembly", "admin1", e.clock.now()))
    engine.calendars.invalidate()
    riyadh = lambda day, hour: datetime(2026, 12, day, hour - 3, tzinfo=UTC)  # noqa: E731 - UTC+3
    add("closed-day", due=riyadh(2, 20))                     # within 1 (the closed day counts for nothing)
    add("thursday-morning", due=riyadh(3, 10))               # within 1: before Thursday 11:00
    add("thursday-noon", due=riyadh(3, 12))                  # within 3, not 1
    add("monday", due=riyadh(7, 10))                         # within 3: Thu, Sun, Mon
    add("wednesday-next", lane="reception", due=riyadh(9, 10))  # within 5: Tue, Wed
    add("thursday-next", due=riyadh(10, 10))                 # beyond 5
    add("late", due=NOW - HOUR)                              # already late: not a forecast
    found = engine.query(board, SUPERVISOR)
    assert found.horizons == {1: riyadh(3, 11), 3: riyadh(7, 11), 5: riyadh(9, 11)}
    assert found.forecast == {"committee": {1: 2, 3: 4, 5: 4}, "reception": {1: 0, 3: 0, 5: 1}}
    # Without the closure one working day ends on Wednesday: Thursday morning falls outside it.
    engine.run(lambda e, s: clear_day(s, date(2026, 12, 2)))
    engine.calendars.invalidate()
    assert engine.query(board, SUPERVISOR).forecast["committee"] == {1: 0, 3: 3, 5: 4}


def test_escalations_in_progress_with_their_level_group_and_waits_on_working_days(engine, add, case):
    riyadh = lambda month, day, hour: datetime(2026, month, day, hour - 3, tzinfo=UTC)  # noqa: E731
    # Opened Thursday 26 November 20:00: 4 h that Thursday, the weekend not counted, Sunday and Monday,
    # and 11 h of this Tuesday: 2 working days and 15 hours.
    add("twice", due=NOW - DAY, group="director", created=riyadh(11, 26, 20), level=2)
    add("once", due=NOW - HOUR, group="supervisor", created=riyadh(11, 30, 9), level=1)
    add("never", due=NOW - HOUR)

    def escalate(e, s, task_id, at, level, to):
        audit.record(s, at, SYSTEM, "escalated", case, task_id, "review", {"level": level, "to": to})
        audit.flush(s)

    engine.run(escalate, "twice", riyadh(11, 29, 9), 1, "supervisor")
    engine.run(escalate, "twice", riyadh(11, 30, 22), 2, "director")  # 2 h on Monday, 11 h on Tuesday
    engine.run(escalate, "once", riyadh(12, 1, 10), 1, "supervisor")
    found = engine.query(board, SUPERVISOR).escalations
    assert [(e.task.id, e.level, e.group) for e in found] == [("twice", 2, "director"), ("once", 1, "supervisor")]
    twice, once = found
    assert twice.waited_since_opened == (2 * 24 + 15) * 3600
    assert twice.escalated_at == riyadh(11, 30, 22) and twice.waited_since_escalated == 13 * 3600
    assert once.waited_since_opened == (15 + 11) * 3600 and once.waited_since_escalated == 3600


@pytest.fixture
def review(engine, deploy):
    """A real open task of the review diagram (its reception lane's first step), held by reception1."""
    for username, roles in (("reception1", ["reception"]), ("reception2", ["reception"]),
                            ("committee1", ["committee"])):
        engine.run(lambda e, s, u=username, r=roles: create_user(e, s, SYSTEM, u, "secret-pass", u, r))
    deploy("review")
    engine.run(start_instance, SYSTEM, "review", data={"request_no": 1})
    [task] = engine.query(lambda e, s: s.scalars(select(HumanTask)).all())
    assert task.lane == "reception"
    engine.run(assign_task, SUPERVISOR, task.id, "reception1")
    return task.id


def test_reassigning_needs_a_reason_and_someone_holding_the_lane_and_keeps_the_reason(engine, review):
    def holder():
        return engine.query(lambda e, s: s.get(HumanTask, review).assignee)

    def assigned():
        return engine.query(lambda e, s: [ev.summary for ev in s.scalars(
            select(AuditEvent).where(AuditEvent.action == "assigned").order_by(AuditEvent.id))])

    before = assigned()
    for reason in ("", "   "):
        with pytest.raises(InvalidInput) as refused:
            engine.run(assign_task, SUPERVISOR, review, "reception2", reason, lane_holders_only=True)
        assert refused.value.code == "required" and refused.value.params == {"field": "reason"}
    with pytest.raises(InvalidInput) as refused:
        engine.run(assign_task, SUPERVISOR, review, "reception2", "x" * 301, lane_holders_only=True)
    assert refused.value.code == "too_long"
    with pytest.raises(InvalidInput) as refused:
        engine.run(assign_task, SUPERVISOR, review, "committee1", "ضغط العمل", lane_holders_only=True)
    assert refused.value.code == "assignee_not_in_lane" and refused.value.params == {
        "assignee": "committee1", "lane": "reception"}
    with pytest.raises(Forbidden):
        engine.run(assign_task, RECEPTION, review, "reception2", "سبب", lane_holders_only=True)
    assert holder() == "reception1" and assigned() == before  # nothing changed
    engine.run(assign_task, SUPERVISOR, review, "reception2", "  في إجازة  ", lane_holders_only=True)
    assert holder() == "reception2"
    assert assigned()[-1] == {"assignee": "reception2", "previous": "reception1", "reason": "في إجازة"}
    # The inbox's assignment, without a reason, records none, as before.
    engine.run(assign_task, SUPERVISOR, review, "reception1")
    assert assigned()[-1] == {"assignee": "reception1", "previous": "reception2"}


def test_reassigning_a_closed_task_is_refused_and_changes_nothing(engine, review):
    engine.run(complete_task, Actor.user("reception1", ["reception"]), review, {"complete": True})
    count = engine.query(lambda e, s: len(s.scalars(select(AuditEvent).where(AuditEvent.action == "assigned")).all()))
    with pytest.raises(Conflict) as refused:
        engine.run(assign_task, SUPERVISOR, review, "reception2", "سبب", lane_holders_only=True)
    assert refused.value.code == "task_closed"
    assert engine.query(lambda e, s: len(s.scalars(
        select(AuditEvent).where(AuditEvent.action == "assigned")).all())) == count
