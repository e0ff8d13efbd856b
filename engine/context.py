"""`CaseEngine`: the engine's dependencies in one object, and the entry point for commands.

An entry point (CLI, web route, job) calls ``engine.run(command, ...)``: it opens one unit of
work, runs the command with the session, commits, and turns a lost revision race into a
`Conflict` that says who changed the case first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from engine.clock import Clock, SystemClock
from engine.db import UnitOfWork, make_engine
from engine.errors import Conflict, EngineError, InvalidDefinition
from engine.models import AuditEvent
from engine.sandbox import Sandbox, SandboxLimits
from engine.settings import load_settings
from engine.spiff import ParsedProcess, ParseFailed, WorkflowRuntime, parse_bpmn

T = TypeVar("T")


class SpecCache:
    """Parsed processes by (sha256, key), least recently used dropped first."""

    def __init__(self, size: int = 256) -> None:
        self.size = max(1, int(size))
        self._items: OrderedDict[tuple[str, str], ParsedProcess] = OrderedDict()
        self._lock = threading.Lock()
        #: How many times XML was parsed; a new instance of a cached version parses nothing.
        self.parses = 0

    def get(self, sha256: str, key: str) -> ParsedProcess | None:
        """Return the cached process, or None."""
        with self._lock:
            item = self._items.get((sha256, key))
            if item is not None:
                self._items.move_to_end((sha256, key))
            return item

    def parse(self, xml: bytes, sha256: str, source: str) -> list[ParsedProcess]:
        """Parse ``xml`` (raising `InvalidDefinition`) and cache each of its processes."""
        try:
            processes = parse_bpmn(xml, source)
        except ParseFailed as exc:
            raise InvalidDefinition(source, exc.problems) from None
        with self._lock:
            self.parses += 1
            for process in processes:
                self._items[(sha256, process.key)] = process
                self._items.move_to_end((sha256, process.key))
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return processes


class CaseEngine:
    """The engine's settings, database, clock, sandbox, runtime and spec cache."""

    def __init__(
        self,
        settings: dict[str, Any] | None = None,
        *,
        database_url: str | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.settings = settings if settings is not None else load_settings()
        if database_url is not None:
            self.settings = dict(self.settings, database_url=database_url)
        self.database_url: str = self.settings["database_url"]
        self.clock: Clock = clock or SystemClock()
        self.db = make_engine(self.database_url)
        self.sessions = sessionmaker(self.db, expire_on_commit=False)
        self.readonly_sessions = sessionmaker(
            self.db.execution_options(tawasul_readonly=True), expire_on_commit=False
        )
        sandbox_settings = self.settings.get("sandbox") or {}
        self.sandbox = Sandbox(
            SandboxLimits(
                time_limit_ms=sandbox_settings.get("time_limit_ms", 1000),
                max_sequence=sandbox_settings.get("max_sequence", 100_000),
            )
        )
        self.runtime = WorkflowRuntime(self.sandbox)
        self.specs = SpecCache((self.settings.get("engine") or {}).get("spec_cache_size", 256))
        #: definition id -> (sha256, key); definitions are immutable, so this never goes stale.
        self.definition_refs: dict[int, tuple[str, str]] = {}

    def unit_of_work(self, readonly: bool = False) -> UnitOfWork:
        """Open a unit of work (one transaction); read-only ones do not take SQLite's write lock."""
        return UnitOfWork(self.readonly_sessions if readonly else self.sessions)

    def run(self, command: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``command(self, session, *args, **kwargs)`` in one transaction and commit it.

        Raises:
            Conflict: another transaction changed the same instance first.
            EngineError: what the command raised; changes are kept only when it says so.
        """
        with self.unit_of_work() as uow:
            try:
                result = command(self, uow.session, *args, **kwargs)
                uow.commit()
                return result
            except EngineError as exc:
                uow.session.info.pop("pending_audit", None)
                if getattr(exc, "keep_changes", False):
                    uow.commit()
                raise
            except StaleDataError:
                instance_id = uow.session.info.get("instance_id")
                uow.session.rollback()
                raise self.describe_conflict(uow.session, instance_id) from None
            except IntegrityError as exc:
                uow.session.rollback()
                raise Conflict(
                    "another change was saved at the same moment; reload and try again "
                    f"({exc.orig.__class__.__name__})"
                ) from None

    def query(self, query: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a read-only ``query(self, session, ...)`` in its own transaction."""
        with self.unit_of_work(readonly=True) as uow:
            return query(self, uow.session, *args, **kwargs)

    def describe_conflict(self, session: Session, instance_id: int | None) -> Conflict:
        """A `Conflict` that says who changed the instance last, and when."""
        latest = None
        if instance_id is not None:
            latest = session.scalars(
                select(AuditEvent)
                .where(AuditEvent.instance_id == instance_id)
                .order_by(AuditEvent.id.desc())
                .limit(1)
            ).first()
        if latest is None:
            return Conflict("the case was changed by someone else first; reload and try again")
        return Conflict(
            f"the case was changed first by {latest.actor} ({latest.action} at "
            f"{latest.at.isoformat(timespec='seconds')}); reload and try again"
        )

    def dispose(self) -> None:
        """Close every database connection."""
        self.db.dispose()
