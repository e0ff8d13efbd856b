"""The `tawasul` command: JSON on stdout; bad input gives one line on stderr and a non-zero exit."""

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.conftest import BPMN_DIR, T0

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cli(run_cli):
    """The CLI on the test database; returns (exit code, JSON or None, stderr)."""

    def run(*argv):
        code, out, err = run_cli(*argv)
        return code, (json.loads(out) if out.strip() else None), err

    return run


def test_whole_flow_through_the_cli(cli, engine, clock):
    from engine.actors import SYSTEM
    from workflows.operations.accounts import create_user

    engine.run(create_user, SYSTEM, "omar", "secret-pass", "عمر", ["reception"])
    code, out, err = cli("deploy", str(BPMN_DIR / "review.bpmn"), str(BPMN_DIR / "waiting.bpmn"))
    assert code == 0, err
    assert [(d["key"], d["version"], d["created"]) for d in out] == [("review", 1, True), ("waiting", 1, True)]
    assert set(out[0]) == {"key", "version", "sha256", "created"}
    assert cli("deploy", str(BPMN_DIR / "review.bpmn"))[1][0]["created"] is False

    code, out, _ = cli("definitions")
    assert [(d["key"], d["version"]) for d in out] == [("review", 1), ("waiting", 1)]

    code, out, _ = cli("start", "review", "--data", '{"request_no": 9}', "--business-key", "REQ-9")
    assert code == 0 and out == {"instance_id": 1, "status": "running"}
    code, tasks, _ = cli("tasks")
    assert [set(t) for t in tasks] == [{"id", "instance_id", "element_id", "name", "lane", "assignee", "due_at",
                                        "candidate_group", "warn_at", "form_key", "sla"}]
    task_id = tasks[0]["id"]
    assert cli("tasks", "--lane", "committee")[1] == []
    assert cli("tasks", "--instance", "1")[1] == tasks
    assert cli("--as", "ali", "--lanes", "committee", "tasks")[1] == []
    # A supervisor oversees every lane's open work, as on the pages: by the flag, or by the role.
    assert cli("--as", "sara", "--lanes", "supervisor", "--supervisor", "tasks")[1] == tasks
    assert cli("--as", "sara", "--roles", "supervisor", "tasks")[1] == tasks
    assert cli("--as", "sara", "--roles", "reception", "tasks")[1] == []

    code, claimed, _ = cli("--as", "rana", "--lanes", "reception", "claim", task_id)
    assert code == 0 and claimed["assignee"] == "rana"
    assert cli("tasks", "--assignee", "rana")[1][0]["id"] == task_id
    assert cli("--as", "rana", "--lanes", "reception", "unclaim", task_id)[1]["assignee"] is None
    assert cli("assign", task_id, "nobody") == (2, None, "tawasul: no user named 'nobody'\n")
    assert cli("assign", task_id, "omar")[1]["assignee"] == "omar"
    code, out, _ = cli("--as", "omar", "--lanes", "reception", "complete", task_id, "--data",
                       '{"complete": true, "needs_referral": false}')
    assert code == 0 and out == {"instance_id": 1, "status": "running"}

    code, detail, _ = cli("instance", "1")
    assert detail["status"] == "running"
    assert detail["definition"] == {"key": "review", "version": 1}
    assert detail["data"]["reference"] == "REQ-9"
    assert [t["element_id"] for t in detail["open_tasks"]] == ["decide"]
    assert detail["waiting_timers"] == [{"element_id": "decision_due", "due_at": "2026-12-15T08:00:00+00:00"}]

    clock.set(datetime(2026, 12, 15, 8, tzinfo=UTC))  # two weeks on: --now may be any time up to the clock's
    assert cli("jobs", "run-due", "--now", "2026-12-15T07:59:59Z")[1]["fired"] == 0
    assert cli("jobs", "run-due", "--now", "2026-12-15T08:00:00Z")[1] == {"fired": 1, "ran": 1, "failed": 0,
                                                                         "incidents": 0}
    assert cli("jobs", "run-due", "--now", "2026-12-15T08:00:00Z")[1]["fired"] == 0
    assert [t["element_id"] for t in cli("instance", "1")[1]["open_tasks"]] == ["escalated"]

    code, out, _ = cli("--as", "sara", "--lanes", "supervisor", "--supervisor", "cancel", "1", "--reason", "test")
    assert out == {"instance_id": 1, "status": "cancelled"}


def test_retry_through_the_cli(cli):
    cli("deploy", str(BPMN_DIR / "failing.bpmn"))
    cli("start", "failing", "--data", '{"total": 4}')
    [enter] = [t for t in cli("tasks")[1] if t["element_id"] == "enter"]
    assert cli("complete", enter["id"], "--data", '{"count": 0, "route": "a"}')[1]["status"] == "error"
    code, out, err = cli("retry", "1", "--data", '{"count": 4}')
    assert code == 0, err
    assert out == {"instance_id": 1, "status": "running"}


@pytest.mark.parametrize(
    "argv, code, message",
    [
        (["start", "review", "--data", "{not json"], 2, "--data: not valid JSON"),
        (["start", "review", "--data", "[1]"], 2, "must be a JSON object"),
        (["start", "review", "--version", "two"], 2, "--version: must be a positive whole number"),
        (["start", "nope"], 3, "no process definition with key 'nope'"),
        (["instance", "42"], 3, "no process instance 42"),
        (["instance", "x"], 2, "must be a positive whole number"),
        (["complete", "no-such-task"], 3, "no open task no-such-task"),
        (["jobs", "run-due", "--now", "soon"], 2, "not an ISO-8601 date-time: 'soon'"),
        (["deploy", "missing.bpmn"], 2, "cannot read missing.bpmn"),
        (["deploy", str(BPMN_DIR / "bad_import.bpmn")], 2, "element 'sneaky': script refused"),
        (["deploy", str(BPMN_DIR / "malformed.bpmn")], 2, "line 5: malformed XML"),
        (["deploy", str(BPMN_DIR)], 2, "is a folder"),
        (["frobnicate"], 2, "invalid choice: 'frobnicate'"),
        ([], 2, "required: COMMAND"),
        (["--lanes", "x", "tasks"], 2, "only apply with --as"),
        (["--as", "rana", "assign", "t", "omar"], 5, "rana may not assign"),
        (["--as", "rana", "--roles", "reception,wizard", "tasks"], 2, "roles: unknown ['wizard']; choose from"),
        (["start", "member_request", "--data", '{"member_id": 99999999999, "service_type": "financial_support", '
          '"channel": "phone"}'], 2, "member_id 99999999999 is not a member's number"),
    ],
)
def test_bad_input_gives_one_line_and_an_exit_code(cli, argv, code, message):
    cli("deploy", str(BPMN_DIR / "review.bpmn"))
    got_code, out, err = cli(*argv)
    assert got_code == code
    assert out is None
    assert message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_a_bad_file_among_good_ones_deploys_nothing(cli):
    code, _, err = cli("deploy", str(BPMN_DIR / "review.bpmn"), str(BPMN_DIR / "bad_syntax.bpmn"))
    assert code == 2 and "element 'typo'" in err
    assert cli("definitions")[1] == []


def test_conflict_has_its_own_exit_code(cli):
    cli("deploy", str(BPMN_DIR / "review.bpmn"))
    cli("start", "review", "--data", '{"request_no": 1}')
    [task] = cli("tasks")[1]
    cli("--as", "rana", "--lanes", "reception", "claim", task["id"])
    code, _, err = cli("--as", "omar", "--lanes", "reception", "claim", task["id"])
    assert code == 4 and "already claimed by rana" in err


def test_console_script_runs_init_and_reports_an_uninitialised_database(tmp_path):
    """The installed entry point, in a real process: no traceback, ever."""
    env = dict(os.environ, TAWASUL_DATABASE_URL=f"sqlite:///{tmp_path / 'cli.db'}")
    env.pop("TAWASUL_TEST_DATABASE_URL", None)
    command = [sys.executable, "-m", "web.cli"]
    not_ready = subprocess.run([*command, "tasks"], capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
    assert not_ready.returncode == 6
    assert "run `tawasul init` first" in not_ready.stderr and "Traceback" not in not_ready.stderr
    init = subprocess.run([*command, "init"], capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
    assert init.returncode == 0, init.stderr
    assert json.loads(init.stdout)["schema_revision"]
    again = subprocess.run([*command, "init"], capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
    assert again.returncode == 0  # upgrading an up-to-date schema is a no-op
    assert subprocess.run([*command, "tasks"], capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=60).stdout.strip() == "[]"


def test_frozen_clock_start_is_used(cli):
    cli("deploy", str(BPMN_DIR / "review.bpmn"))
    cli("start", "review", "--data", '{"request_no": 1}')
    assert cli("instance", "1")[1]["started_at"] == T0.isoformat()


def test_serve_answers_healthz_lists_definitions_and_fires_timers(tmp_path):
    """`tawasul serve` in a real process: /healthz, the definitions, and its embedded worker."""
    import socket
    import time
    import urllib.request

    env = dict(os.environ, TAWASUL_DATABASE_URL=f"sqlite:///{tmp_path / 'serve.db'}")
    env.pop("TAWASUL_TEST_DATABASE_URL", None)
    command = [sys.executable, "-m", "web.cli"]
    subprocess.run([*command, "init"], check=True, capture_output=True, env=env, cwd=ROOT, timeout=60)
    subprocess.run([*command, "deploy", str(BPMN_DIR / "review.bpmn"), str(BPMN_DIR / "waiting.bpmn")],
                   check=True, capture_output=True, env=env, cwd=ROOT, timeout=60)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([*command, "serve", "--port", str(port)], env=env, cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                    assert json.loads(response.read()) == {"status": "ok"}
                    break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.1)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/definitions?format=json", timeout=5) as response:
            assert [d["key"] for d in json.loads(response.read())] == ["review", "waiting"]
        # The embedded worker fires a timer written by another process (on its 2-second poll).
        started = subprocess.run([*command, "start", "waiting", "--data", '{"wait_hours": 0.0003}'],
                                 check=True, capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
        instance_id = json.loads(started.stdout)["instance_id"]
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            tasks = subprocess.run([*command, "tasks", "--instance", str(instance_id)], capture_output=True,
                                   text=True, env=env, cwd=ROOT, timeout=60)
            if json.loads(tasks.stdout):
                break
            time.sleep(0.3)
        assert [t["element_id"] for t in json.loads(tasks.stdout)] == ["follow_up"]
    finally:
        server.terminate()
        server.communicate(timeout=10)


def test_calendar_commands(cli):
    assert cli("calendar", "add", "--from", "2026-09-17", "--business-days", "10")[1] == {"due": "2026-10-04"}
    assert cli("calendar", "add", "--from", "٢٠٢٦-٠٩-١٧", "--business-days", "١٠")[1] == {"due": "2026-10-04"}
    code, holidays, _ = cli("calendar", "holidays", "--year", "2026")
    assert code == 0
    assert {"date": "2026-09-23", "name": "اليوم الوطني", "kind": "public_holiday", "is_working": False} in holidays
    code, out, _ = cli("calendar", "close", "2026-09-20", "--reason", "Annual general assembly")
    assert out == {"date": "2026-09-20", "is_working": False, "reason": "Annual general assembly"}
    assert cli("calendar", "add", "--from", "2026-09-17", "--business-days", "10")[1] == {"due": "2026-10-05"}
    cli("calendar", "open", "2026-09-23", "--reason", "National Day moved")
    assert cli("calendar", "add", "--from", "2026-09-17", "--business-days", "10")[1] == {"due": "2026-10-04"}
    kinds = {d["date"]: d["kind"] for d in cli("calendar", "holidays", "--year", "2026")[1]}
    assert kinds["2026-09-20"] == "closure" and kinds["2026-09-23"] == "opened"
    assert cli("calendar", "clear", "2026-09-20")[1] == {"date": "2026-09-20", "removed": True}
    assert cli("calendar", "clear", "2026-09-20")[1] == {"date": "2026-09-20", "removed": False}


@pytest.mark.parametrize(
    "argv, message",
    [
        (["calendar", "add", "--from", "17/09/2026", "--business-days", "3"], "not a date: '17/09/2026'"),
        (["calendar", "add", "--from", "2026-09-17", "--business-days", "three"], "must be a whole number"),
        (["calendar", "add", "--from", "2026-09-17"], "--business-days"),
        (["calendar", "holidays", "--year", "zero"], "positive whole number"),
        (["calendar", "close", "2026-09-20", "--reason", "  "], "give a reason"),
        (["calendar", "close", "2026-13-01", "--reason", "x"], "not a date"),
        (["incidents", "retry", "99"], "no job 99"),
    ],
)
def test_calendar_and_incident_bad_input(cli, argv, message):
    code, out, err = cli(*argv)
    assert code in (2, 3) and out is None
    assert message in err and err.count("\n") == 1


def test_jobs_and_incidents_listing(cli, clock):
    cli("deploy", str(BPMN_DIR / "waiting.bpmn"))
    cli("start", "waiting", "--data", '{"wait_hours": 2}')
    [job] = cli("jobs", "list")[1]
    assert (job["kind"], job["element_id"], job["status"], job["due_at"]) == (
        "timer", "pause", "pending", "2026-12-01T10:00:00+00:00")
    assert cli("incidents")[1] == []
    clock.set(datetime(2026, 12, 1, 10, tzinfo=UTC))
    assert cli("jobs", "run-due", "--now", "2026-12-01T10:00:00Z")[1]["fired"] == 1
    assert cli("jobs", "list")[1] == []


def test_tasks_filter_by_sla(cli):
    cli("deploy", str(BPMN_DIR / "committee_sla.bpmn"))
    cli("start", "committee_sla")
    [task] = cli("tasks", "--sla", "on_track")[1]
    assert (task["due_at"], task["warn_at"], task["sla"]) == (
        "2026-12-15T08:00:00+00:00", "2026-12-13T08:00:00+00:00", "on_track")
    assert cli("tasks", "--sla", "late")[1] == []
    assert cli("tasks", "--sla", "no_deadline")[1] == []  # the task has one
    cli("deploy", str(BPMN_DIR / "review.bpmn"))
    cli("start", "review", "--data", '{"request_no": 1}')
    [open_ended] = cli("tasks", "--sla", "no_deadline")[1]
    assert (open_ended["element_id"], open_ended["due_at"]) == ("check", None)
    code, _, err = cli("tasks", "--sla", "overdue")
    assert code == 2 and "invalid choice" in err


def test_a_worker_refuses_a_database_at_another_schema_revision(settings, clock, tmp_path, capsys):
    from web.cli import main
    from workflows.bootstrap import build

    url = f"sqlite:///{tmp_path / 'empty.db'}"
    code = main(["worker"], engine_factory=lambda: build(settings, database_url=url, clock=clock))
    err = capsys.readouterr().err
    assert code != 0 and "schema revision none (empty)" in err and "tawasul init" in err
    assert "Traceback" not in err


def test_starting_a_member_request_from_the_cli_opens_a_request_or_says_how(cli, engine):
    from tests.support.desk import Desk
    from workflows.models import ServiceRequest

    desk = Desk(engine)
    code, out, err = cli("start", "member_request", "--data", '{"member_id": 1}')
    assert (code, out) == (2, None)
    assert err.startswith("tawasul: process 'member_request' runs member requests, so starting it opens one: "
                          "service_type, channel missing; give data like")
    code, out, err = cli("start", "member_request", "--data", '{"member_id": 1, "service_type": "inquiry", '
                         '"channel": "phone", "request_id": 5}', "--business-key", "X")
    assert code == 2 and ("service_type 'inquiry' is not run by 'member_request' (it runs financial_support, "
                          "in_kind_support); request_id cannot be given (the request sets the case's data); a "
                          "request's business key is its reference, so leave business_key out") in err
    code, out, err = cli("start", "member_request", "--data",
                         f'{{"member_id": {desk.member.id}, "service_type": "financial_support", "channel": "phone"}}')
    assert code == 0, err
    assert out == {"instance_id": 1, "status": "running", "request_id": 1, "reference": "REQ-2026-000001"}
    code, out, _ = cli("start", "inquiry", "--data", '{"member_id": 999, "service_type": "inquiry", "channel": "phone"}')
    assert code == 3 and out is None  # no such member
    request = engine.query(lambda e, s: s.get(ServiceRequest, 1))
    assert (request.member_id, request.instance_id, request.channel) == (desk.member.id, 1, "phone")
    code, tasks, _ = cli("tasks", "--instance", "1")
    assert [t["element_id"] for t in tasks] == ["intake"]


def _late_review(cli, engine, with_staff=False):
    """A committee review on time at T0 (due 2026-12-15, escalated to the supervisors then); with
    staff who have e-mail addresses, so a warning or an escalation would reach them."""
    from engine.actors import SYSTEM
    from workflows.operations.accounts import create_user

    for username, roles in (("ali", ["committee"]), ("sara", ["supervisor"])) if with_staff else ():
        engine.run(create_user, SYSTEM, username, "secret-pass", username, roles, email=f"{username}@example.org")
    cli("deploy", str(BPMN_DIR / "committee_sla.bpmn"))
    cli("start", "committee_sla")
    [task] = cli("tasks")[1]
    return task


def test_run_due_refuses_a_now_later_than_the_clock_and_sends_nothing(cli, engine, tmp_path):
    from engine.models import OutboxMessage

    task = _late_review(cli, engine, with_staff=True)
    code, out, err = cli("jobs", "run-due", "--now", "2026-12-15T08:00:00Z")
    assert code == 2 and out is None and err.count("\n") == 1
    assert "--now 2026-12-15T08:00:00+00:00 is later than the clock (2026-12-01T08:00:00+00:00)" in err
    assert "messages that are not true yet" in err and "Add --simulate" in err
    assert cli("tasks", "--sla", "on_track")[1][0]["id"] == task["id"]  # nothing fired
    assert engine.query(lambda e, s: s.query(OutboxMessage).count()) == 0
    assert cli("jobs", "run-due", "--now", "2026-12-01T07:00:00Z")[0] == 0  # the past, or now, is fine
    assert cli("jobs", "run-due")[1] == {"fired": 0, "ran": 0, "failed": 0, "incidents": 0}


def test_a_simulated_run_moves_the_case_and_logs_its_messages_without_sending_them(cli, engine, settings, tmp_path,
                                                                                     caplog):
    from engine.models import OutboxMessage
    from workflows.notifications import dispatch_outbox

    task = _late_review(cli, engine)
    code, out, err = cli("jobs", "run-due", "--now", "2026-12-15T08:00:00Z", "--simulate")
    assert code == 0 and out["simulated"] is True and out["at"] == "2026-12-15T08:00:00+00:00"
    assert out["ran"] == 2  # the warning and the escalation
    kinds = {m["kind"] for m in out["messages"]}
    assert kinds == {"task_warning", "task_escalated"}
    assert "tawasul: simulated, not sent: task_escalated to group:supervisor by email: " in err
    assert any("simulated, not sent" in r.getMessage() for r in caplog.records if r.name == "tawasul.simulation")
    # The case moved on as if it were then (escalated to the supervisors)...
    [moved] = cli("tasks", "--instance", str(task["instance_id"]))[1]
    assert moved["candidate_group"] == "supervisor"
    # ...and its messages are kept as simulated: no sender takes them, ever; no channel got them.
    statuses = engine.query(lambda e, s: sorted({m.status for m in s.query(OutboxMessage)}))
    assert statuses == ["simulated"]
    assert dispatch_outbox(engine) == 0 and cli("jobs", "run-due")[0] == 0
    assert engine.query(lambda e, s: sorted({m.status for m in s.query(OutboxMessage)})) == ["simulated"]
    email_log = Path(settings["notifications"]["email"]["path"])
    assert not email_log.exists()  # no channel was written to at all


def test_a_simulation_refuses_a_database_with_real_data(cli, engine):
    from engine.actors import SYSTEM
    from workflows import identity
    from workflows.operations.members import register_member

    _late_review(cli, engine, with_staff=True)
    engine.run(register_member, SYSTEM, name_ar="نورة", national_id=identity.with_check_digit("107654321"))
    code, _, err = cli("jobs", "run-due", "--now", "2026-12-15T08:00:00Z", "--simulate")
    assert code == 4 and "this database holds real data" in err and "2 account(s) the demo did not create (ali, sara)" in err
    assert "1 member(s) not from the demo" in err
    assert cli("tasks", "--sla", "on_track")[1] != []  # nothing ran
