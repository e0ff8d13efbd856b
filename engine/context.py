"""`CaseEngine`: the engine's dependencies in one object, and the entry point for commands.

An entry point (CLI, web route, job) calls ``engine.run(command, ...)``: it opens one unit of
work, runs the command with the session, commits, and turns a lost revision race into a
`Conflict` that says who changed the case first.

The engine holds registries that the layers above fill (`engine.bootstrap` registers the
built-in job handlers; the domain registers its service-task handlers, deploy checks and drain
hooks): nothing here imports a command, a job handler or the domain.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from datetime import date, datetime
from typing import Any, TypeVar

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from engine import audit
from engine.calendar import CalendarCache, Override, calendar_from_settings, load_overrides, parse_day
from engine.clock import Clock, SystemClock
from engine.db import RERUNNABLE, UnitOfWork, make_engine
from engine.errors import (
    CASE_CHANGED,
    DATABASE_BUSY,
    DATABASE_LOST,
    SAVED_CONCURRENTLY,
    Conflict,
    EngineError,
    InvalidDefinition,
    InvalidInput,
)
from engine.job_rows import JobSettings, earliest_due, notify_statement, take_earliest_due
from engine.sandbox import Sandbox, SandboxLimits
from engine.settings import DefinitionLimits, load_settings
from engine.sla import lint_properties as lint_sla_properties
from engine.sla import load_config as load_sla_config
from engine.spiff import (
    DEFAULT_MAX_SECONDS,
    DEFAULT_MAX_STEPS,
    ParsedProcess,
    ParseFailed,
    PropertyLint,
    WorkflowRuntime,
    current_clock,
    parse_bpmn,
)

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

    def parse(
        self,
        xml: bytes,
        sha256: str,
        source: str,
        services: Iterable[str] | None,
        property_lint: PropertyLint,
        checked: bool = True,
    ) -> list[ParsedProcess]:
        """Parse ``xml`` (raising `InvalidDefinition`) and cache each of its processes.

        ``services`` are the handler names service tasks may call (None: not checked);
        ``property_lint`` checks each task's extension properties; ``checked=False`` for a
        version already deployed (`parse_bpmn`).
        """
        try:
            processes = parse_bpmn(xml, source, property_lint=property_lint, services=services, checked=checked)
        except ParseFailed as exc:
            raise InvalidDefinition(source, exc.problems) from None
        self.keep(sha256, processes)
        return processes

    def keep(self, sha256: str, processes: list[ParsedProcess]) -> None:
        """Cache ``processes``, parsed from the XML whose digest is ``sha256``."""
        with self._lock:
            self.parses += 1
            for process in processes:
                self._items[(sha256, process.key)] = process
                self._items.move_to_end((sha256, process.key))
            while len(self._items) > self.size:
                self._items.popitem(last=False)


#: How often `CaseEngine.run` runs a rerunnable command again after another change to the same
#: case was saved first (ten people changing one case at the same moment).
_MAX_RERUNS = 10


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
        self.db = make_engine(
            self.database_url, sqlite_busy_timeout_ms=int(self.settings.get("sqlite_busy_timeout_ms", 30_000))
        )
        self.sessions = sessionmaker(self.db, expire_on_commit=False)
        self.readonly_sessions = sessionmaker(
            self.db.execution_options(tawasul_readonly=True), expire_on_commit=False
        )
        sandbox_settings = self.settings.get("sandbox") or {}
        self.sandbox = Sandbox(
            SandboxLimits(
                time_limit_ms=sandbox_settings.get("time_limit_ms", 1000),
                max_sequence=sandbox_settings.get("max_sequence", 100_000),
                max_memory_mb=sandbox_settings.get("max_memory_mb", 256),
            ),
            now=lambda: self.now(),
        )
        engine_settings = self.settings.get("engine") or {}
        self.runtime = WorkflowRuntime(self.sandbox, default_tz=calendar_from_settings(self.settings).tz,
                                       max_steps=engine_settings.get("max_steps_per_command", DEFAULT_MAX_STEPS),
                                       max_seconds=engine_settings.get("max_seconds_per_command", DEFAULT_MAX_SECONDS),
                                       max_instances=DefinitionLimits.from_settings(self.settings).max_branches)
        self.specs = SpecCache((self.settings.get("engine") or {}).get("spec_cache_size", 256))
        #: definition id -> (sha256, key, version); definitions are immutable, so this never goes stale.
        self.definition_refs: dict[int, tuple[str, str, int]] = {}
        self.job_settings = JobSettings.from_settings(self.settings)
        #: Job kind -> handler(engine, session, job, owner, now) -> timers fired (`engine.bootstrap`
        #: registers the built-in kinds; a kind ``x_<n>`` falls back to the handler of ``x``).
        self.job_handlers: dict[str, Callable[..., int]] = {}
        #: Service-task handler name -> handler(call: ServiceCall) (the domain registers its own).
        self.service_handlers: dict[str, Callable[..., Any]] = {}
        #: Called after a commit that wrote a job, with its due time (re-arms this process's worker).
        self.job_listeners: list[Callable[[datetime], None]] = []
        #: How many commands this process has committed; caches of derived reads key on it, so a
        #: change made here is seen at once.
        self.commits = 0
        self._commits_lock = threading.Lock()
        #: Run at the end of every job drain, as hook(engine, now); the domain sends its outbox here.
        self.drain_hooks: list[Callable[..., int]] = []
        #: What layers built on the engine keep on it (the domain's catalogue, providers, ...).
        self.extensions: dict[str, Any] = {}
        #: Checks of each task's extension properties at deploy; the domain adds its own (forms).
        self.property_lints: list[Callable[[Any], list[Any]]] = [lint_sla_properties]
        calendar_settings = self.settings.get("calendar") or {}
        self.calendars = CalendarCache(
            self.settings, self._load_calendar_days, float(calendar_settings.get("refresh_seconds", 30))
        )
        self.sla_config = load_sla_config(self.settings)
        self.sandbox.register_helper("business_days", self._business_days)

    def lint_task_properties(self, properties: Any) -> list[Any]:
        """Every problem the registered property lints find in one task's properties.

        Each is English text or a `DefinitionProblem` with its own code (the element is named by the caller).
        """
        return [problem for lint in self.property_lints for problem in lint(properties)]

    def register_service(self, name: str, handler: Callable[..., Any]) -> None:
        """Let service tasks call ``handler(call: ServiceCall)`` as ``name``."""
        self.service_handlers[name] = handler

    def register_job_handler(self, kind: str, handler: Callable[..., int]) -> None:
        """Let workers run jobs of ``kind`` with ``handler(engine, session, job, owner, now)``."""
        self.job_handlers[kind] = handler

    # -- calendar ---------------------------------------------------------------------------

    def _load_calendar_days(self) -> dict[date, Override]:
        with self.unit_of_work(readonly=True) as uow:
            return load_overrides(uow.session)

    def now(self) -> datetime:
        """The time in force: the clock of the running command, else the engine's clock."""
        clock = current_clock()
        return (clock or self.clock).now()

    def _business_days(self, days: int, start: Any = None) -> Any:
        """Script helper counting working days on the calendar.

        ``business_days(10)`` is the date-time 10 working days from now, as ISO text (usable as a
        timeDate timer); ``business_days(10, start)`` counts from ``start`` and gives back the
        same kind (a date, a date-time, or ISO text of either).
        """
        calendar = self.calendars.get()
        if start is None:
            return calendar.deadline(self.now(), days).isoformat()
        if isinstance(start, datetime):
            return calendar.deadline(start if start.tzinfo else start.replace(tzinfo=calendar.tz), days)
        if isinstance(start, date):
            return calendar.add_business_days(start, days)
        if isinstance(start, str):
            text = start.strip()
            if len(text) == 10:
                return calendar.add_business_days(parse_day(text), days).isoformat()
            try:
                parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
                parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=calendar.tz)
                return calendar.deadline(parsed, days).isoformat()
            except ValueError:
                raise InvalidInput(f"business_days(): {start!r} is not a date or date-time") from None
        raise InvalidInput(f"business_days(): start must be a date or date-time, not {type(start).__name__}")

    # -- units of work ----------------------------------------------------------------------

    def _notify_other_processes(self, session: Session) -> None:
        """Just before commit: one NOTIFY with the earliest job this transaction wrote."""
        earliest = earliest_due(session)
        if earliest is not None and self.job_settings.notify and session.get_bind().dialect.name == "postgresql":
            session.connection().execute(notify_statement(), {"due": earliest.isoformat()})

    def _commit(self, uow: UnitOfWork) -> None:
        session = uow.session
        audit.flush(session)
        self._notify_other_processes(session)
        info = session.info
        uow.commit()
        with self._commits_lock:  # request threads commit side by side; no increment may be lost
            self.commits += 1
        earliest = take_earliest_due(info)
        if earliest is not None:
            for listener in list(self.job_listeners):
                listener(earliest)

    def unit_of_work(self, readonly: bool = False) -> UnitOfWork:
        """Open a unit of work (one transaction); read-only ones do not take SQLite's write lock."""
        return UnitOfWork(self.readonly_sessions if readonly else self.sessions)

    def run(self, command: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``command(self, session, *args, **kwargs)`` in one transaction and commit it.

        When another transaction saved the same case between this one's read and its write, a
        command marked `engine.db.rerunnable` runs again against what the other saved (up to
        `_MAX_RERUNS` times, one for each other change saved meanwhile): its answer is then about
        the case as it is now (the task the other completed, the claim the other made), and a
        change the other did not touch goes through.

        Raises:
            Conflict: another transaction changed the same instance first (a command not marked
                rerunnable, or past its reruns), or the command refused what the other did.
            EngineError: what the command raised; changes are kept only when it says so.
        """
        reruns = _MAX_RERUNS if getattr(command, RERUNNABLE, False) else 0
        while True:
            try:
                return self._run_once(command, *args, **kwargs)
            except Conflict as exc:
                # Each such conflict means another change was saved: the reruns make progress.
                if exc.code != CASE_CHANGED or reruns == 0:
                    raise
                reruns -= 1

    def _run_once(self, command: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        with self.unit_of_work() as uow:
            saving = False
            try:
                result = command(self, uow.session, *args, **kwargs)
                saving = True
                self._commit(uow)
                return result
            except EngineError as exc:
                audit.discard(uow.session)
                if exc.keep_changes:
                    self._commit(uow)
                raise
            except StaleDataError:
                instance_id = uow.session.info.get("instance_id")
                uow.session.rollback()
                raise self.describe_conflict(uow.session, instance_id) from None
            except OperationalError as exc:
                # SQLite: another writer held the lock too long; PostgreSQL: a deadlock or a
                # serialization failure. Either way nothing was saved and trying again works.
                code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
                if exc.connection_invalidated or str(code or "")[:3] == "57P" or str(code or "")[:2] == "08":
                    # The connection died (the server ended it, or restarted): a clear refusal, not a 500.
                    uow.session.rollback()
                    raise Conflict("the connection to the database was lost while the change was being saved; "
                                   "reload to see whether it was saved" if saving else
                                   "the connection to the database was lost before the change was saved; "
                                   "nothing was saved; try again",
                                   code=DATABASE_LOST, params={"saving": saving}) from None
                if "database is locked" not in str(exc.orig) and code not in ("40P01", "40001"):
                    raise
                uow.session.rollback()
                raise Conflict("the database is busy with another change; try again in a moment",
                               code=DATABASE_BUSY) from None
            except IntegrityError as exc:
                uow.session.rollback()
                raise Conflict(
                    "another change was saved at the same moment; reload and try again "
                    f"({exc.orig.__class__.__name__})", code=SAVED_CONCURRENTLY,
                ) from None

    def query(self, query: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a read-only ``query(self, session, ...)`` in its own transaction."""
        with self.unit_of_work(readonly=True) as uow:
            return query(self, uow.session, *args, **kwargs)

    def describe_conflict(self, session: Session, instance_id: int | None) -> Conflict:
        """A `Conflict` that says who changed the instance last, and when."""
        latest = audit.last_change(session, instance_id) if instance_id is not None else None
        if latest is None:
            return Conflict("the case was changed by someone else first; reload and try again", code=CASE_CHANGED)
        return Conflict(
            f"the case was changed first by {latest.actor} ({latest.action} at "
            f"{latest.at.isoformat(timespec='seconds')}); reload and try again", code=CASE_CHANGED,
            params={"by": latest.actor, "action": latest.action, "at": latest.at},
        )

    def dispose(self) -> None:
        """Close every database connection."""
        self.db.dispose()
