"""Moving running cases to another version of their process (issue 13, "Migration").

A case at every wait state of the three diagrams moves to a version with a task added and runs
to the end on it; a removed active task blocks; a renamed id moves with a mapping; timers keep
or are recomputed as chosen and fire once; a revert restores the snapshot; a concurrent command
gets a conflict, never a lost update.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from engine.actors import SYSTEM, Actor
from engine.commands import complete_task as engine_complete
from engine.commands import start_instance
from engine.definitions import deploy_definition
from engine.errors import Conflict, Forbidden, InvalidInput, NotFound
from engine.migration import MOVED_ON, NO_SNAPSHOT, REVERT_EXPIRED, MigrationBlocked
from engine.models import AuditEvent, HumanTask, Job, MigrationSnapshot, TaskRecord
from engine.queries import instance_detail, list_tasks
from tests.conftest import BPMN_DIR
from tests.support.desk import COMMITTEE, DELIVERY, PROJECT_BPMN_DIR, RECEPTION, RESEARCHER, Desk
from tests.support.jobs import fire_due_timers
from tests.support.race import race
from tests.support.versions import add_task_after, remove, rename, set_text
from workflows.operations.migration import migrate_instance, revert_migration, run_batch
from workflows.read.migration import dry_run, plan_cases

OWNER = Actor.user("owner1", [], roles=["process_owner"])


def _xml(name: str) -> bytes:
    path = PROJECT_BPMN_DIR / f"{name}.bpmn"
    return (path if path.exists() else BPMN_DIR / f"{name}.bpmn").read_bytes()


def _deploy(engine, xml: bytes, name: str) -> int:
    [deployment] = engine.run(deploy_definition, SYSTEM, xml, f"{name}.bpmn")
    assert deployment.created
    return deployment.version


def _version(engine, instance_id: int) -> int:
    return engine.query(instance_detail, instance_id)["definition"]["version"]


def _open(engine, instance_id: int) -> list[HumanTask]:
    return sorted(engine.query(list_tasks, SYSTEM, instance_id=instance_id), key=lambda t: t.element_id)


def _events(engine, instance_id: int, action: str) -> list[AuditEvent]:
    return engine.query(lambda e, s: list(s.scalars(select(AuditEvent).where(
        AuditEvent.instance_id == instance_id, AuditEvent.action == action).order_by(AuditEvent.id))))


@pytest.fixture
def desk(engine):
    return Desk(engine)


# -- every wait state of the three diagrams ---------------------------------------------------

_INTAKE = ("intake", RECEPTION, {"visit_summary": "سأل عن شروط الدعم", "inquiries_answered": True})
_MISSING = ("request_missing", RECEPTION, {"missing_items": "إثبات الدخل", "contact_channel": "phone"})
_ACK = ("acknowledgement", RECEPTION, {"acknowledged": True, "ack_channel": "in_person"})
_MEMBERS = ["أحمد", "سارة", "خالد"]
#: Paths through each diagram: (element, actor, data, verify the checklist first); together they
#: stop at every user task of the three diagrams.
PATHS = {
    "member_request/missing_and_more_info": ("member_request", "financial_support", [
        (*_INTAKE, False),
        ("check_data", RECEPTION, {"complete": True, "needs_referral": False}, False),
        (*_MISSING, False),
        ("check_data", RECEPTION, {"complete": True, "needs_referral": False}, True),
        (*_ACK, False),
        ("committee_review", COMMITTEE, {"outcome": "more_info", "reason": "كشف حساب", "committee_members": _MEMBERS},
         False),
        ("receive_more_info", RECEPTION, {"member_answer": "أحضر الكشف", "contact_channel": "in_person"}, False),
        ("committee_review", COMMITTEE, {"outcome": "accepted", "reason": "مستوفٍ", "committee_members": _MEMBERS},
         False),
        ("complete_registration", DELIVERY, {"registration_note": "سُجّل"}, False),
        ("deliver_service", DELIVERY, {"delivered_on": "2026-12-03", "delivery_note": "صُرف الدعم"}, False),
    ]),
    "member_request/referral": ("member_request", "in_kind_support", [
        ("intake", RECEPTION, {"visit_summary": "غير واضح", "inquiries_answered": False}, False),
        ("check_data", RECEPTION, {"complete": False, "needs_referral": True}, False),
        ("explain_procedures", RESEARCHER, {"explanation": "شرحت شروط الدعم العيني", "procedures_clear": True}, False),
        ("check_data", RECEPTION, {"complete": True, "needs_referral": False}, True),
        (*_ACK, False),
        ("committee_review", COMMITTEE, {"outcome": "accepted", "reason": "مستوفٍ", "committee_members": _MEMBERS},
         False),
        ("complete_registration", DELIVERY, {"registration_note": "سُجّل"}, False),
        ("deliver_service", DELIVERY, {"delivered_on": "2026-12-03", "delivery_note": "صُرف"}, False),
    ]),
    "inquiry/answered": ("inquiry", "inquiry", [
        ("log_inquiry", RECEPTION, {"question": "ما شروط العضوية؟", "can_answer": True}, False),
        ("answer_member", RECEPTION, {"answer": "تجدها في موقع الجمعية"}, False),
    ]),
    "inquiry/referred": ("inquiry", "inquiry", [
        ("log_inquiry", RECEPTION, {"question": "ما شروط العضوية؟", "can_answer": False}, False),
        ("explain_procedures", RESEARCHER, {"answer": "شرحت الإجراءات"}, False),
    ]),
    "membership_registration": ("membership_registration", "membership_registration", [
        ("verify_application", RECEPTION, {"id_verified": True}, False),
        (*_MISSING, False),
        ("verify_application", RECEPTION, {"id_verified": True}, True),
        ("approve_membership", COMMITTEE, {"approved": True, "reason": "مستوفٍ"}, False),
    ]),
}
#: Where each diagram's version 2 gets its new task (before its end), and who works that lane.
ADDED_AFTER = {"member_request": ("plan_survey", DELIVERY), "inquiry": ("notify_answered", RECEPTION),
               "membership_registration": ("notify_welcome", RECEPTION)}
WAIT_STATES = [(path, stop) for path, (_, _, steps) in PATHS.items() for stop in range(len(steps))]


def _drive(desk, request, steps):
    for element, actor, data, verify in steps:
        if verify:
            desk.verify_all(request)
        desk.complete(actor, request, element, data)


@pytest.mark.parametrize(("path", "stop"), WAIT_STATES, ids=[f"{p}@{s}" for p, s in WAIT_STATES])
def test_a_case_at_every_wait_state_moves_to_a_version_with_a_task_added_and_runs_to_the_end(desk, engine,
                                                                                             path, stop):
    key, service, steps = PATHS[path]
    request = desk.open(service)
    _drive(desk, request, steps[:stop])
    at = steps[stop][0]
    assert [t.element_id for t in _open(engine, request.instance_id)] == [at]
    after, worker = ADDED_AFTER[key]
    assert _deploy(engine, add_task_after(_xml(key), after, "final_check", "مراجعة ختامية"), key) == 2

    done = run_batch(engine, OWNER, key, 1, 2)
    assert done == {"moved": [request.instance_id], "blocked": []}
    assert _version(engine, request.instance_id) == 2
    assert [t.element_id for t in _open(engine, request.instance_id)] == [at]
    _drive(desk, request, steps[stop:])
    assert desk.open_elements(request) == ["final_check"]
    desk.complete(worker, request, "final_check", {})
    assert desk.detail(request)["status"] == "completed"


@pytest.mark.parametrize(("path", "stop"), WAIT_STATES, ids=[f"{p}@{s}" for p, s in WAIT_STATES])
def test_a_case_at_every_wait_state_moves_with_its_task_renamed_and_mapped_and_runs_to_the_end(desk, engine,
                                                                                                path, stop):
    key, service, steps = PATHS[path]
    request = desk.open(service)
    _drive(desk, request, steps[:stop])
    at = steps[stop][0]
    [before] = _open(engine, request.instance_id)
    _deploy(engine, rename(_xml(key), at, f"{at}_v2"), key)
    assert run_batch(engine, OWNER, key, 1, 2)["moved"] == []  # the renamed id needs the owner's word
    assert run_batch(engine, OWNER, key, 1, 2, mapping={at: f"{at}_v2"})["moved"] == [request.instance_id]
    [after] = _open(engine, request.instance_id)
    assert (after.id, after.element_id, after.due_at, after.lane) == (before.id, f"{at}_v2", before.due_at,
                                                                       before.lane)
    renamed = [(f"{e}_v2" if e == at else e, *rest) for e, *rest in steps[stop:]]
    _drive(desk, request, renamed)
    assert desk.detail(request)["status"] == "completed"


def test_a_task_added_after_the_current_one_opens_when_it_completes_and_the_open_task_keeps_its_claim(desk,
                                                                                                     engine):
    request = desk.open("financial_support")
    [intake] = _open(engine, request.instance_id)
    from engine.commands import claim_task

    engine.run(claim_task, RECEPTION, intake.id)
    _deploy(engine, add_task_after(_xml("member_request"), "intake", "welcome_call", "اتصال ترحيب"), "member_request")
    assert engine.query(plan_cases, OWNER, "member_request", 1, 2) == {"movable": [request.instance_id],
                                                                        "blocked": []}
    moved = engine.run(migrate_instance, OWNER, request.instance_id, "member_request", 1, 2)
    assert (moved["from"], moved["to"]) == (1, 2)
    [after] = _open(engine, request.instance_id)
    assert (after.id, after.assignee, after.due_at, after.warn_at, after.created_at, after.first_claimed_by) == (
        intake.id, "reception1", intake.due_at, intake.warn_at, intake.created_at, "reception1")
    [event] = _events(engine, request.instance_id, "migrated")
    assert (event.actor, event.summary["from"], event.summary["to"]) == ("owner1", 1, 2)
    desk.complete(RECEPTION, request, "intake", {"visit_summary": "تم", "inquiries_answered": True})
    assert desk.open_elements(request) == ["welcome_call"]
    assert engine.query(lambda e, s: s.scalar(select(func.count()).select_from(MigrationSnapshot))) == 1


def test_a_removed_active_task_blocks_the_case_which_keeps_working_on_its_version(desk, engine):
    at_ack = desk.open("financial_support")
    _drive(desk, at_ack, PATHS["member_request/missing_and_more_info"][2][:1])
    desk.verify_all(at_ack)
    desk.complete(RECEPTION, at_ack, "check_data", {"complete": True, "needs_referral": False})
    assert desk.open_elements(at_ack) == ["acknowledgement"]
    at_intake = desk.open("financial_support")
    _deploy(engine, remove(_xml("member_request"), "acknowledgement"), "member_request")

    planned = engine.query(plan_cases, OWNER, "member_request", 1, 2)
    assert planned["movable"] == [at_intake.instance_id]
    [blocked] = planned["blocked"]
    assert blocked["instance_id"] == at_ack.instance_id
    assert [p["code"] for p in blocked["problems"]] == ["migration_element_removed"]
    assert blocked["problems"][0]["params"] == {"element": "acknowledgement", "state": "active"}
    assert "acknowledgement" in blocked["reason"]
    with pytest.raises(MigrationBlocked) as refused:
        engine.run(migrate_instance, OWNER, at_ack.instance_id, "member_request", 1, 2)
    assert refused.value.code == "migration_element_removed"

    done = run_batch(engine, OWNER, "member_request", 1, 2)
    assert done["moved"] == [at_intake.instance_id]
    assert [b["instance_id"] for b in done["blocked"]] == [at_ack.instance_id]
    assert _version(engine, at_ack.instance_id) == 1
    desk.complete(RECEPTION, at_ack, "acknowledgement", _ACK[2])
    assert desk.open_elements(at_ack) == ["committee_review"]
    assert _version(engine, at_intake.instance_id) == 2
    desk.complete(RECEPTION, at_intake, "intake", _INTAKE[2])
    assert desk.open_elements(at_intake) == ["check_data"]


def test_a_renamed_task_needs_a_mapping_and_moves_with_it(desk, engine):
    request = desk.open("financial_support")
    _drive(desk, request, PATHS["member_request/referral"][2][:7])
    [before] = _open(engine, request.instance_id)
    assert before.element_id == "deliver_service"
    _deploy(engine, rename(_xml("member_request"), "deliver_service", "provide_service"), "member_request")

    view = engine.query(dry_run, OWNER, "member_request", 1, 2)
    [group] = view["groups"]
    assert (group["active"], group["status"], group["count"]) == (["deliver_service"], "needs_mapping", 1)
    assert group["needs_mapping"] == {"deliver_service": "provide_service"}
    assert [r["code"] for r in group["reasons"]] == ["migration_element_renamed"]
    assert run_batch(engine, OWNER, "member_request", 1, 2)["moved"] == []

    mapping = {"deliver_service": "provide_service"}
    assert engine.query(dry_run, OWNER, "member_request", 1, 2, mapping)["groups"][0]["status"] == "can_move"
    assert run_batch(engine, OWNER, "member_request", 1, 2, mapping=mapping)["moved"] == [request.instance_id]
    [after] = _open(engine, request.instance_id)
    assert (after.id, after.element_id, after.due_at) == (before.id, "provide_service", before.due_at)
    jobs = engine.query(lambda e, s: list(s.scalars(select(Job.element_id).where(Job.task_id == before.id))))
    assert jobs and set(jobs) == {"provide_service"}
    desk.complete(DELIVERY, request, "provide_service", {"delivered_on": "2026-12-03", "delivery_note": "صُرف"})
    assert desk.detail(request)["status"] == "completed"


def test_an_escalated_task_keeps_its_group_and_level_when_its_element_is_renamed(desk, engine, clock):
    from datetime import UTC, datetime

    request = desk.open("financial_support")
    _drive(desk, request, PATHS["member_request/referral"][2][:1])
    desk.verify_all(request)
    desk.complete(RECEPTION, request, "check_data", {"complete": True, "needs_referral": False})
    desk.complete(RECEPTION, request, "acknowledgement", _ACK[2])
    clock.set(datetime(2026, 12, 15, 8, tzinfo=UTC))  # ten working days: late, escalated to the supervisor
    fire_due_timers(engine)
    [late] = _open(engine, request.instance_id)
    assert (late.candidate_group, late.escalation_level) == ("supervisor", 1)
    _deploy(engine, rename(_xml("member_request"), "committee_review", "committee_study"), "member_request")
    run_batch(engine, OWNER, "member_request", 1, 2, mapping={"committee_review": "committee_study"})
    [after] = _open(engine, request.instance_id)
    assert (after.element_id, after.candidate_group, after.escalation_level, after.due_at) == (
        "committee_study", "supervisor", 1, late.due_at)


def test_a_mapping_to_an_element_of_another_type_is_refused(desk, engine):
    request = desk.open("financial_support")
    _deploy(engine, rename(_xml("member_request"), "intake", "reception_visit"), "member_request")
    planned = engine.query(plan_cases, OWNER, "member_request", 1, 2, {"intake": "set_checking"})
    [blocked] = planned["blocked"]
    codes = [p["code"] for p in blocked["problems"]]
    assert "migration_bad_mapping" in codes
    assert blocked["problems"][codes.index("migration_bad_mapping")]["params"]["why"] == "type"
    assert engine.query(plan_cases, OWNER, "member_request", 1, 2,
                        {"intake": "reception_visit"})["movable"] == [request.instance_id]


def test_only_process_owners_and_administrators_migrate(desk, engine):
    request = desk.open("financial_support")
    _deploy(engine, add_task_after(_xml("member_request"), "intake", "welcome_call"), "member_request")
    for call in (lambda: engine.query(dry_run, RECEPTION, "member_request", 1, 2),
                 lambda: run_batch(engine, RECEPTION, "member_request", 1, 2),
                 lambda: engine.run(migrate_instance, RECEPTION, request.instance_id, "member_request", 1, 2),
                 lambda: engine.run(revert_migration, RECEPTION, request.instance_id)):
        with pytest.raises(Forbidden):
            call()
    admin = Actor.user("admin1", [], roles=["administrator"])
    assert run_batch(engine, admin, "member_request", 1, 2)["moved"] == [request.instance_id]


def test_a_move_to_the_same_version_or_a_missing_one_is_refused(desk, engine):
    with pytest.raises(InvalidInput):
        engine.query(plan_cases, OWNER, "member_request", 1, 1)
    with pytest.raises(NotFound):
        engine.query(plan_cases, OWNER, "member_request", 1, 5)
    with pytest.raises(InvalidInput):
        run_batch(engine, OWNER, "member_request", 1, 2, timers="later")


# -- timers -------------------------------------------------------------------------------------


@pytest.fixture
def waiting(engine, deploy):
    """A case waiting at ``deadline``'s timer (ten working days), and version 2 (fifteen, a task after)."""
    deploy("deadline")
    row = engine.run(start_instance, SYSTEM, "deadline")
    xml = set_text(_xml("deadline"), "ten_working_days", "timeDate", "business_days(15)")
    xml = add_task_after(xml, "announce", "archive", "Archive")
    _deploy(engine, xml, "deadline")
    return row.id


def _timer_jobs(engine, instance_id):
    return engine.query(lambda e, s: list(s.scalars(select(Job).where(Job.instance_id == instance_id,
                                                                          Job.kind == "timer"))))


def test_a_waiting_timer_needs_a_choice(engine, waiting):
    planned = engine.query(plan_cases, OWNER, "deadline", 1, 2)
    assert planned["movable"] == []
    assert [p["code"] for p in planned["blocked"][0]["problems"]] == ["migration_timer_choice"]
    assert run_batch(engine, OWNER, "deadline", 1, 2)["moved"] == []
    assert engine.query(plan_cases, OWNER, "deadline", 1, 2, None, "keep")["movable"] == [waiting]
    groups = engine.query(dry_run, OWNER, "deadline", 1, 2)["groups"]
    assert [(g["active"], g["status"], g["timers"]) for g in groups] == [
        (["ten_working_days"], "needs_mapping", ["ten_working_days"])]


def test_a_kept_timer_fires_once_at_its_old_due_time_on_the_new_version(engine, clock, waiting):
    [job] = _timer_jobs(engine, waiting)
    due = job.due_at
    assert run_batch(engine, OWNER, "deadline", 1, 2, timers="keep")["moved"] == [waiting]
    [kept] = _timer_jobs(engine, waiting)
    assert (kept.id, kept.due_at) == (job.id, due)
    assert fire_due_timers(engine, due - timedelta(minutes=1)) == 0
    assert fire_due_timers(engine, due) == 1
    assert fire_due_timers(engine, due + timedelta(days=30)) == 0
    assert len(_events(engine, waiting, "timer_fired")) == 1
    [task] = _open(engine, waiting)
    assert task.element_id == "announce"
    engine.run(engine_complete, SYSTEM, task.id, {})
    assert [t.element_id for t in _open(engine, waiting)] == ["archive"]


def test_a_recomputed_timer_counts_the_new_working_days_from_when_it_began_to_wait(engine, clock, waiting):
    [job] = _timer_jobs(engine, waiting)
    old_due = job.due_at
    new_due = engine.calendars.get().deadline(job.created_at, 15)
    assert new_due > old_due
    assert run_batch(engine, OWNER, "deadline", 1, 2, timers="recompute")["moved"] == [waiting]
    [moved] = _timer_jobs(engine, waiting)
    assert moved.due_at == new_due
    assert engine.query(instance_detail, waiting)["waiting_timers"][0]["due_at"] == new_due.isoformat()
    assert fire_due_timers(engine, old_due) == 0
    assert _open(engine, waiting) == []
    assert fire_due_timers(engine, new_due) == 1
    assert fire_due_timers(engine, new_due + timedelta(days=30)) == 0
    assert len(_events(engine, waiting, "timer_fired")) == 1
    assert [t.element_id for t in _open(engine, waiting)] == ["announce"]


def test_timer_choices_can_be_given_per_timer_element(engine, waiting):
    assert engine.query(plan_cases, OWNER, "deadline", 1, 2, None, {"other": "keep"})["movable"] == []
    done = run_batch(engine, OWNER, "deadline", 1, 2, timers={"ten_working_days": "recompute"})
    assert done["moved"] == [waiting]


# -- revert -------------------------------------------------------------------------------------


def test_revert_restores_the_snapshot_version_tasks_and_jobs(desk, engine):
    request = desk.open("financial_support")
    [before] = _open(engine, request.instance_id)
    jobs_before = engine.query(lambda e, s: sorted((j.kind, j.task_id, j.element_id, j.due_at) for j in s.scalars(
        select(Job).where(Job.instance_id == request.instance_id))))
    _deploy(engine, rename(add_task_after(_xml("member_request"), "intake", "welcome_call"), "intake", "reception"),
            "member_request")
    run_batch(engine, OWNER, "member_request", 1, 2, mapping={"intake": "reception"})
    assert [t.element_id for t in _open(engine, request.instance_id)] == ["reception"]

    reverted = engine.run(revert_migration, OWNER, request.instance_id)
    assert reverted["version"] == 1
    assert _version(engine, request.instance_id) == 1
    [after] = _open(engine, request.instance_id)
    assert (after.id, after.element_id, after.due_at, after.created_at) == (before.id, "intake", before.due_at,
                                                                              before.created_at)
    jobs_after = engine.query(lambda e, s: sorted((j.kind, j.task_id, j.element_id, j.due_at) for j in s.scalars(
        select(Job).where(Job.instance_id == request.instance_id))))
    assert jobs_after == jobs_before
    assert len(_events(engine, request.instance_id, "migration_reverted")) == 1
    desk.complete(RECEPTION, request, "intake", _INTAKE[2])
    assert desk.open_elements(request) == ["check_data"]  # version 1 again: no welcome call
    with pytest.raises(NotFound) as none_left:
        engine.run(revert_migration, OWNER, request.instance_id)
    assert none_left.value.code == NO_SNAPSHOT


def test_two_moves_are_reverted_one_after_the_other(desk, engine):
    request = desk.open("financial_support")
    v2 = add_task_after(_xml("member_request"), "intake", "welcome_call")
    _deploy(engine, v2, "member_request")
    _deploy(engine, add_task_after(v2, "welcome_call", "second_call"), "member_request")
    assert run_batch(engine, OWNER, "member_request", 1, 2)["moved"] == [request.instance_id]
    assert run_batch(engine, OWNER, "member_request", 2, 3)["moved"] == [request.instance_id]
    assert engine.run(revert_migration, OWNER, request.instance_id)["version"] == 2
    assert engine.run(revert_migration, OWNER, request.instance_id)["version"] == 1  # nothing happened between
    assert _version(engine, request.instance_id) == 1
    desk.complete(RECEPTION, request, "intake", _INTAKE[2])
    assert desk.open_elements(request) == ["check_data"]


def test_revert_is_refused_after_the_case_moved_on_or_the_window_closed(desk, engine, clock):
    moved_on, late = desk.open("financial_support"), desk.open("financial_support")
    _deploy(engine, add_task_after(_xml("member_request"), "intake", "welcome_call"), "member_request")
    assert run_batch(engine, OWNER, "member_request", 1, 2)["moved"] == [moved_on.instance_id, late.instance_id]
    desk.complete(RECEPTION, moved_on, "intake", _INTAKE[2])
    with pytest.raises(Conflict) as refused:
        engine.run(revert_migration, OWNER, moved_on.instance_id)
    assert refused.value.code == MOVED_ON
    clock.set(clock.now() + timedelta(days=8))
    with pytest.raises(Conflict) as expired:
        engine.run(revert_migration, OWNER, late.instance_id)
    assert (expired.value.code, expired.value.params["days"]) == (REVERT_EXPIRED, 7)
    assert _version(engine, late.instance_id) == 2


# -- a concurrent command --------------------------------------------------------------------------


@pytest.mark.parametrize("mover_first", [True, False], ids=["move_loads_first", "completion_loads_first"])
def test_a_command_during_a_move_gets_a_conflict_never_a_lost_update(desk, engine, monkeypatch, mover_first):
    request = desk.open("financial_support")
    [intake] = _open(engine, request.instance_id)
    _deploy(engine, add_task_after(_xml("member_request"), "intake", "welcome_call"), "member_request")

    def move():
        return engine.run(migrate_instance, OWNER, request.instance_id, "member_request", 1, 2)

    def complete():
        return engine.run(engine_complete, RECEPTION, intake.id, _INTAKE[2])

    outcomes = race(monkeypatch, move, complete) if mover_first else race(monkeypatch, complete, move)
    if mover_first and engine.db.dialect.name == "postgresql":
        # The completion saved while the move held the old revision: the move is refused.
        assert isinstance(outcomes["first"], Conflict) and outcomes["first"].code == "case_changed", outcomes
    failed = [name for name, outcome in outcomes.items() if isinstance(outcome, Exception)]
    assert all(isinstance(outcomes[name], Conflict) for name in failed), outcomes
    moved = not isinstance(outcomes["first" if mover_first else "second"], Exception)
    completed = not isinstance(outcomes["second" if mover_first else "first"], Exception)
    assert moved or completed
    history = engine.query(lambda e, s: [r.outcome for r in s.scalars(select(TaskRecord).where(
        TaskRecord.task_id == intake.id))])
    # What each winner did is there: the completion in the history, the move in the version.
    assert history == (["completed"] if completed else [])
    assert _version(engine, request.instance_id) == (2 if moved else 1)
    # Both went through only one after the other (SQLite queues writers; on PostgreSQL the
    # completion that lost the revision race runs again on what the move saved): a completion
    # on the new version opens the task added after it; a move after the completion finds the
    # case past it.
    if moved and completed:
        [migrated] = _events(engine, request.instance_id, "migrated")
        [done] = _events(engine, request.instance_id, "completed")
        expected = ["welcome_call"] if migrated.id < done.id else ["check_data"]
    else:
        expected = ["intake"] if moved else ["check_data"]
    assert desk.open_elements(request) == expected
    assert len(_events(engine, request.instance_id, "migrated")) == int(moved)


# -- the command line -----------------------------------------------------------------------------


def test_cli_plan_run_instance_and_revert(desk, engine, run_cli):
    at_ack = desk.open("financial_support")
    desk.verify_all(at_ack)
    desk.complete(RECEPTION, at_ack, "intake", _INTAKE[2])
    desk.complete(RECEPTION, at_ack, "check_data", {"complete": True, "needs_referral": False})
    at_intake = desk.open("financial_support")
    _deploy(engine, remove(add_task_after(_xml("member_request"), "intake", "welcome_call"), "acknowledgement"),
            "member_request")

    code, out, err = run_cli("migrate", "plan", "member_request", "--from", "1", "--to", "2")
    assert (code, err) == (0, "")
    planned = json.loads(out)
    assert planned["movable"] == [at_intake.instance_id]
    assert [(b["instance_id"], "acknowledgement" in b["reason"]) for b in planned["blocked"]] == [
        (at_ack.instance_id, True)]

    code, out, err = run_cli("migrate", "run", "member_request", "--from", "1", "--to", "2",
                             "--instance", str(at_intake.instance_id), "--timers", "keep")
    assert (code, err) == (0, "")
    assert json.loads(out) == {"moved": [at_intake.instance_id], "blocked": []}
    code, out, _ = run_cli("instance", str(at_intake.instance_id))
    assert json.loads(out)["definition"] == {"key": "member_request", "version": 2}

    code, out, err = run_cli("migrate", "run", "member_request", "--from", "1", "--to", "2",
                             "--instance", str(at_ack.instance_id))
    assert json.loads(out)["moved"] == [] and json.loads(out)["blocked"][0]["instance_id"] == at_ack.instance_id

    code, out, err = run_cli("migrate", "revert", str(at_intake.instance_id))
    assert (code, err) == (0, "")
    assert json.loads(out)["version"] == 1
    code, out, err = run_cli("migrate", "revert", str(at_intake.instance_id))
    assert code != 0 and out == "" and len(err.strip().splitlines()) == 1

    code, out, err = run_cli("migrate", "plan", "nothing_here", "--from", "1", "--to", "2")
    assert code != 0 and out == "" and len(err.strip().splitlines()) == 1
    code, out, err = run_cli("migrate", "run", "member_request", "--from", "1", "--to", "2", "--timers", "soon")
    assert code == 2 and len(err.strip().splitlines()) == 1
    code, out, err = run_cli("--as", "rana", "--roles", "reception", "migrate", "plan", "member_request",
                             "--from", "1", "--to", "2")
    assert code != 0 and "process_owner" in err


def _without_reminder(xml: bytes) -> bytes:
    from lxml import etree

    root = etree.fromstring(xml)
    for ident in ("remind", "send_reminder", "end_reminder", "f3", "f4"):
        [node] = root.xpath(f"//*[@id='{ident}']")
        node.getparent().remove(node)
    for ref in root.xpath("//*[local-name()='flowNodeRef']"):
        if ref.text in ("remind", "send_reminder", "end_reminder"):
            ref.getparent().remove(ref)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def test_a_boundary_timer_of_the_active_task_is_kept_and_fires_once_per_cycle(engine, deploy):
    deploy("reminders")
    row = engine.run(start_instance, SYSTEM, "reminders")
    [job] = _timer_jobs(engine, row.id)
    _deploy(engine, add_task_after(_xml("reminders"), "provide_documents", "file_documents"), "reminders")
    assert run_batch(engine, OWNER, "reminders", 1, 2, timers="keep")["moved"] == [row.id]
    [kept] = _timer_jobs(engine, row.id)
    assert (kept.element_id, kept.due_at) == ("remind", job.due_at)
    assert fire_due_timers(engine, job.due_at) == 1
    assert len(_events(engine, row.id, "timer_fired")) == 1
    [task] = _open(engine, row.id)
    engine.run(engine_complete, SYSTEM, task.id, {})
    assert [t.element_id for t in _open(engine, row.id)] == ["file_documents"]
    assert _timer_jobs(engine, row.id) == []  # the reminder's scope ended with the task


def test_a_boundary_event_added_to_the_active_task_blocks_the_case(engine):
    _deploy(engine, _without_reminder(_xml("reminders")), "reminders")
    engine.run(start_instance, SYSTEM, "reminders")
    _deploy(engine, _xml("reminders"), "reminders")
    [blocked] = engine.query(plan_cases, OWNER, "reminders", 1, 2, None, "keep")["blocked"]
    assert [p["code"] for p in blocked["problems"]] == ["migration_boundary_added"]
    assert blocked["problems"][0]["params"] == {"element": "provide_documents"}


@pytest.mark.parametrize("done_first", [[], ["check_a"], ["check_b"]], ids=["both_open", "a_done", "b_done"])
def test_a_case_in_parallel_branches_moves_and_its_join_still_waits_for_both(engine, deploy, done_first):
    deploy("parallel_review")
    row = engine.run(start_instance, SYSTEM, "parallel_review")
    for element in done_first:
        [task] = [t for t in _open(engine, row.id) if t.element_id == element]
        engine.run(engine_complete, SYSTEM, task.id, {})
    before = _open(engine, row.id)
    _deploy(engine, add_task_after(_xml("parallel_review"), "review", "archive", "Archive"), "parallel_review")
    assert run_batch(engine, OWNER, "parallel_review", 1, 2)["moved"] == [row.id]
    assert [t.id for t in _open(engine, row.id)] == [t.id for t in before]
    for task in _open(engine, row.id):
        assert [t.element_id for t in _open(engine, row.id) if t.element_id == "review"] == []
        engine.run(engine_complete, SYSTEM, task.id, {})
    for element in ("review", "archive"):
        [task] = _open(engine, row.id)
        assert task.element_id == element
        engine.run(engine_complete, SYSTEM, task.id, {})
    assert engine.query(instance_detail, row.id)["status"] == "completed"


@pytest.mark.parametrize(("target", "why"), [("review", "place"), ("check_b", "occupied")])
def test_a_mapping_that_would_strand_a_branch_is_refused_and_the_case_stays(engine, deploy, target, why):
    # check_a and check_b run in parallel before a join; check_a is renamed check_x in version 2.
    deploy("parallel_review")
    row = engine.run(start_instance, SYSTEM, "parallel_review")
    _deploy(engine, rename(_xml("parallel_review"), "check_a", "check_x"), "parallel_review")
    planned = engine.query(dry_run, OWNER, "parallel_review", 1, 2, {"check_a": target})
    assert [group["status"] for group in planned["groups"]] == ["blocked"]
    result = run_batch(engine, OWNER, "parallel_review", 1, 2, mapping={"check_a": target})
    assert result["moved"] == [] and [b["instance_id"] for b in result["blocked"]] == [row.id]
    assert result["blocked"][0]["problems"][0]["params"]["why"] == why
    assert _version(engine, row.id) == 1
    # Mapped to the element in its place, it moves and runs past the join to the end.
    moved = run_batch(engine, OWNER, "parallel_review", 1, 2, mapping={"check_a": "check_x"})
    assert moved["moved"] == [row.id]
    for _ in range(5):
        tasks = _open(engine, row.id)
        if not tasks:
            break
        engine.run(engine_complete, SYSTEM, tasks[0].id, {})
    assert engine.query(instance_detail, row.id)["status"] == "completed"
