"""``backup FILE`` and ``restore FILE``: the database and the documents, in one file.

A backup is a tar holding ``manifest.json`` (what it is: the database kind, the schema revision
of the engine's and the domain's migrations, the Tawasul version, when it was made), the
database (a SQLite copy made with SQLite's online backup API, or a ``pg_dump --format=custom``
file) and ``documents/``, the files attached to checklist items. Both are safe while the app
runs: SQLite's backup reads one consistent snapshot, ``pg_dump`` one transaction.

A restore checks everything it can before it changes anything, then replaces the database in
one step (SQLite: a finished, upgraded copy moved over the file with `os.replace`; PostgreSQL:
``pg_restore --single-transaction``) and the documents folder by renames: never half of either.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import inspect, text
from sqlalchemy.engine import URL, make_url

from engine.actors import Actor
from web.cli.shared import CliError, Command, safe_url
from workflows.bootstrap import CaseEngine, build
from workflows.documents import limits
from workflows.schema import DOMAIN, LEGACY, LOCATIONS, schema_revisions, upgrade_schema

FORMAT = "tawasul-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
DOCUMENTS = "documents"
#: The database's member of the tar, by database kind.
DATABASE_MEMBER = {"sqlite": "database.sqlite3", "postgresql": "database.pgdump"}
#: The schema parts a manifest records, in the order they are upgraded, and where each lives.
PARTS = dict(zip(("engine", "domain"), LOCATIONS, strict=True))


def _version() -> str:
    try:
        return metadata.version("tawasul")
    except metadata.PackageNotFoundError:  # pragma: no cover - run from a bare checkout
        return "unknown"


def _kind(engine: CaseEngine) -> str:
    backend = make_url(engine.database_url).get_backend_name()
    if backend not in DATABASE_MEMBER:
        raise CliError(f"cannot back up or restore a {backend} database (only SQLite and PostgreSQL)")
    return backend


def _sqlite_path(engine: CaseEngine) -> Path:
    database = make_url(engine.database_url).database or ""
    if not database or database == ":memory:" or database.startswith("file:"):
        raise CliError(f"the database {safe_url(engine.database_url)} is not a file; give a file in database_url")
    return Path(database).resolve()


# ---------------------------------------------------------------------------------------------- backup


def _backup_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", help="the backup to write (a .tar); replaced if it exists")


def _backup(engine: CaseEngine, actor: Actor, args: argparse.Namespace) -> dict[str, Any]:
    target = Path(args.file).expanduser()
    if target.is_dir():
        raise CliError(f"{args.file} is a folder; give the backup's file name (e.g. {args.file}/tawasul.tar)")
    if not target.parent.is_dir():
        raise CliError(f"cannot write {args.file}: the folder {target.parent} does not exist", 3)
    kind = _kind(engine)
    folder = limits(engine.settings)[0]
    with tempfile.TemporaryDirectory(prefix=".tawasul-backup-", dir=target.parent) as work:
        dump = Path(work) / DATABASE_MEMBER[kind]
        if kind == "sqlite":
            database: dict[str, Any] = _copy_sqlite(engine, dump)
        else:
            database = _dump_postgres(engine, dump)
        database.update(bytes=dump.stat().st_size, sha256=_sha256(dump))
        files = sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.endswith(".part")) \
            if folder.is_dir() else []
        manifest = {
            "format": FORMAT, "format_version": FORMAT_VERSION, "tawasul_version": _version(),
            "created_at": engine.now().isoformat(), "database": database,
            "documents": {"files": len(files), "bytes": sum(p.stat().st_size for p in files)},
        }
        partial = Path(work) / "backup.tar"
        partial.touch(mode=0o600)  # the backup holds everything, password hashes included: the owner's only
        with tarfile.open(partial, "w") as tar:
            _add_bytes(tar, MANIFEST, json.dumps(manifest, indent=2).encode())
            _add_file(tar, dump, DATABASE_MEMBER[kind])
            _add_folder(tar, DOCUMENTS)
            for path in files:
                _add_file(tar, path, f"{DOCUMENTS}/{path.relative_to(folder).as_posix()}")
        with partial.open("rb+") as written:
            os.fsync(written.fileno())
        os.replace(partial, target)  # a backup that failed half-way never takes the file's name
    return {"backup": str(target), "bytes": target.stat().st_size, "database": kind,
            "schema": database["schema"], "documents": len(files), "created_at": manifest["created_at"]}


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o600
    info.mtime = int(time.time())
    tar.addfile(info, io.BytesIO(data))


def _add_file(tar: tarfile.TarFile, path: Path, name: str) -> None:
    """Add the content of ``path`` as a regular file (a symbolic link is followed, never stored)."""
    with path.open("rb") as content:
        info = tar.gettarinfo(arcname=name, fileobj=content)
        info.uname = info.gname = ""
        tar.addfile(info, content)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as content:
        for block in iter(lambda: content.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()


def _add_folder(tar: tarfile.TarFile, name: str) -> None:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = 0o700
    info.mtime = int(time.time())
    tar.addfile(info)


def _copy_sqlite(engine: CaseEngine, copy: Path) -> dict[str, Any]:
    source_path = _sqlite_path(engine)
    if not source_path.is_file():
        raise CliError(f"the database {source_path} does not exist: nothing to back up", 3)
    source = sqlite3.connect(source_path, timeout=30)
    destination = sqlite3.connect(copy)
    try:
        source.backup(destination)  # one read snapshot: writers go on meanwhile (WAL)
        destination.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
        schema = _sqlite_revisions(destination)
    finally:
        destination.close()
        source.close()
    if schema["engine"] is None:
        raise CliError(f"the database {source_path} has no Tawasul tables: run `tawasul init` first", 6)
    return {"kind": "sqlite", "schema": schema}


def _sqlite_revisions(connection: sqlite3.Connection) -> dict[str, str | None]:
    revisions: dict[str, str | None] = {}
    for part, (_, table) in PARTS.items():
        try:
            row = connection.execute(f"SELECT version_num FROM {table}").fetchone()  # noqa: S608 - our names
        except sqlite3.OperationalError:
            row = None
        revisions[part] = row[0] if row else None
    return revisions


def _program(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise CliError(f"{name} is not installed or not on PATH; install the PostgreSQL client programs "
                       f"(e.g. apt install postgresql-client) of the server's major version")
    return found


def _major(program: str) -> int:
    output = subprocess.run([program, "--version"], capture_output=True, text=True, check=True).stdout
    match = re.search(r"(\d+)(?:\.\d+)?", output)
    if match is None:
        raise CliError(f"cannot tell the version of {program} from {output.strip()!r}")
    return int(match.group(1))


def _libpq(url: URL) -> tuple[str, dict[str, str]]:
    """The libpq connection string of ``url`` and the environment holding its password.

    The password goes in ``PGPASSWORD``, never on the command line (which ``ps`` shows).
    """

    def quoted(value: Any) -> str:
        return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"

    parts = {"host": url.host, "port": url.port, "user": url.username, "dbname": url.database}
    parts.update({key: value if isinstance(value, str) else value[-1] for key, value in url.query.items()})
    conninfo = " ".join(f"{key}={quoted(value)}" for key, value in parts.items() if value not in (None, ""))
    environment = dict(os.environ)
    if url.password is not None:
        environment["PGPASSWORD"] = str(url.password)
    return conninfo, environment


def _run(command: list[str], environment: dict[str, str], what: str) -> None:
    finished = subprocess.run(command, capture_output=True, text=True, env=environment, check=False)
    if finished.returncode != 0:
        lines = [line for line in finished.stderr.strip().splitlines() if line.strip()]
        reason = lines[0] if lines else f"exit status {finished.returncode}"
        raise CliError(f"{what} failed: {reason}", 1)


def _dump_postgres(engine: CaseEngine, dump: Path) -> dict[str, Any]:
    pg_dump = _program("pg_dump")
    with engine.db.connect() as connection:
        server = int(connection.execute(text("SHOW server_version_num")).scalar_one()) // 10000
    client = _major(pg_dump)
    if client < server:
        raise CliError(f"{pg_dump} is version {client} but the server runs PostgreSQL {server}: install the "
                       f"client programs of version {server} (e.g. postgresql-client-{server}) and put them first "
                       "on PATH")
    schema = schema_revisions(engine.db)
    if schema["engine"] is None:
        raise CliError(f"the database {safe_url(engine.database_url)} has no Tawasul tables: run `tawasul init` "
                       "first", 6)
    conninfo, environment = _libpq(make_url(engine.database_url))
    _run([pg_dump, "--format=custom", f"--file={dump}", f"--dbname={conninfo}"], environment, "pg_dump")
    return {"kind": "postgresql", "schema": schema, "pg_dump_version": client, "server_version": server}


# --------------------------------------------------------------------------------------------- restore


def _restore_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", help="a backup made by `tawasul backup`")
    parser.add_argument("--force", action="store_true",
                        help="replace a database or documents folder that already holds data")


def _restore(engine: CaseEngine, actor: Actor, args: argparse.Namespace) -> dict[str, Any]:
    source = Path(args.file).expanduser()
    kind = _kind(engine)
    folder = limits(engine.settings)[0]
    with _open_backup(source, args.file) as tar:
        documents = _safe_members(tar, args.file)
        manifest = _read_manifest(tar, args.file)
        found = str(manifest["database"].get("kind"))
        if found != kind:
            theirs = _NAMES.get(found, found)
            raise CliError(f"{args.file} is a backup of a {theirs} database; this Tawasul runs on {_NAMES[kind]} "
                           f"({safe_url(engine.database_url)}): restore it with database_url naming a {theirs} "
                           "database")
        _check_revisions(manifest)
        database_member = _member(tar, DATABASE_MEMBER[kind], args.file)
        _check_complete(manifest, documents, args.file)
        if not args.force:
            _refuse_if_not_empty(engine, folder)
        staged = _stage_documents(tar, documents, folder)
        try:
            if kind == "sqlite":
                revisions = _restore_sqlite(engine, tar, database_member, manifest)
            else:
                revisions = _restore_postgres(engine, tar, database_member, manifest)
        except BaseException:
            shutil.rmtree(staged, ignore_errors=True)
            raise
    _swap_documents(staged, folder)
    return {"restored": str(source), "database": safe_url(engine.database_url), "schema_revision": revisions,
            "backed_up_at": manifest.get("created_at"), "documents": len(documents)}


_NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


@contextlib.contextmanager
def _open_backup(source: Path, name: str) -> Iterator[tarfile.TarFile]:
    if not source.exists():
        raise CliError(f"no such file: {name}", 3)
    if source.is_dir():
        raise CliError(f"{name} is a folder, not a backup file")
    try:
        tar = tarfile.open(source, "r:")  # noqa: SIM115 - closed by the `with tar` below
    except PermissionError:
        raise CliError(f"cannot read {name}: permission denied") from None
    except (tarfile.TarError, OSError):
        raise CliError(f"{name} is not a Tawasul backup (not a tar file made by `tawasul backup`)") from None
    with tar:
        try:
            tar.getmembers()  # the whole index, read once: a file cut inside a member ends here
        except (tarfile.TarError, OSError) as exc:
            raise CliError(f"{name} is truncated or damaged ({exc}); nothing was restored") from None
        yield tar


def _safe_members(tar: tarfile.TarFile, file: str) -> list[tarfile.TarInfo]:
    """Refuse a backup holding anything but its own regular files under plain names; return its documents."""
    if MANIFEST not in tar.getnames():
        raise CliError(f"{file} is not a Tawasul backup (it has no {MANIFEST})")
    allowed = {MANIFEST, *DATABASE_MEMBER.values()}
    documents = []
    seen: set[str] = set()
    for member in tar.getmembers():
        name = member.name
        parts = name.split("/")
        if name in seen:
            reason = "a second member of that name"
        elif name.startswith("/") or re.match(r"^[A-Za-z]:", name):
            reason = "an absolute path"
        elif any(part in ("..", ".", "") for part in parts):
            reason = "a path that leaves its folder" if ".." in parts else "a path that is not plain"
        elif member.issym() or member.islnk():
            reason = "a link"
        elif not (member.isfile() or member.isdir()):
            reason = "a device or other special file"
        elif not (name in allowed or name == DOCUMENTS or parts[0] == DOCUMENTS and len(parts) > 1):
            reason = "a name no Tawasul backup holds"
        elif member.isdir() and name != DOCUMENTS and parts[0] != DOCUMENTS:
            reason = "a folder no Tawasul backup holds"
        else:
            seen.add(name)
            if member.isfile() and parts[0] == DOCUMENTS:
                documents.append(member)
            continue
        raise CliError(f"{file} is not a safe Tawasul backup: it holds {name!r}, {reason}; nothing was restored")
    return documents


def _check_complete(manifest: dict[str, Any], documents: list[tarfile.TarInfo], file: str) -> None:
    """Refuse a backup holding fewer documents than its manifest lists (a file cut between two)."""
    listed = manifest.get("documents") or {}
    found = {"files": len(documents), "bytes": sum(m.size for m in documents)}
    if {key: listed.get(key) for key in found} != found:
        raise CliError(f"{file} is not complete: its manifest lists {listed.get('files')} documents "
                       f"({listed.get('bytes')} bytes), the file holds {found['files']} ({found['bytes']} bytes); "
                       "nothing was restored")


def _member(tar: tarfile.TarFile, name: str, file: str) -> tarfile.TarInfo:
    try:
        member = tar.getmember(name)
    except KeyError:
        raise CliError(f"{file} is not a complete Tawasul backup: it has no {name}") from None
    if not member.isfile():
        raise CliError(f"{file} is not a complete Tawasul backup: {name} is not a file")
    return member


def _copy_database(tar: tarfile.TarFile, member: tarfile.TarInfo, manifest: dict[str, Any],
                   written: io.BufferedWriter) -> None:
    """Copy the database out of the backup, checking it is what the manifest says was put in."""
    stream = tar.extractfile(member)
    assert stream is not None  # a regular file, checked by _member
    digest = hashlib.sha256()
    try:
        for block in iter(lambda: stream.read(1024 * 1024), b""):
            digest.update(block)
            written.write(block)
    except tarfile.TarError as exc:
        raise CliError(f"the backup's database cannot be read: {exc}; nothing was restored") from None
    written.flush()
    os.fsync(written.fileno())
    expected = manifest["database"].get("sha256")
    if digest.hexdigest() != expected:
        raise CliError(f"the backup's database is damaged: its SHA-256 is {digest.hexdigest()}, the manifest says "
                       f"{expected}; nothing was restored")


def _read_manifest(tar: tarfile.TarFile, file: str) -> dict[str, Any]:
    try:
        member = tar.getmember(MANIFEST)
        stream = tar.extractfile(member)
        manifest = json.loads(stream.read(1_000_000)) if stream is not None else None
    except KeyError:
        raise CliError(f"{file} is not a Tawasul backup (it has no {MANIFEST})") from None
    except (ValueError, tarfile.TarError, OSError):
        raise CliError(f"{file} is not a Tawasul backup (its {MANIFEST} cannot be read)") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise CliError(f"{file} is not a Tawasul backup (its {MANIFEST} is not a Tawasul manifest)")
    version = manifest.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CliError(f"{file} is a backup in format {version}, newer than this version of Tawasul reads "
                       f"({FORMAT_VERSION}); restore it with Tawasul {manifest.get('tawasul_version')}")
    database = manifest.get("database")
    if not isinstance(database, dict) or not isinstance(database.get("schema"), dict):
        raise CliError(f"{file} is not a complete Tawasul backup (its {MANIFEST} names no database)")
    return manifest


def _check_revisions(manifest: dict[str, Any]) -> None:
    """Refuse a backup whose schema this code does not know (a newer Tawasul made it)."""
    schema = manifest["database"]["schema"]
    for part, location in PARTS.items():
        revision = schema.get(part)
        if revision is None or (location is not DOMAIN and revision in LEGACY):
            continue
        script = ScriptDirectory(str(location[0]))
        head = script.get_current_head()
        try:
            known = script.get_revision(str(revision)) is not None
        except CommandError:
            known = False
        if not known:
            raise CliError(
                f"the backup's {part} schema is at revision {revision}, newer than this version of Tawasul knows "
                f"(its newest is {head}): restore it with Tawasul {manifest.get('tawasul_version')} or later")


def _refuse_if_not_empty(engine: CaseEngine, folder: Path) -> None:
    filled = _tables_with_rows(engine)
    if filled:
        raise CliError(f"the database {safe_url(engine.database_url)} already holds data ({len(filled)} tables "
                       f"with rows, e.g. {', '.join(filled[:3])}); restoring replaces all of it: add --force "
                       "to do so", 4)
    if folder.is_dir() and any(p.is_file() for p in folder.rglob("*")):
        raise CliError(f"the documents folder {folder} already holds files; restoring replaces them: add --force "
                       "to do so", 4)


def _tables_with_rows(engine: CaseEngine) -> list[str]:
    if _kind(engine) == "sqlite" and not _sqlite_path(engine).exists():
        return []
    try:
        with engine.db.connect() as connection:
            quote = connection.dialect.identifier_preparer.quote
            tables = [name for name in sorted(inspect(connection).get_table_names())
                      if not name.startswith("alembic_version")]
            probe = "SELECT 1 FROM {} LIMIT 1"  # a quoted table name, no input of the user's
            return [name for name in tables
                    if connection.execute(text(probe.format(quote(name)))).first() is not None]
    finally:
        engine.db.dispose()


def _stage_documents(tar: tarfile.TarFile, documents: list[tarfile.TarInfo], folder: Path) -> Path:
    """Unpack the documents into a new folder beside ``folder``; return it (swapped in after the database)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    staged = Path(tempfile.mkdtemp(prefix=f".{folder.name}.restore-", dir=folder.parent))
    try:
        for member in documents:  # plain relative names of regular files, checked by _check_members
            path = staged / member.name[len(DOCUMENTS) + 1:]
            path.parent.mkdir(parents=True, exist_ok=True)
            stream = tar.extractfile(member)
            assert stream is not None
            with path.open("xb") as written:
                shutil.copyfileobj(stream, written, 1024 * 1024)
    except tarfile.TarError as exc:
        shutil.rmtree(staged, ignore_errors=True)
        raise CliError(f"the backup's documents cannot be restored: {exc}; nothing was restored") from None
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    return staged


def _swap_documents(staged: Path, folder: Path) -> None:
    """Put the staged documents in ``folder``'s place, by renames: the old set or the new, never a mix."""
    old = None
    if folder.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{folder.name}.old-", dir=folder.parent)) / folder.name
        os.rename(folder, old)
    _keep_owner_and_mode(folder, staged)
    try:
        os.rename(staged, folder)
    except BaseException:
        if old is not None:
            os.rename(old, folder)
        raise
    if old is not None:
        shutil.rmtree(old.parent, ignore_errors=True)


def _keep_owner_and_mode(existing: Path, replacement: Path) -> None:
    """Give ``replacement`` the permissions (and, run as root, the owner) of what it replaces."""
    if not existing.exists():
        if replacement.is_dir():
            replacement.chmod(0o755 & ~_umask())
        else:
            replacement.chmod(0o644 & ~_umask())
        return
    status = existing.stat()
    replacement.chmod(status.st_mode & 0o7777)
    if os.geteuid() == 0:
        os.chown(replacement, status.st_uid, status.st_gid)


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def _restore_sqlite(engine: CaseEngine, tar: tarfile.TarFile, member: tarfile.TarInfo,
                    manifest: dict[str, Any]) -> dict[str, str | None]:
    target = _sqlite_path(engine)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{target.name}.restore-", dir=target.parent)
    partial = Path(name)
    try:
        with os.fdopen(handle, "wb") as written:
            _copy_database(tar, member, manifest, written)
        check = sqlite3.connect(partial)
        try:
            verdict = check.execute("PRAGMA quick_check").fetchone()
        except sqlite3.DatabaseError as exc:
            raise CliError(f"the backup's database is damaged: {exc}") from None
        finally:
            check.close()
        if verdict is None or verdict[0] != "ok":
            raise CliError(f"the backup's database is damaged: {verdict[0] if verdict else 'no answer'}")
        revisions = _upgrade(engine, f"sqlite:///{partial}")  # an older backup is upgraded before it goes live
        engine.db.dispose()
        _refuse_if_open(target)
        _keep_owner_and_mode(target, partial)
        for suffix in ("-wal", "-shm"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
        for suffix in ("-wal", "-shm", "-journal"):
            Path(f"{partial}{suffix}").unlink(missing_ok=True)
    return revisions


def _refuse_if_open(target: Path) -> None:
    """Refuse to replace a SQLite file another process has open (its write-ahead log outlives our close)."""
    if not target.exists():
        return
    connection = sqlite3.connect(target, timeout=5)
    try:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    except sqlite3.DatabaseError:
        pass  # not a database we can read: it is replaced all the same
    finally:
        connection.close()
    if Path(f"{target}-wal").exists():
        raise CliError(f"the database {target} is open in another process (the web app or a worker?): stop them, "
                       "then restore", 4)


def _restore_postgres(engine: CaseEngine, tar: tarfile.TarFile, member: tarfile.TarInfo,
                      manifest: dict[str, Any]) -> dict[str, str | None]:
    pg_restore = _program("pg_restore")
    made_by = manifest["database"].get("pg_dump_version")
    client = _major(pg_restore)
    if isinstance(made_by, int) and client < made_by:
        raise CliError(f"the backup was made by pg_dump {made_by} but {pg_restore} is version {client}: install "
                       f"the client programs of version {made_by} or later and put them first on PATH")
    with tempfile.TemporaryDirectory(prefix=".tawasul-restore-") as work:
        dump = Path(work) / member.name
        with dump.open("wb") as written:
            _copy_database(tar, member, manifest, written)
        _refuse_newer_tables(engine, pg_restore, dump)
        engine.db.dispose()
        conninfo, environment = _libpq(make_url(engine.database_url))
        # One transaction: a failure anywhere leaves the database as it was.
        _run([pg_restore, "--clean", "--if-exists", "--no-owner", "--single-transaction", "--exit-on-error",
              f"--dbname={conninfo}", str(dump)], environment, "pg_restore")
    return _upgrade(engine, engine.database_url)


def _refuse_newer_tables(engine: CaseEngine, pg_restore: str, dump: Path) -> None:
    """Refuse a target holding tables the dump lacks: ``--clean`` would leave them, and the upgrade after
    the restore would then fail on them (a newer schema than the backup's)."""
    listing = subprocess.run([pg_restore, "--list", str(dump)], capture_output=True, text=True, check=False)
    if listing.returncode != 0:
        reason = (listing.stderr.strip().splitlines() or [f"exit status {listing.returncode}"])[0]
        raise CliError(f"the backup's database is damaged: {reason}; nothing was restored")
    in_dump = set(re.findall(r"^\d+; \d+ \d+ TABLE \S+ (\S+) ", listing.stdout, re.MULTILINE))
    try:
        with engine.db.connect() as connection:
            extra = sorted(set(inspect(connection).get_table_names()) - in_dump)
    finally:
        engine.db.dispose()
    if extra:
        raise CliError(f"the database {safe_url(engine.database_url)} has tables the backup does not "
                       f"({', '.join(extra[:3])}): it is at a newer schema than the backup; restore into an empty "
                       "database (create one and name it in database_url); nothing was restored")


def _upgrade(engine: CaseEngine, url: str) -> dict[str, str | None]:
    """What `tawasul init` does, on ``url``: the schema brought to this code's revisions."""
    if url == engine.database_url:
        return upgrade_schema(engine.db)
    staged = build(engine.settings, database_url=url, clock=engine.clock)
    try:
        return upgrade_schema(staged.db)
    finally:
        staged.dispose()


COMMANDS = (
    Command("backup", "write the database and the documents to FILE (safe while Tawasul runs)", _backup,
            _backup_arguments),
    Command("restore", "replace the database and the documents with a backup (stop the app and workers first)",
            _restore, _restore_arguments),
)
