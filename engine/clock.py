"""The one clock the engine reads.

Every command takes its time from a `Clock`; SpiffWorkflow's timers read the same clock
through the adapter in `engine.spiff`. Tests use `FrozenClock` and move it forward instead of
sleeping.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Something that tells the current time, always timezone-aware UTC."""

    def now(self) -> datetime:
        """Return the current time (aware, UTC)."""
        ...


class SystemClock:
    """The wall clock."""

    def now(self) -> datetime:
        """Return the wall-clock time in UTC."""
        return datetime.now(UTC)


class FrozenClock:
    """A clock that stands still until told to move; for tests and ``jobs run-due --now``."""

    def __init__(self, at: datetime | None = None) -> None:
        self._lock = threading.Lock()
        self._now = ensure_utc(at) if at is not None else datetime.now(UTC).replace(microsecond=0)

    def now(self) -> datetime:
        """Return the time the clock stands at."""
        with self._lock:
            return self._now

    def set(self, at: datetime) -> None:
        """Move the clock to ``at`` (aware; naive values are taken as UTC)."""
        with self._lock:
            self._now = ensure_utc(at)

    def advance(self, delta: timedelta | None = None, **kwargs: float) -> datetime:
        """Move the clock forward by ``delta`` (or ``timedelta(**kwargs)``) and return the new time."""
        step = delta if delta is not None else timedelta(**kwargs)
        with self._lock:
            self._now = self._now + step
            return self._now


def ensure_utc(value: datetime) -> datetime:
    """Return ``value`` as an aware UTC datetime; naive values are taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def parse_instant(text: str) -> datetime:
    """Parse an ISO-8601 instant (``2026-12-01T08:00:00Z``, offsets allowed; naive means UTC).

    Raises:
        ValueError: with a message naming the text.
    """
    raw = text.strip()
    if raw.endswith(("Z", "z")):
        raw = raw[:-1] + "+00:00"
    try:
        return ensure_utc(datetime.fromisoformat(raw))
    except ValueError:
        raise ValueError(f"not an ISO-8601 date-time: {text!r} (example: 2026-12-01T08:00:00Z)") from None
