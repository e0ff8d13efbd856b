"""SLA on human tasks: deadlines on the working-day calendar, warnings, escalations."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from engine.actors import SYSTEM, Actor
from engine.bootstrap import build_engine
from engine.calendar import set_day
from engine.commands import complete_task, start_instance
from engine.errors import ConfigError, InvalidDefinition
from engine.models import AuditEvent, Job, OutboxMessage
from engine.queries import list_tasks, task_as_dict
from engine.settings import load_settings
from tests.support.jobs import fire_due_timers

ALI = Actor.user("ali", ["committee"])
SARA = Actor.user("sara", ["supervisor"], may_assign=True)
DUE = datetime(2026, 12, 15, 8, tzinfo=UTC)  # 10 working days after Tue 1 Dec 2026, 08:00 UTC
WARN = datetime(2026, 12, 13, 8, tzinfo=UTC)  # 8 working days
SECOND_LEVEL = datetime(2026, 12, 17, 8, tzinfo=UTC)  # 12 working days


def _jobs(engine):
    with engine.unit_of_work(readonly=True) as uow:
        return [(j.kind, j.due_at, j.payload) for j in uow.session.scalars(select(Job).order_by(Job.due_at, Job.kind))]


def _outbox(engine):
    with engine.unit_of_work(readonly=True) as uow:
        return [(m.kind, m.recipient) for m in uow.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))]


@pytest.fixture
def decision(engine, deploy):
    deploy("committee_sla")
    row = engine.run(start_instance, SYSTEM, "committee_sla", data={"request_no": 1})
    [task] = engine.query(list_tasks, SYSTEM)
    return row.id, task


def test_task_gets_its_deadline_and_warning_in_working_days(engine, decision):
    _, task = decision
    assert (task.due_at, task.warn_at) == (DUE, WARN)
    assert _jobs(engine) == [
        ("sla_warn", WARN, {}),
        ("sla_escalate_1", DUE, {"level": 1, "to": "supervisor"}),
        ("sla_escalate_2", SECOND_LEVEL, {"level": 2, "to": "director"}),
    ]


def test_a_society_closure_moves_the_deadline(engine, deploy):
    engine.run(lambda e, s: set_day(s, datetime(2026, 12, 9).date(), False, "General assembly", "admin1", e.clock.now()))
    engine.calendars.invalidate()
    deploy("committee_sla")
    engine.run(start_instance, SYSTEM, "committee_sla")
    [task] = engine.query(list_tasks, SYSTEM)
    assert task.due_at == datetime(2026, 12, 16, 8, tzinfo=UTC)


def test_sla_state_moves_from_on_track_to_at_risk_to_late(engine, clock, decision):
    _, task = decision

    def states():
        return {s: [t.id for t in engine.query(list_tasks, SYSTEM, sla=s)] for s in ("on_track", "at_risk", "late")}

    assert states() == {"on_track": [task.id], "at_risk": [], "late": []}
    clock.set(WARN)
    assert states() == {"on_track": [], "at_risk": [task.id], "late": []}
    assert task_as_dict(task, clock.now())["sla"] == "at_risk"
    clock.set(DUE)
    assert states() == {"on_track": [], "at_risk": [], "late": [task.id]}


def test_warning_then_escalations_are_jobs(engine, decision):
    instance_id, task = decision
    assert fire_due_timers(engine, WARN) == 0  # SLA jobs run; no BPMN timer fires
    assert _outbox(engine) == [("task_warning", "group:committee")]
    assert engine.query(list_tasks, SARA) == []  # not yet offered to supervisors

    fire_due_timers(engine, DUE)
    [offered] = engine.query(list_tasks, SARA)
    assert (offered.id, offered.candidate_group, offered.lane) == (task.id, "supervisor", "committee")
    assert [t.id for t in engine.query(list_tasks, ALI)] == [task.id]  # the lane still sees it
    fire_due_timers(engine, SECOND_LEVEL)
    assert [t.candidate_group for t in engine.query(list_tasks, SYSTEM)] == ["director"]
    assert _outbox(engine) == [("task_warning", "group:committee"), ("task_escalated", "group:supervisor"),
                               ("task_escalated", "group:director")]
    with engine.unit_of_work(readonly=True) as uow:
        events = uow.session.scalars(
            select(AuditEvent).where(AuditEvent.action.in_(("sla_warning", "escalated"))).order_by(AuditEvent.id)
        ).all()
    assert [(e.action, e.summary.get("to"), e.at) for e in events] == [
        ("sla_warning", None, WARN), ("escalated", "supervisor", DUE), ("escalated", "director", SECOND_LEVEL)]
    assert all(e.instance_id == instance_id for e in events)
    assert _jobs(engine) == []
    assert fire_due_timers(engine, SECOND_LEVEL) == 0 and len(_outbox(engine)) == 3  # idempotent


def test_warning_goes_to_the_assignee_when_claimed(engine, decision):
    from engine.commands import claim_task

    _, task = decision
    engine.run(claim_task, ALI, task.id)
    fire_due_timers(engine, WARN)
    assert _outbox(engine) == [("task_warning", "user:ali")]


def test_completing_the_task_closes_its_sla_jobs(engine, decision):
    _, task = decision
    engine.run(complete_task, ALI, task.id, {"accepted": True})
    assert _jobs(engine) == []
    fire_due_timers(engine, SECOND_LEVEL)
    assert _outbox(engine) == []


def test_sla_from_config_wins_over_the_diagram(database_url, clock, deploy_with):
    settings = load_settings(**{"sla": {"committee_sla": {"decide": {
        "due": '"PT4H"', "warn": '"PT3H"', "escalate": [{"after": '"PT5H"', "to": "supervisor"}]}}}})
    engine = build_engine(settings, database_url=database_url, clock=clock)
    try:
        deploy_with(engine, "committee_sla")
        engine.run(start_instance, SYSTEM, "committee_sla")
        [task] = engine.query(list_tasks, SYSTEM)
        assert (task.due_at, task.warn_at) == (datetime(2026, 12, 1, 12, tzinfo=UTC), datetime(2026, 12, 1, 11, tzinfo=UTC))
        assert [k for k, _, _ in _jobs(engine)] == ["sla_warn", "sla_escalate_1"]
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    "sla, message",
    [
        ({"p": {"t": {"due": "open('x')"}}}, "sla.p.t: due expression refused"),
        ({"p": {"t": {"due": "1", "escalate": [{"after": "1"}]}}}, r"escalate\[1\] needs 'after'"),
        ({"p": {"t": {"deadline": "1"}}}, "unknown keys"),
        ({"p": ["t"]}, "must map element ids"),
    ],
)
def test_bad_sla_configuration_is_refused_at_start(database_url, clock, sla, message):
    with pytest.raises(ConfigError, match=message):
        build_engine(load_settings(sla=sla), database_url=database_url, clock=clock)


def test_bad_sla_properties_are_refused_at_deploy(engine, deploy):
    with pytest.raises(InvalidDefinition) as caught:
        deploy("bad_sla")
    text = str(caught.value)
    assert "element 'review'" in text
    assert "SLA due expression refused" in text
    assert "must read 'EXPRESSION => group'" in text


def test_an_sla_that_fails_at_run_time_does_not_stop_the_case(database_url, clock, deploy_with):
    settings = load_settings(**{"sla": {"committee_sla": {"decide": {"due": "business_days(days_allowed)"}}}})
    engine = build_engine(settings, database_url=database_url, clock=clock)
    try:
        deploy_with(engine, "committee_sla")
        row = engine.run(start_instance, SYSTEM, "committee_sla")  # no days_allowed in the data
        [task] = engine.query(list_tasks, SYSTEM)
        assert row.status == "running" and task.due_at is None
        with engine.unit_of_work(readonly=True) as uow:
            [event] = uow.session.scalars(select(AuditEvent).where(AuditEvent.action == "sla_invalid")).all()
        assert "days_allowed" in event.summary["message"]
    finally:
        engine.dispose()


def test_no_job_outlives_its_case(engine, decision):
    from engine.commands import cancel_instance

    instance_id, _ = decision
    assert len(_jobs(engine)) == 3
    engine.run(cancel_instance, SYSTEM, instance_id=instance_id, reason="withdrawn")
    assert _jobs(engine) == []
