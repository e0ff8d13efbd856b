"""`tawasul demo` and `tawasul members import`."""

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from openpyxl import Workbook

from engine.actors import SYSTEM
from engine.definitions import deploy_definition
from engine.queries import list_tasks
from tests.conftest import PROJECT_BPMN_DIR
from workflows import identity
from workflows.accounts import check_password
from workflows.models import Member, User

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cli(run_cli):
    return run_cli


def _deploy_all(engine):
    for path in sorted(PROJECT_BPMN_DIR.glob("*.bpmn")):
        engine.run(deploy_definition, SYSTEM, path.read_bytes(), path.name)


def test_demo_loads_every_stage_and_refuses_a_second_time(engine, cli):
    from workflows.demo import load_demo

    _deploy_all(engine)
    result = load_demo(engine)
    assert result["members"] == 50 and result["requests"] == {"member_request": 26, "inquiry": 4,
                                                               "membership_registration": 5}
    users = engine.query(lambda e, s: {u.username: u for u in s.query(User)})
    assert set(users) == {"reception1", "researcher1", "committee1", "committee2", "delivery1", "supervisor1",
                          "owner1", "admin1", "member1"}
    assert check_password(users["committee1"], "demo-pass") and not check_password(users["committee1"], "x")
    assert users["member1"].member_id is not None and users["member1"].roles == []
    now = engine.clock.now()
    from engine.sla import sla_state

    tasks = engine.query(list_tasks, SYSTEM)
    stages = Counter(t.element_id for t in tasks)
    for element in ("intake", "check_data", "explain_procedures", "request_missing", "acknowledgement",
                    "committee_review", "complete_registration", "deliver_service", "log_inquiry", "answer_member",
                    "verify_application", "approve_membership", "receive_more_info"):
        assert stages[element] >= 1, element
    from workflows.read.pauses import paused_cases

    assert len(engine.query(paused_cases, SYSTEM)) == 2  # the committee asked two members for more
    from workflows.read.heatmap import heatmap

    # The history's tasks were taken before they were done: the heat map has working time to show.
    figures = engine.query(heatmap, SYSTEM, "member_request")["tasks"]
    assert all(t["working"]["count"] > 0 for t in figures if t["element_id"] in ("intake", "committee_review"))
    states = Counter(sla_state(t.due_at, t.warn_at, now) for t in tasks if t.element_id == "committee_review")
    assert states["late"] >= 1 and states["at_risk"] >= 1  # some near or past their deadline
    members = engine.query(lambda e, s: s.query(Member).all())
    assert all(identity.luhn_valid(m.national_id) for m in members)
    code, out, err = cli("demo")  # a second time: nothing changes, one line says so
    assert code == 0 and json.loads(out) == {"loaded": False, "state": "demo"}
    assert err.strip().startswith("tawasul: the demo data is already loaded on ") and err.count("\n") == 1
    assert "tawasul demo --reset" in err
    assert engine.query(lambda e, s: s.query(Member).count()) == 50


class _Terminal:
    """A stdin on a terminal that answers ``answer``."""

    def __init__(self, answer):
        self.answer = answer

    def isatty(self):
        return True

    def readline(self):
        return self.answer + "\n"


def _counts(engine):
    from engine.models import ProcessDefinition, ProcessInstance
    from workflows.models import ServiceRequest

    return engine.query(lambda e, s: {model.__name__: s.query(model).count()
                                      for model in (Member, User, ServiceRequest, ProcessInstance, ProcessDefinition)})


def test_demo_reset_asks_then_starts_over_keeping_the_diagrams(engine, cli, monkeypatch):
    from workflows.operations.members import register_member

    _deploy_all(engine)
    assert cli("demo")[0] == 0
    loaded = _counts(engine)
    # Played with: a request opened for a demo member is demo play, and goes with the reset.
    engine.run(lambda e, s: __import__("workflows.operations.cases", fromlist=["x"]).open_request(
        e, s, SYSTEM, 1, "inquiry", "phone", "play"))
    assert _counts(engine)["ServiceRequest"] == loaded["ServiceRequest"] + 1
    monkeypatch.setattr("sys.stdin", _Terminal("no"))
    code, _, err = cli("demo", "--reset")
    assert code == 2 and "Go on? [y/N]" in err and "nothing was deleted" in err
    assert _counts(engine)["ServiceRequest"] == loaded["ServiceRequest"] + 1
    monkeypatch.setattr("sys.stdin", _Terminal("yes"))
    code, out, err = cli("demo", "--reset")
    assert code == 0 and json.loads(out)["reset"] is True and "demo data loaded" in err
    assert _counts(engine) == loaded  # the play is gone, the diagrams are kept (not deployed twice)
    assert engine.query(lambda e, s: s.get(Member, 1)) is not None  # ids start again, as the README's examples expect
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO(""))  # no terminal: --yes is needed
    code, _, err = cli("demo", "--reset")
    assert code == 2 and "add --yes" in err
    code, out, _ = cli("demo", "--reset", "--yes")
    assert code == 0 and _counts(engine) == loaded
    assert cli("demo", "--yes")[0] == 2  # --yes alone means nothing
    del register_member


def test_demo_and_its_reset_refuse_a_database_with_real_data_and_say_why(engine, cli):
    from workflows.operations.accounts import create_user
    from workflows.operations.members import register_member

    _deploy_all(engine)
    assert cli("demo")[0] == 0
    loaded = _counts(engine)
    engine.run(create_user, SYSTEM, "rana", "secret-pass", "رنا", ["reception"])
    code, _, err = cli("demo", "--reset", "--yes")
    assert code == 4 and "holds data that is not the demo's" in err and "1 account(s) the demo did not create (rana)" in err
    assert _counts(engine) == {**loaded, "User": loaded["User"] + 1}  # nothing deleted
    engine.run(lambda e, s: s.query(User).filter_by(username="rana").delete())
    engine.run(register_member, SYSTEM, name_ar="سالم", national_id=GOOD_ID)
    code, _, err = cli("demo", "--reset", "--yes")
    assert code == 4 and f"1 member(s) not from the demo (national IDs {GOOD_ID})" in err
    code, _, err = cli("demo")
    assert code == 4 and "will not load demo data into it" in err
    # The refusal happens before anything is deleted: the reset operation itself refuses too.
    from engine.errors import Conflict
    from workflows.demo import reset_demo

    with pytest.raises(Conflict, match="not the demo's"):
        engine.run(reset_demo)


def test_a_demo_loaded_before_the_marker_existed_is_still_the_demo(engine, cli):
    from engine.models import AuditEvent

    _deploy_all(engine)
    assert cli("demo")[0] == 0
    engine.run(lambda e, s: s.query(AuditEvent).filter_by(action="demo_loaded").delete())
    code, out, err = cli("demo")
    assert code == 0 and json.loads(out)["loaded"] is False and "already loaded;" in err
    assert cli("demo", "--reset", "--yes")[0] == 0


def test_every_demo_account_lands_on_work_of_its_own(engine, cli):
    from tests.web.helpers import sign_in
    from web import auth, create_app

    _deploy_all(engine)
    assert cli("demo")[0] == 0
    assert cli("demo", "--reset", "--yes")[0] == 0  # after starting over too
    app = create_app({"TESTING": True, "SECRET_KEY": "demo"}, engine=engine)
    auth.throttle._failures.clear()
    homes = {}
    for username in ("reception1", "researcher1", "committee1", "committee2", "delivery1", "supervisor1",
                     "owner1", "admin1", "member1"):
        client = app.test_client()
        token = sign_in(client, "x-nobody", "wrong")
        landed = client.post("/login", data={"username": username, "password": "demo-pass", "csrf_token": token})
        homes[username] = landed.headers["Location"]
        page = client.get(homes[username]).get_data(as_text=True)
        if homes[username] == "/inbox":
            assert 'href="/tasks/' in page, f"{username} lands on an inbox with no task"
        elif homes[username] == "/modeler":  # the processes, and a draft of owner1's in progress
            assert 'data-process="member_request"' in page and 'data-draft="' in page
        elif homes[username] == "/supervision":  # the board, with the demo's late and at-risk reviews on it
            assert 'data-sla-state="late"' in page and 'data-sla-state="at_risk"' in page, username
            # A committee review is reassigned to either member of the committee, not to one person.
            assert '<option value="committee1"' in page and '<option value="committee2"' in page
        else:
            assert "بوابة الأعضاء" in page
    assert homes == {"reception1": "/inbox", "researcher1": "/inbox", "committee1": "/inbox", "committee2": "/inbox",
                     "delivery1": "/inbox",
                     "supervisor1": "/supervision", "owner1": "/modeler", "admin1": "/supervision",
                     "member1": "/member"}


def test_demo_through_the_cli_warns_about_the_password(engine, cli):
    _deploy_all(engine)
    code, out, err = cli("demo")
    assert code == 0 and json.loads(out)["password"] == "demo-pass"
    assert "never for a real deployment" in err


GOOD_ID = identity.with_check_digit("107654321")
OTHER_ID = identity.with_check_digit("207654321")
BAD_CHECK = GOOD_ID[:9] + str((int(GOOD_ID[9]) + 1) % 10)


def _csv(tmp_path, lines):
    path = tmp_path / "members.csv"
    path.write_text("\ufeff" + "\n".join(lines) + "\n", encoding="utf-8")  # Excel's UTF-8 with a BOM
    return path


def test_import_all_good_rows(engine, cli, tmp_path):
    path = _csv(tmp_path, [
        "رقم الهوية,الاسم,name_en,الجوال,email,رقم العضوية,تاريخ الانضمام",
        f"{GOOD_ID},نورة العتيبي,Noura,0551234567,noura@example.org,M-1,2025-01-01",
        f"{OTHER_ID.translate(str.maketrans('0123456789', '٠١٢٣٤٥٦٧٨٩'))},سارة,,٠٥٥٩٨٧٦٥٤٣,,,",
    ])
    code, out, err = cli("members", "import", str(path))
    assert code == 0, err
    assert json.loads(out) == {"rows": 2, "imported": 2, "rejected": []}
    members = engine.query(lambda e, s: {m.national_id: m for m in s.query(Member)})
    assert members[GOOD_ID].status == "active" and members[OTHER_ID].mobile == "+966559876543"


def test_a_bad_row_imports_nothing_and_every_bad_row_is_reported(engine, cli, tmp_path):
    path = _csv(tmp_path, [
        "national_id,name_ar,mobile",
        f"{GOOD_ID},نورة,0551234567",
        f"{BAD_CHECK},خطأ,0551234567",
        f"{GOOD_ID},مكرر,0551234567",
        ",بلا هوية,",
        f"{OTHER_ID},سارة,12",
    ])
    code, out, err = cli("members", "import", str(path))
    assert code == 2 and "4 of 5 rows are wrong, so nothing was imported" in err
    report = json.loads(out)
    assert [r["line"] for r in report["rejected"]] == [3, 4, 5, 6]
    reasons = {r["line"]: r["reason"] for r in report["rejected"]}
    assert "check digit is wrong" in reasons[3]
    assert "is also on line 2" in reasons[4]
    assert "national_id is required" in reasons[5]
    assert "mobile: '12'" in reasons[6]
    assert engine.query(lambda e, s: s.query(Member).count()) == 0  # all or nothing

    code, out, _ = cli("members", "import", str(path), "--skip-bad")
    assert code == 0 and json.loads(out)["imported"] == 1
    code, out, _ = cli("members", "import", str(path), "--skip-bad")  # again: already members
    assert "already a member" in json.loads(out)["rejected"][0]["reason"]
    # A NUL inside a name (PostgreSQL cannot store it) is a reason like any other.
    nul = _csv(tmp_path, ["national_id,name_ar,email", f"{OTHER_ID},سا\x00رة,a\x00b@example.org"])
    code, out, err = cli("members", "import", str(nul))
    reason = json.loads(out)["rejected"][0]["reason"]
    assert code == 2 and "name_ar: contains a NUL character" in reason and "email: contains a NUL" in reason


def test_import_an_excel_workbook(engine, cli, tmp_path):
    book = Workbook()
    sheet = book.active
    sheet.append(["national_id", "name_ar", "joined_on"])
    sheet.append([int(GOOD_ID), "نورة", __import__("datetime").date(2025, 5, 1)])
    path = tmp_path / "members.xlsx"
    book.save(path)
    code, out, err = cli("members", "import", str(path))
    assert code == 0, err
    assert json.loads(out)["imported"] == 1
    assert engine.query(lambda e, s: s.query(Member).one().joined_on.isoformat()) == "2025-05-01"


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("members.txt", "x", "give a .csv or .xlsx file"),
        ("members.csv", "name,phone\nx,y", "must name the columns"),
        ("members.xlsx", "not a workbook", "cannot read members.xlsx as an Excel workbook"),
    ],
)
def test_unreadable_files_are_explained(cli, tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    code, _, err = cli("members", "import", str(path))
    assert code == 2 and message in err and err.count("\n") == 1
    code, _, err = cli("members", "import", str(tmp_path / "none.csv"))
    assert code == 2 and "no such file" in err


def test_a_closed_pipe_is_not_a_traceback(tmp_path):
    env = dict(os.environ, TAWASUL_DATABASE_URL=f"sqlite:///{tmp_path / 'pipe.db'}")
    env.pop("TAWASUL_TEST_DATABASE_URL", None)
    subprocess.run([sys.executable, "-m", "web.cli", "init"], check=True, capture_output=True, env=env, cwd=ROOT)
    done = subprocess.run(f"{sys.executable} -m web.cli calendar holidays --year 2026 | head -c 10",
                          shell=True, capture_output=True, text=True, env=env, cwd=ROOT)
    assert "Traceback" not in done.stderr
