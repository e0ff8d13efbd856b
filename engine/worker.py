"""A worker: runs due jobs in this process, woken on time instead of polling slowly.

APScheduler 3 (a background scheduler, one per process) runs the drain loop

* at the earliest ``due_at`` of the pending jobs (re-armed after every drain);
* when a command in this process commits a job due earlier (`CaseEngine.job_listeners`);
* when another process writes a job, through PostgreSQL ``LISTEN tawasul_jobs``;
* and on a short safety poll (``jobs.poll_seconds``, default 2 s).

A heartbeat renews the locks of the jobs this worker holds, so a long job keeps its lock while
the worker lives; if the worker dies the locks expire and other workers take the jobs.
The job table, not the scheduler's memory, is the truth: a restarted worker loses nothing.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.engine import make_url

from engine.job_rows import JobSettings
from engine.jobs import RunReport, new_owner, next_due_at, renew_locks, run_due_jobs

if TYPE_CHECKING:
    from engine.context import CaseEngine

log = logging.getLogger("tawasul.worker")


class Worker:
    """Runs due jobs of one `CaseEngine` in background threads of this process."""

    def __init__(
        self,
        engine: CaseEngine,
        settings: JobSettings | None = None,
        owner: str | None = None,
        listen: bool | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings or engine.job_settings
        self.owner = owner or new_owner()
        is_postgres = engine.db.dialect.name == "postgresql"
        self.listen = (self.settings.notify and is_postgres) if listen is None else listen
        self.totals = RunReport()
        #: Ids of the jobs this worker has in hand; the heartbeat renews only these.
        self.held: set[int] = set()
        self._scheduler: BackgroundScheduler | None = None
        self._drain_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._again = False
        self._armed_at: datetime | None = None
        self._stopping = threading.Event()
        self._listener: threading.Thread | None = None
        #: Set after each drain; tests and tools wait on it.
        self.drained = threading.Event()

    # -- life -----------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the scheduler (and the NOTIFY listener on PostgreSQL)."""
        scheduler = BackgroundScheduler(
            timezone=UTC, job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None}
        )
        scheduler.add_job(self._drain, "interval", seconds=self.settings.poll_seconds, id="tawasul-poll",
                          next_run_time=datetime.now(UTC))
        scheduler.add_job(self._heartbeat, "interval", seconds=max(self.settings.lock_seconds / 3, 0.5),
                          id="tawasul-heartbeat")
        scheduler.start()
        self._scheduler = scheduler
        self.engine.job_listeners.append(self.wake)
        if self.listen:
            self._listener = threading.Thread(target=self._listen, name="tawasul-listen", daemon=True)
            self._listener.start()
        log.info("worker %s started (poll %.1fs, lock %.0fs)", self.owner, self.settings.poll_seconds,
                 self.settings.lock_seconds)

    def stop(self) -> None:
        """Stop taking jobs; the job running now finishes first."""
        self._stopping.set()
        if self.wake in self.engine.job_listeners:
            self.engine.job_listeners.remove(self.wake)
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=True)
            self._scheduler = None
        if self._listener is not None:
            self._listener.join(timeout=5)
        log.info("worker %s stopped", self.owner)

    # -- waking ---------------------------------------------------------------------------------

    def wake(self, due_at: datetime | None = None) -> None:
        """Run the drain at ``due_at`` (now if None or past), unless one is armed earlier."""
        scheduler = self._scheduler
        if scheduler is None or self._stopping.is_set():
            return
        now = datetime.now(UTC)
        at = now if due_at is None or due_at <= now else due_at
        with self._state_lock:
            if self._armed_at is not None and self._armed_at <= at:
                return
            self._armed_at = at
        # Several may be pending at once: a wake must never be skipped because one is running
        # (the drain itself runs one at a time and goes round again when asked).
        scheduler.add_job(self._wake_run, "date", run_date=at, id=f"tawasul-wake-{at.timestamp()}",
                          replace_existing=True, max_instances=100)

    def _wake_run(self) -> None:
        with self._state_lock:
            self._armed_at = None
        self._drain()

    def _drain(self) -> None:
        if not self._drain_lock.acquire(blocking=False):
            self._again = True  # the running drain goes round once more
            return
        try:
            while not self._stopping.is_set():
                self._again = False
                report = run_due_jobs(self.engine, owner=self.owner, settings=self.settings, held=self.held)
                self.totals.add(report)
                if not self._again:
                    break
            with self._state_lock:
                self._armed_at = None  # whatever was armed has been served by this drain
            upcoming = next_due_at(self.engine)
            if upcoming is not None:
                self.wake(upcoming)
        except Exception:  # noqa: BLE001 - the database may be away; the next poll tries again
            log.exception("worker %s: drain failed", self.owner)
        finally:
            self._drain_lock.release()
            self.drained.set()

    def _heartbeat(self) -> None:
        try:
            renew_locks(self.engine, self.owner, self.settings.lock_seconds, set(self.held))
        except Exception:  # noqa: BLE001 - the next beat tries again
            log.exception("worker %s: heartbeat failed", self.owner)

    def _listen(self) -> None:
        import psycopg  # only PostgreSQL deployments listen

        url = make_url(self.engine.database_url).set(drivername="postgresql")
        conninfo = url.render_as_string(hide_password=False)
        while not self._stopping.is_set():
            try:
                with psycopg.connect(conninfo, autocommit=True) as connection:
                    connection.execute("LISTEN tawasul_jobs")
                    while not self._stopping.is_set():
                        for notice in connection.notifies(timeout=1.0):
                            try:
                                due = datetime.fromisoformat(notice.payload)
                            except ValueError:
                                due = None
                            self.wake(due)
            except Exception:  # noqa: BLE001 - reconnect after a pause
                log.exception("worker %s: LISTEN connection lost", self.owner)
                self._stopping.wait(1.0)
