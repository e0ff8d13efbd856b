"""What the adversarial review found: every failure is a clear error or an instance in error,
never a traceback, a stuck case or a false record."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from engine.actors import SYSTEM
from engine.commands import cancel_instance, complete_task, retry_instance, start_instance
from engine.errors import InvalidDefinition, InvalidInput
from engine.models import AuditEvent
from engine.queries import instance_detail, list_tasks
from tests.conftest import T0


@pytest.fixture
def entered(engine, deploy):
    deploy("timer_from_data")

    def start_and_enter(data):
        row = engine.run(start_instance, SYSTEM, "timer_from_data", data={"make_set": False})
        [task] = engine.query(list_tasks, SYSTEM, instance_id=row.id)
        return engine.run(complete_task, SYSTEM, task.id, data)

    return start_and_enter


@pytest.mark.parametrize(
    "wait, message",
    [
        ("P1X", "timer value 'P1X' is not an ISO-8601 duration"),
        (3, "timer value 3 is not ISO-8601 text"),
        ("2026-12-05", "is not an ISO-8601 duration"),
    ],
)
def test_a_bad_timer_value_from_data_puts_the_instance_in_error(engine, entered, wait, message):
    row = entered({"wait": wait})
    assert row.status == "error"  # the user's completion is kept
    detail = engine.query(instance_detail, row.id)
    assert detail["error"]["element_id"] == "wait_as_entered"
    assert message in detail["error"]["message"]
    assert detail["data"]["wait"] == wait
    fixed = engine.run(retry_instance, SYSTEM, instance_id=row.id, data={"wait": "PT1H"})
    assert fixed.status == "running"
    assert engine.query(instance_detail, row.id)["waiting_timers"][0]["element_id"] == "wait_as_entered"


def test_a_script_result_that_cannot_be_saved_puts_the_instance_in_error(engine, deploy):
    deploy("timer_from_data")
    row = engine.run(start_instance, SYSTEM, "timer_from_data", data={"make_set": True})
    [task] = engine.query(list_tasks, SYSTEM, instance_id=row.id)
    engine.run(complete_task, SYSTEM, task.id, {"wait": "PT1H"})
    from tests.support.jobs import fire_due_timers

    assert fire_due_timers(engine, T0 + timedelta(hours=1)) == 1
    row = engine.query(instance_detail, row.id)
    assert row["status"] == "error"
    error = row["error"]
    assert error["element_id"] == "keep"
    assert "variable 'kept' holds a set, which cannot be saved" in error["message"]


@pytest.mark.parametrize(
    "data, message",
    [
        ({"str": "x"}, "'str' is the name of something scripts use"),
        ({"business_days": 0}, "'business_days' is the name of something scripts use"),
        ({"math": 1}, "'math' is the name of something scripts use"),
        ({"ratio": float("nan")}, "holds the number nan"),
        ({"deep": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}, "nested more than"),
        ({"big": 10**5000}, "more than 4300 digits"),
        ({"keys": {"1": {2: "x"}}}, "key 2 that is not text"),
    ],
)
def test_data_that_would_break_scripts_or_storage_is_refused(engine, deploy, data, message):
    deploy("review")
    with pytest.raises(InvalidInput, match=message):
        engine.run(start_instance, SYSTEM, "review", data={"request_no": 1, **data})


def test_cancelling_does_not_record_an_overdue_timer_as_fired(engine, clock, deploy):
    deploy("waiting")
    row = engine.run(start_instance, SYSTEM, "waiting", data={"wait_hours": 1})
    clock.set(T0 + timedelta(hours=3))  # overdue, but no worker has run
    engine.run(cancel_instance, SYSTEM, instance_id=row.id)
    with engine.unit_of_work(readonly=True) as uow:
        actions = uow.session.scalars(select(AuditEvent.action).where(AuditEvent.instance_id == row.id)).all()
    assert "timer_fired" not in actions


def test_a_start_timer_whose_expression_fails_is_refused_at_deploy(engine, deploy):
    with pytest.raises(InvalidDefinition, match="timer start event 'every_day': ZeroDivisionError"):
        deploy("bad_start_timer")


def test_a_duration_where_a_date_belongs_is_refused_at_deploy(engine, deploy):
    with pytest.raises(InvalidDefinition, match="element 'pause': timer value 'P1D' is not an ISO-8601 date-time"):
        deploy("bad_timedate")


def test_a_busy_sqlite_database_is_a_conflict_not_a_traceback(database_url, clock, settings, deploy_with):
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite locking")
    import sqlite3

    from engine.bootstrap import build_engine
    from engine.errors import Conflict

    engine = build_engine(dict(settings, sqlite_busy_timeout_ms=200), database_url=database_url, clock=clock)
    deploy_with(engine, "review")
    blocker = sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(Conflict, match="database is busy"):
            engine.run(start_instance, SYSTEM, "review", data={"request_no": 1})
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
        engine.dispose()


def test_work_undone_after_an_earlier_commit_in_the_same_unit_of_work_runs_its_undo(engine):
    """A unit of work that committed once and then did more without committing undoes that more."""
    from engine.db import after_commit, after_rollback

    happened = []
    with engine.unit_of_work() as uow:
        after_rollback(uow.session, lambda: happened.append("first undone"))
        after_commit(uow.session, lambda: happened.append("first kept"))
        uow.commit()
        after_rollback(uow.session, lambda: happened.append("second undone"))
    assert happened == ["first kept", "second undone"]
