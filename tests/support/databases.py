"""Fresh databases for tests and benchmarks: SQLite files and PostgreSQL databases, migrated."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

import workflows.models  # noqa: F401 - the domain's tables, for create_all
from engine.db import Base, make_engine
from engine.schema import ENGINE, head_revision
from workflows.schema import DOMAIN, upgrade_schema


def recreate_postgres(server_url: str, name: str) -> str:
    """Drop (if there) and create the PostgreSQL database ``name`` on the server of ``server_url``; its URL."""
    server = make_url(server_url)
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return server.set(database=name).render_as_string(hide_password=False)


def drop_postgres(server_url: str, name: str) -> None:
    """Drop the PostgreSQL database ``name`` (whoever is still connected)."""
    admin = create_engine(make_url(server_url), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@contextmanager
def postgres_database(server_url: str, name: str | None = None) -> Iterator[str]:
    """A new, empty PostgreSQL database on the server of ``server_url``, dropped afterwards.

    ``name`` defaults to a random one (several runs may share a server); a database left by an
    earlier run under the same name is dropped first.
    """
    name = name or f"tawasul_test_{uuid.uuid4().hex[:10]}"
    url = recreate_postgres(server_url, name)
    try:
        yield url
    finally:
        drop_postgres(server_url, name)


def fresh_database(kind: str, pg_url: str | None, workdir: Path, name: str = "tawasul_bench") -> str:
    """A migrated, empty database for a benchmark: ``sqlite`` (a file in ``workdir``) or ``postgresql``."""
    if kind == "sqlite":
        path = workdir / f"{name}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        url = f"sqlite:///{path}"
    else:
        url = recreate_postgres(str(pg_url), name)
    migrate(url)
    return url


def migrate(url: str) -> None:
    """Create every table of ``url`` through the migrations (engine, then domain)."""
    db = make_engine(url)
    try:
        upgrade_schema(db)
    finally:
        db.dispose()


def sqlite_from_models(path: Path) -> str:
    """A SQLite file with every table made from the models, recorded as migrated to head.

    Faster than running the migrations for each test; ``tests/integration/test_migrations.py``
    checks that the migrations make exactly these tables.
    """
    url = f"sqlite:///{path}"
    db = make_engine(url)
    try:
        Base.metadata.create_all(db)
        with db.begin() as connection:
            for table, head in _heads():
                connection.execute(text(f"CREATE TABLE {table} (version_num VARCHAR(32) NOT NULL PRIMARY KEY)"))
                connection.execute(text(f"INSERT INTO {table} VALUES (:head)"), {"head": head})
    finally:
        db.dispose()
    return url


@cache
def _heads() -> tuple[tuple[str, str], ...]:
    """(version table, head revision) of the engine's migrations and the domain's, read once."""
    return tuple((location[1], head_revision(location)) for location in (ENGINE, DOMAIN))


def truncate_all(url: str) -> None:
    """Empty every table of a migrated PostgreSQL database (restarting its sequences)."""
    db = make_engine(url)
    try:
        tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        with db.begin() as connection:
            connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    finally:
        db.dispose()
