"""Database plumbing shared by every model: types, engine factory, unit of work.

One schema runs on SQLite (embedded default) and PostgreSQL (scale). The differences are kept
here: SQLite gets WAL, a busy timeout, foreign keys and ``BEGIN IMMEDIATE`` for write
transactions so writers queue instead of failing half-way; PostgreSQL gets JSONB.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from sqlalchemy import JSON, DateTime, Engine, create_engine, event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

#: JSON everywhere, JSONB on PostgreSQL.
JSONType = JSON().with_variant(JSONB(), "postgresql")

#: In JSON text: an escaped backslash (skipped whole, so ``\\\\ud800`` stays text), a surrogate
#: pair written as two escapes (an emoji: kept), or a lone surrogate's escape (repaired).
_SURROGATE_ESCAPE = re.compile(r"\\\\|\\ud[89ab][0-9a-f]{2}(\\ud[c-f][0-9a-f]{2})?|\\ud[c-f][0-9a-f]{2}",
                               re.IGNORECASE)


def repair_json_text(text: str) -> str:
    r"""``text`` (JSON) with each escaped lone surrogate (``"\ud800"``) made U+FFFD.

    JSON may carry a lone surrogate as an escape, and one stored before every door refused them
    would make each page showing it fail to encode, for good. Read back, it is the replacement
    character instead; the next write of the case stores the repaired text.
    """
    if "\\ud" not in text and "\\uD" not in text:  # the common case: one scan, nothing to do
        return text

    def repaired(match: re.Match[str]) -> str:
        found = match.group(0)
        if found == "\\\\" or match.group(1):  # an escaped backslash, or a pair
            return found
        return "\\ufffd"

    return _SURROGATE_ESCAPE.sub(repaired, text)


def load_json(text: str) -> Any:
    """Read a JSON column's text, lone surrogates repaired (`repair_json_text`)."""
    return json.loads(repair_json_text(text))


class UTCDateTime(TypeDecorator[datetime]):
    """A datetime stored in UTC and always read back timezone-aware.

    SQLite keeps naive text, PostgreSQL ``timestamptz``; callers only ever see aware UTC values.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        """Refuse naive values; store UTC (naive on SQLite)."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        """Return an aware UTC datetime."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base of every Tawasul model (engine, domain, web)."""

    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSONType, list[str]: JSONType}


def make_engine(url: str, sqlite_busy_timeout_ms: int = 30_000, **kwargs: Any) -> Engine:
    """Create a SQLAlchemy engine for ``url`` with the per-database settings Tawasul needs.

    On SQLite a writer waits up to ``sqlite_busy_timeout_ms`` for another writer to finish.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        kwargs.setdefault("hide_parameters", True)  # error messages must not carry personal data
        # JSON columns are text on SQLite, so one could hold a lone surrogate's escape
        # (PostgreSQL's jsonb refuses them).
        kwargs.setdefault("json_deserializer", load_json)
        engine = create_engine(url, connect_args={"timeout": sqlite_busy_timeout_ms / 1000}, **kwargs)
        _configure_sqlite(engine, int(sqlite_busy_timeout_ms))
        return engine
    # No pre-ping: it costs a round trip per transaction. A connection broken by a server
    # restart fails once, is invalidated with its pool, and the next transaction reconnects.
    kwargs.setdefault("pool_recycle", 1800)
    kwargs.setdefault("hide_parameters", True)  # error messages must not carry personal data
    return create_engine(url, **kwargs)


def _configure_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event emit BEGIN itself (pysqlite's own is deferred).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Writers take the write lock at BEGIN, so two writers queue instead of one failing
        # half-way when it upgrades a read lock. Read-only units of work begin deferred.
        # Straight to the driver: this runs for every transaction, and SQLAlchemy's statement path
        # would cost more than the BEGIN itself.
        readonly = connection.get_execution_options().get("tawasul_readonly")
        statement = "BEGIN DEFERRED" if readonly else "BEGIN IMMEDIATE"
        try:
            connection.connection.driver_connection.execute(statement)
        except sqlite3.OperationalError as exc:  # "database is locked": the caller's busy handling applies
            raise OperationalError(statement, None, exc) from exc


_AFTER_COMMIT = "tawasul_after_commit"
_AFTER_ROLLBACK = "tawasul_after_rollback"


def after_commit(session: Session, callback: Callable[[], None]) -> None:
    """Run ``callback`` once the session's transaction is committed (never if it is not)."""
    session.info.setdefault(_AFTER_COMMIT, []).append(callback)


def after_rollback(session: Session, callback: Callable[[], None]) -> None:
    """Run ``callback`` if the session's unit of work ends without a commit (undo work outside it)."""
    session.info.setdefault(_AFTER_ROLLBACK, []).append(callback)


#: The attribute that marks a command `rerunnable`.
RERUNNABLE = "tawasul_rerunnable"
_Command = TypeVar("_Command", bound=Callable[..., Any])


def rerunnable(command: _Command) -> _Command:
    """Mark ``command`` as safe to run again from the start in a new transaction.

    `CaseEngine.run` does so once when another transaction saved the same case between this
    one's read and its write: the second run answers for the case as it is now (the task the
    other completed, the claim the other made), or goes through if the other did not touch it.
    Only for commands whose arguments are plain values and which do nothing outside the
    database before they commit (an upload's stream cannot be read twice).
    """
    setattr(command, RERUNNABLE, True)
    return command


class UnitOfWork:
    """One transaction: rolls back on leaving unless `commit` was called.

    Services take ``uow.session`` and flush; the entry point (CLI, web route, job) commits.
    Callbacks registered with `after_commit` run once the transaction is durable; those
    registered with `after_rollback` run when it ends without a commit (a file written for a
    record that was not saved is removed).
    """

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self._factory = factory
        self.session: Session

    def __enter__(self) -> UnitOfWork:
        self.session = self._factory()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        # A commit takes its callbacks away: what is left was registered since, and is not saved.
        undo = self.session.info.pop(_AFTER_ROLLBACK, [])
        # close() rolls back whatever was not committed, and unlike rollback() it leaves the
        # loaded objects readable (detached, not expired) for the caller to render.
        self.session.close()
        for callback in undo:
            callback()

    def commit(self) -> None:
        """Commit the transaction, then run the after-commit callbacks."""
        self.session.commit()
        self.session.info.pop(_AFTER_ROLLBACK, None)
        for callback in self.session.info.pop(_AFTER_COMMIT, []):
            callback()
