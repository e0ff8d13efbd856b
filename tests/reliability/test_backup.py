"""Backup and restore through the ``tawasul`` command, on the database the run uses (SQLite or
PostgreSQL): a restored database holds exactly what was backed up, its cases go on and its timers
fire; a restore refuses what it must, and a failed one leaves the database and the documents as
they were."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from engine.actors import SYSTEM
from engine.commands import complete_task, start_instance
from engine.definitions import deploy_definition
from engine.queries import instance_detail, list_tasks
from engine.schema import ENGINE, head_revision, upgrade_on
from tests.conftest import POSTGRES_URL, T0
from tests.reliability.diagrams import END, START, chain, diagram, timer
from tests.support.databases import postgres_database
from web.cli import main
from workflows.bootstrap import build
from workflows.documents import store_upload
from workflows.schema import DOMAIN, require_current_schema

#: A check, then a review with an interrupting deadline two days on; the deadline escalates.
CASE = diagram("backed_up", START
               + '<bpmn:userTask id="check" name="Check" />\n<bpmn:userTask id="review" name="Review" />\n'
               + '<bpmn:boundaryEvent id="overdue" attachedToRef="review" cancelActivity="true">'
               + timer("timeDuration", '"P2D"') + "</bpmn:boundaryEvent>\n"
               + '<bpmn:userTask id="escalated" name="Escalated" />\n<bpmn:endEvent id="escalation_end" />\n' + END,
               [*chain("start", "check", "review", "end"), *chain("overdue", "escalated", "escalation_end")])
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >> endobj\n"
KIND = "postgresql" if POSTGRES_URL else "sqlite"


@pytest.fixture
def settings(settings, tmp_path):
    """The suite's settings, with the documents folder in the test's own folder."""
    return dict(settings, documents=dict(settings.get("documents") or {}, dir=str(tmp_path / "uploads")))


@contextmanager
def fresh_database(tmp_path: Path, name: str) -> Iterator[str]:
    """The URL of a database that does not exist yet (SQLite) or is empty (PostgreSQL, dropped after)."""
    if not POSTGRES_URL:
        yield f"sqlite:///{tmp_path / name}.db"
        return
    with postgres_database(POSTGRES_URL) as url:
        yield url


def tawasul(capsys, settings, url, clock, *argv):
    """Run the command on ``url``; (exit code, JSON printed or None, stderr)."""
    code = main(list(argv), engine_factory=lambda: build(settings, database_url=url, clock=clock))
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else None), err


def counts(case_engine) -> dict[str, int]:
    """Rows in every table of the database."""
    with case_engine.db.connect() as connection:
        names = sorted(inspect(connection).get_table_names())
        return {name: connection.execute(text(f'SELECT COUNT(*) FROM "{name}"')).scalar_one() for name in names}


def documents(settings) -> dict[str, bytes]:
    folder = Path(settings["documents"]["dir"])
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def open_task(case_engine, instance_id, element_id):
    [task] = [t for t in case_engine.query(list_tasks, SYSTEM, instance_id=instance_id) if t.element_id == element_id]
    return task


@pytest.fixture
def backed_up(engine, settings, run_cli, tmp_path):
    """Four cases backed up: 1 completed, 2 and 3 in review (deadline T0 + 2 days), 4 at the check;
    two documents. Then more changes after the backup. Returns (backup file, what was backed up)."""
    engine.run(deploy_definition, SYSTEM, CASE, "backed_up.bpmn")
    cases = [engine.run(start_instance, SYSTEM, "backed_up", data={"n": n}).id for n in range(1, 5)]
    for case in cases[:3]:
        engine.run(complete_task, SYSTEM, open_task(engine, case, "check").id, {"checked": True})
    engine.run(complete_task, SYSTEM, open_task(engine, cases[0], "review").id, {"accepted": True})
    store_upload(engine, cases[1], "id_copy", "id.pdf", io.BytesIO(PDF + b"two"))
    store_upload(engine, cases[2], "id_copy", "id.pdf", io.BytesIO(PDF + b"three" * 1000))
    at_backup = {"counts": counts(engine), "documents": documents(settings), "cases": cases}

    backup = tmp_path / "tawasul-backup.tar"
    code, printed, err = run_cli("backup", str(backup))
    assert (code, err) == (0, "")
    out = json.loads(printed)
    assert (out["database"], out["documents"], out["bytes"]) == (KIND, 2, backup.stat().st_size)
    assert backup.stat().st_mode & 0o777 == 0o600  # it holds everything, password hashes too

    # After the backup: case 2 decided, a fifth case, a document added and one lost.
    engine.run(complete_task, SYSTEM, open_task(engine, cases[1], "review").id, {"accepted": True})
    engine.run(start_instance, SYSTEM, "backed_up", data={"n": 5})
    store_upload(engine, cases[3], "id_copy", "id.pdf", io.BytesIO(PDF + b"four"))
    first = Path(settings["documents"]["dir"]) / sorted(at_backup["documents"])[0]
    first.unlink()
    assert counts(engine) != at_backup["counts"]
    assert documents(settings) != at_backup["documents"]
    return backup, at_backup


def test_a_restored_database_holds_the_backup_and_its_cases_and_timers_go_on(
        backed_up, settings, clock, capsys, tmp_path):
    backup, at_backup = backed_up
    assert at_backup["counts"]["process_instances"] == 4
    assert at_backup["counts"]["human_tasks"] > 0 and at_backup["counts"]["task_history"] > 0
    assert at_backup["counts"]["audit_events"] > 0 and at_backup["counts"]["jobs"] > 0
    restored_settings = dict(settings, documents=dict(settings["documents"], dir=str(tmp_path / "restored-uploads")))
    case_1, case_2, case_3, case_4 = at_backup["cases"]
    with fresh_database(tmp_path, "restored") as target:
        code, out, err = tawasul(capsys, restored_settings, target, clock, "restore", str(backup))
        assert (code, err) == (0, "")
        assert out["schema_revision"] == {"engine": head_revision(ENGINE), "domain": head_revision(DOMAIN)}
        assert out["documents"] == 2
        restored = build(restored_settings, database_url=target, clock=clock)
        try:
            assert counts(restored) == at_backup["counts"]
            assert documents(restored_settings) == at_backup["documents"]
            require_current_schema(restored.db)  # what the worker checks before it starts

            # Case 2 was in review at the backup (decided only after): its review can be completed.
            restored.run(complete_task, SYSTEM, open_task(restored, case_2, "review").id, {"accepted": True})
            assert restored.query(instance_detail, case_2)["status"] == "completed"
            assert [t.element_id for t in restored.query(list_tasks, SYSTEM, instance_id=case_4)] == ["check"]

            # Case 3's deadline fires when the clock reaches it, through the worker's run-due path.
            clock.set(T0 + timedelta(days=2) - timedelta(seconds=1))
            assert tawasul(capsys, restored_settings, target, clock, "jobs", "run-due")[1]["fired"] == 0
            clock.set(T0 + timedelta(days=2))
            code, ran, err = tawasul(capsys, restored_settings, target, clock, "jobs", "run-due")
            assert (code, ran["fired"], ran["failed"], err) == (0, 1, 0, "")
            assert [t.element_id for t in restored.query(list_tasks, SYSTEM, instance_id=case_3)] == ["escalated"]
            assert restored.query(instance_detail, case_1)["status"] == "completed"
        finally:
            restored.dispose()


def test_restore_over_a_database_with_data_needs_force_and_then_rolls_it_back(
        backed_up, engine, settings, clock, capsys, database_url):
    backup, at_backup = backed_up
    after = counts(engine)
    engine.dispose()  # the app is stopped for a restore
    code, out, err = tawasul(capsys, settings, database_url, clock, "restore", str(backup))
    assert (code, out) == (4, None)
    assert err.startswith(f"tawasul: the database {database_url} already holds data (")
    assert err.endswith("restoring replaces all of it: add --force to do so\n")
    assert counts(engine) == after
    engine.dispose()  # counting opened a connection again

    code, out, err = tawasul(capsys, settings, database_url, clock, "restore", "--force", str(backup))
    assert (code, err) == (0, "")
    assert counts(engine) == at_backup["counts"]
    assert documents(settings) == at_backup["documents"]
    leftovers = [p.name for p in Path(settings["documents"]["dir"]).parent.iterdir() if ".restore-" in p.name
                 or ".old-" in p.name]
    assert leftovers == []


def test_documents_alone_make_a_target_not_empty(backed_up, settings, clock, capsys, tmp_path):
    backup, _ = backed_up
    with fresh_database(tmp_path, "empty") as target:
        code, _, err = tawasul(capsys, settings, target, clock, "restore", str(backup))
    assert code == 4
    assert err == (f"tawasul: the documents folder {settings['documents']['dir']} already holds files; restoring "
                   "replaces them: add --force to do so\n")


def test_a_failed_restore_leaves_the_database_and_the_documents_as_they_were(
        backed_up, engine, settings, clock, capsys, database_url, tmp_path):
    backup, _ = backed_up
    damaged = rewrite(backup, tmp_path / "damaged.tar", member=lambda data: data[: len(data) * 6 // 10])
    before, files = counts(engine), documents(settings)
    engine.dispose()
    code, out, err = tawasul(capsys, settings, database_url, clock, "restore", "--force", str(damaged))
    assert (code, out) == (2, None)
    assert err.startswith("tawasul: the backup's database is damaged: ")
    assert counts(engine) == before
    assert documents(settings) == files
    stray = [p.name for p in Path(settings["documents"]["dir"]).parent.iterdir()
             if ".restore-" in p.name or ".old-" in p.name]
    assert stray == []


@pytest.mark.skipif(bool(POSTGRES_URL), reason="SQLite: the file another process holds open")
def test_restore_refuses_a_sqlite_file_another_process_holds_open(backed_up, engine, settings, clock, capsys,
                                                                   database_url):
    import sqlite3

    backup, _ = backed_up
    engine.dispose()
    path = database_url.removeprefix("sqlite:///")
    other = sqlite3.connect(path)
    try:
        other.execute("SELECT COUNT(*) FROM process_instances").fetchone()
        code, _, err = tawasul(capsys, settings, database_url, clock, "restore", "--force", str(backup))
    finally:
        other.close()
    assert code == 4
    assert err == (f"tawasul: the database {path} is open in another process (the web app or a worker?): stop them, "
                   "then restore\n")


def rewrite(backup: Path, target: Path, manifest=None, member=None, checksum=True) -> Path:
    """A copy of ``backup`` with its manifest changed by ``manifest`` and its database by ``member``
    (the manifest's size and checksum of the database follow the change unless ``checksum`` is false)."""
    with tarfile.open(backup) as source:
        members = [(info, source.extractfile(info).read() if info.isfile() else None) for info in source]
    database = next(data for info, data in members if info.name.startswith("database."))
    if member is not None:
        database = member(database)
    with tarfile.open(target, "w") as copy:
        for info, data in members:
            if info.name == "manifest.json":
                changed = json.loads(data)
                if checksum:
                    changed["database"].update(bytes=len(database), sha256=hashlib.sha256(database).hexdigest())
                if manifest is not None:
                    manifest(changed)
                data = json.dumps(changed).encode()
            elif info.name.startswith("database."):
                data = database
            if data is not None:
                info.size = len(data)
            copy.addfile(info, io.BytesIO(data) if data is not None else None)
    return target


def test_restore_refuses_a_backup_of_the_other_database_kind(backed_up, settings, clock, capsys, tmp_path):
    backup, _ = backed_up
    other = "sqlite" if KIND == "postgresql" else "postgresql"
    changed = rewrite(backup, tmp_path / "other.tar", manifest=lambda m: m["database"].update(kind=other))
    with fresh_database(tmp_path, "other") as target:
        code, _, err = tawasul(capsys, settings, target, clock, "restore", str(changed))
        names = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
        assert code == 2
        assert err == (f"tawasul: {changed} is a backup of a {names[other]} database; this Tawasul runs on "
                       f"{names[KIND]} ({target}): restore it with database_url naming a {names[other]} database\n")


def test_restore_refuses_a_backup_from_a_newer_schema(backed_up, settings, clock, capsys, tmp_path):
    backup, _ = backed_up
    changed = rewrite(backup, tmp_path / "newer.tar",
                      manifest=lambda m: m["database"]["schema"].update(engine="engine_9999"))
    with fresh_database(tmp_path, "newer") as target:
        code, _, err = tawasul(capsys, settings, target, clock, "restore", str(changed))
    assert code == 2
    assert err == (f"tawasul: the backup's engine schema is at revision engine_9999, newer than this version of "
                   f"Tawasul knows (its newest is {head_revision(ENGINE)}): restore it with Tawasul 0.1.0 or later\n")


def test_restore_refuses_what_is_not_a_backup(settings, clock, capsys, tmp_path, database_url):
    text_file = tmp_path / "notes.txt"
    text_file.write_text("not a backup\n")
    no_manifest = tmp_path / "other.tar"
    with tarfile.open(no_manifest, "w") as tar:
        tar.add(text_file, arcname="notes.txt")
    assert tawasul(capsys, settings, database_url, clock, "restore", str(text_file)) == (
        2, None, f"tawasul: {text_file} is not a Tawasul backup (not a tar file made by `tawasul backup`)\n")
    assert tawasul(capsys, settings, database_url, clock, "restore", str(no_manifest)) == (
        2, None, f"tawasul: {no_manifest} is not a Tawasul backup (it has no manifest.json)\n")
    assert tawasul(capsys, settings, database_url, clock, "restore", str(tmp_path / "missing.tar")) == (
        3, None, f"tawasul: no such file: {tmp_path / 'missing.tar'}\n")
    assert tawasul(capsys, settings, database_url, clock, "restore", str(tmp_path)) == (
        2, None, f"tawasul: {tmp_path} is a folder, not a backup file\n")
    assert tawasul(capsys, settings, database_url, clock, "restore") == (
        2, None, "tawasul restore: the following arguments are required: FILE (see --help)\n")


def test_backup_refuses_a_folder_that_does_not_exist(settings, clock, capsys, tmp_path, database_url):
    missing = tmp_path / "no-such-folder" / "b.tar"
    assert tawasul(capsys, settings, database_url, clock, "backup", str(missing)) == (
        3, None, f"tawasul: cannot write {missing}: the folder {missing.parent} does not exist\n")
    assert tawasul(capsys, settings, database_url, clock, "backup", str(tmp_path)) == (
        2, None, f"tawasul: {tmp_path} is a folder; give the backup's file name (e.g. {tmp_path}/tawasul.tar)\n")


def _backup_of_an_old_schema(settings, clock, capsys, tmp_path) -> Path:
    """A backup of a database at engine_0004 / domain_0004 (the database itself is dropped)."""
    with fresh_database(tmp_path, "old") as old:
        case_engine = build(settings, database_url=old, clock=clock)
        try:
            with case_engine.db.begin() as connection:
                upgrade_on(connection, ENGINE, "engine_0004")
                upgrade_on(connection, DOMAIN, "domain_0004")
        finally:
            case_engine.dispose()
        backup = tmp_path / "old.tar"
        code, out, _ = tawasul(capsys, settings, old, clock, "backup", str(backup))
        assert (code, out["schema"]) == (0, {"engine": "engine_0004", "domain": "domain_0004"})
    return backup


def test_a_backup_of_an_older_schema_is_upgraded_on_restore(settings, clock, capsys, tmp_path):
    backup = _backup_of_an_old_schema(settings, clock, capsys, tmp_path)
    with fresh_database(tmp_path, "upgraded") as target:
        code, out, err = tawasul(capsys, settings, target, clock, "restore", str(backup))
        assert (code, err) == (0, "")
        assert out["schema_revision"] == {"engine": head_revision(ENGINE), "domain": head_revision(DOMAIN)}
        restored = build(settings, database_url=target, clock=clock)
        try:
            require_current_schema(restored.db)
        finally:
            restored.dispose()



def test_restore_refuses_a_database_that_does_not_match_its_checksum(
        backed_up, engine, settings, clock, capsys, database_url, tmp_path):
    """One byte changed in the middle of the database (bit rot on the backup disk)."""
    backup, _ = backed_up

    def flip(data: bytes) -> bytes:
        middle = len(data) // 2
        return data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1:]

    rotten = rewrite(backup, tmp_path / "rotten.tar", member=flip, checksum=False)
    before, files = counts(engine), documents(settings)
    engine.dispose()
    code, out, err = tawasul(capsys, settings, database_url, clock, "restore", "--force", str(rotten))
    assert (code, out) == (2, None)
    assert err.startswith("tawasul: the backup's database is damaged: its SHA-256 is ")
    assert err.endswith("; nothing was restored\n")
    assert counts(engine) == before
    assert documents(settings) == files


def test_restore_refuses_a_truncated_backup(backed_up, engine, settings, clock, capsys, database_url, tmp_path):
    """The backup cut short (a copy that ran out of disk): inside the database, between two
    documents, inside the last document. Each is refused, and nothing is restored."""
    backup, _ = backed_up
    data = backup.read_bytes()
    with tarfile.open(backup) as tar:
        where = {info.name: (info.offset, info.offset_data + info.size) for info in tar}
        sizes = {info.name: info.size for info in tar if info.isfile() and info.name.startswith("documents/")}
    [first, last] = sorted(sizes, key=lambda name: where[name][0])  # in the order they are in the file
    database = f"database.{'pgdump' if KIND == 'postgresql' else 'sqlite3'}"
    cuts = {
        "inside the database": (where[database][0] + where[database][1]) // 2,
        "between two documents": where[last][0],
        "inside the last document": where[last][1] - 10,
    }
    before, files = counts(engine), documents(settings)
    engine.dispose()
    messages = {}
    for what, size in cuts.items():
        cut = tmp_path / f"cut-{size}.tar"
        cut.write_bytes(data[:size])
        code, out, err = tawasul(capsys, settings, database_url, clock, "restore", "--force", str(cut))
        assert (code, out) == (2, None), what
        messages[what] = err
    cut_at = {what: f"tawasul: {tmp_path}/cut-{size}.tar" for what, size in cuts.items()}
    assert messages == {
        "inside the database": f"{cut_at['inside the database']} is truncated or damaged (unexpected end of data); "
                               "nothing was restored\n",
        "between two documents": f"{cut_at['between two documents']} is not complete: its manifest lists 2 documents "
                                 f"({sum(sizes.values())} bytes), the file holds 1 ({sizes[first]} bytes); nothing "
                                 "was restored\n",
        "inside the last document": f"{cut_at['inside the last document']} is truncated or damaged (unexpected end of "
                                    "data); nothing was restored\n",
    }
    assert sum(sizes.values()) == len(PDF) * 2 + len("two") + len("three") * 1000
    assert counts(engine) == before
    assert documents(settings) == files


def hostile(backup: Path, target: Path, info: tarfile.TarInfo, data: bytes = b"") -> Path:
    """A copy of ``backup`` with one more member, ``info``, appended."""
    target.write_bytes(backup.read_bytes())
    with tarfile.open(target, "a") as tar:
        info.size = len(data) if info.isfile() else 0
        tar.addfile(info, io.BytesIO(data) if info.isfile() else None)
    return target


def member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode = kind, link, 0o644
    return info


@pytest.mark.parametrize(("info", "reason"), [
    (member("documents/../../escaped.txt"), "a path that leaves its folder"),
    (member("../escaped.txt"), "a path that leaves its folder"),
    (member("/tmp/tawasul-escaped.txt"), "an absolute path"),
    (member("documents/link", tarfile.SYMTYPE, "/etc/passwd"), "a link"),
    (member("documents/hard", tarfile.LNKTYPE, "manifest.json"), "a link"),
    (member("documents/null", tarfile.CHRTYPE), "a device or other special file"),
    (member("config.yaml"), "a name no Tawasul backup holds"),
    (member("documents/./id.pdf"), "a path that is not plain"),
    (member("manifest.json"), "a second member of that name"),
], ids=["dotdot-in-documents", "dotdot", "absolute", "symlink", "hardlink", "device", "stranger", "dot", "twice"])
def test_restore_refuses_a_backup_with_a_member_that_could_escape(
        backed_up, engine, settings, clock, capsys, database_url, tmp_path, info, reason):
    backup, _ = backed_up
    planted = hostile(backup, tmp_path / "hostile.tar", info, b"planted\n")
    before, files = counts(engine), documents(settings)
    engine.dispose()
    code, out, err = tawasul(capsys, settings, database_url, clock, "restore", "--force", str(planted))
    assert (code, out) == (2, None)
    assert err == (f"tawasul: {planted} is not a safe Tawasul backup: it holds {info.name!r}, {reason}; "
                   "nothing was restored\n")
    assert counts(engine) == before
    assert documents(settings) == files
    escaped = [tmp_path / "escaped.txt", tmp_path.parent / "escaped.txt", Path("/tmp/tawasul-escaped.txt")]
    assert [p for p in escaped if p.exists()] == []


@pytest.mark.postgres_only
def test_backup_and_restore_refuse_missing_or_older_postgresql_client_programs(
        backed_up, engine, settings, clock, capsys, database_url, tmp_path, monkeypatch):
    backup, _ = backed_up
    before = counts(engine)
    engine.dispose()
    empty = tmp_path / "no-programs"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    for command in ("backup", "restore"):
        program = {"backup": "pg_dump", "restore": "pg_restore"}[command]
        code, out, err = tawasul(capsys, settings, database_url, clock, command, "--force" if command == "restore"
                                 else str(tmp_path / "new.tar"), *([str(backup)] if command == "restore" else []))
        assert (code, out) == (2, None)
        assert err == (f"tawasul: {program} is not installed or not on PATH; install the PostgreSQL client programs "
                       "(e.g. apt install postgresql-client) of the server's major version\n")
    old = tmp_path / "old-programs"
    old.mkdir()
    for program in ("pg_dump", "pg_restore"):
        script = old / program
        script.write_text(f"#!/bin/sh\necho '{program} (PostgreSQL) 11.22'\n")
        script.chmod(0o755)
    monkeypatch.setenv("PATH", str(old))
    code, _, err = tawasul(capsys, settings, database_url, clock, "backup", str(tmp_path / "new.tar"))
    assert code == 2
    assert err.startswith(f"tawasul: {old}/pg_dump is version 11 but the server runs PostgreSQL 15: ")
    code, _, err = tawasul(capsys, settings, database_url, clock, "restore", "--force", str(backup))
    assert code == 2
    assert err.startswith(f"tawasul: the backup was made by pg_dump 15 but {old}/pg_restore is version 11: ")
    assert not (tmp_path / "new.tar").exists()
    monkeypatch.setenv("PATH", os.defpath)
    assert counts(engine) == before


@pytest.mark.postgres_only
def test_an_older_postgresql_backup_is_refused_over_a_newer_schema(settings, clock, capsys, tmp_path, engine,
                                                                   database_url):
    """``pg_restore --clean`` drops only what the dump holds: tables of a newer schema would stay and
    the upgrade after the restore fail on them; so the restore is refused before it starts."""
    backup = _backup_of_an_old_schema(settings, clock, capsys, tmp_path)
    engine.run(deploy_definition, SYSTEM, CASE, "backed_up.bpmn")
    before = counts(engine)
    engine.dispose()
    code, out, err = tawasul(capsys, settings, database_url, clock, "restore", "--force", str(backup))
    assert (code, out) == (2, None)
    assert err.startswith(f"tawasul: the database {database_url} has tables the backup does not (")
    assert err.endswith("): it is at a newer schema than the backup; restore into an empty database (create one "
                        "and name it in database_url); nothing was restored\n")
    assert counts(engine) == before


@pytest.mark.postgres_only
def test_a_postgresql_restore_failing_at_its_last_step_rolls_back_all_of_it(
        backed_up, engine, settings, clock, capsys, database_url, tmp_path):
    """pg_restore fails after every table is dropped and loaded again: the backup grants a role
    that no longer exists, and privileges are the last thing restored. One transaction: the
    database stays as it was before the restore, and the documents too."""
    backup, at_backup = backed_up
    role = f"tawasul_gone_{os.getpid()}"
    with engine.db.begin() as connection:
        connection.execute(text(f"CREATE ROLE {role}"))
        connection.execute(text(f"GRANT SELECT ON process_instances TO {role}"))
    granted = tmp_path / "granted.tar"
    assert tawasul(capsys, settings, database_url, clock, "backup", str(granted))[0] == 0
    with engine.db.begin() as connection:
        connection.execute(text(f"REVOKE SELECT ON process_instances FROM {role}"))
        connection.execute(text(f"DROP ROLE {role}"))
        connection.execute(text("DELETE FROM audit_events"))  # a change the restore would undo
    before, files = counts(engine), documents(settings)
    assert before["audit_events"] == 0 and at_backup["counts"]["audit_events"] > 0
    engine.dispose()
    code, out, err = tawasul(capsys, settings, database_url, clock, "restore", "--force", str(granted))
    assert (code, out) == (1, None)
    assert err.startswith("tawasul: pg_restore failed: ")
    assert f'role "{role}" does not exist' in err
    assert counts(engine) == before
    assert documents(settings) == files
    stray = [p.name for p in Path(settings["documents"]["dir"]).parent.iterdir()
             if ".restore-" in p.name or ".old-" in p.name]
    assert stray == []


def test_a_backup_taken_during_a_write_holds_what_was_committed_and_waits_for_nothing(
        backed_up, engine, settings, clock, capsys, database_url, tmp_path):
    """Another connection is inside a write transaction (audit rows deleted, not yet committed)
    while the backup runs: the backup finishes without waiting for it and holds the committed rows."""
    committed = counts(engine)["audit_events"]
    assert committed > 0
    during = tmp_path / "during.tar"
    with engine.db.connect() as writer:
        writer.execute(text("DELETE FROM audit_events"))  # inside a transaction left open
        assert writer.execute(text("SELECT COUNT(*) FROM audit_events")).scalar_one() == 0
        code, _, err = tawasul(capsys, settings, database_url, clock, "backup", str(during))
        assert (code, err) == (0, "")
        writer.rollback()
    restored_settings = dict(settings, documents=dict(settings["documents"], dir=str(tmp_path / "restored-uploads")))
    with fresh_database(tmp_path, "during") as target:
        assert tawasul(capsys, restored_settings, target, clock, "restore", str(during))[0] == 0
        restored = build(restored_settings, database_url=target, clock=clock)
        try:
            assert counts(restored)["audit_events"] == committed
        finally:
            restored.dispose()
