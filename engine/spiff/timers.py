"""Timers: the engine's clock inside SpiffWorkflow, timer values, and timer start planning.

SpiffWorkflow reads ``datetime.now(timezone.utc)`` inside its timer module and offers no clock
hook, so that module's ``datetime`` is replaced by one that reads the clock of the running
command (`using_clock`). Timer values are ISO-8601 text; this module checks them at deploy
and when a timer starts, and plans the occurrences of timer start events.
"""

from __future__ import annotations

import contextvars
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions import timer as timer_module
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimerEventDefinition,
)

from engine.clock import Clock, FrozenClock, SystemClock, ensure_utc
from engine.errors import ScriptError
from engine.sandbox import Sandbox

_clock: contextvars.ContextVar[Clock | None] = contextvars.ContextVar("tawasul_clock", default=None)
_SYSTEM_CLOCK = SystemClock()


class _ClockedDatetime(datetime):
    """Stands in for ``datetime`` inside SpiffWorkflow's timer module, reading our clock.

    SpiffWorkflow fires a timer when ``due < now`` (strictly); the job runner fires a job due
    at T with the clock at T plus one microsecond, so ``--now 08:00:00`` fires a timer due then.
    """

    @classmethod
    def now(cls, tz: Any = None) -> datetime:  # type: ignore[override]
        current = (_clock.get() or _SYSTEM_CLOCK).now()
        return current.astimezone(tz) if tz is not None else current.replace(tzinfo=None)


def install_clock_adapter() -> None:
    """Make SpiffWorkflow's timer module read the running command's clock (idempotent)."""
    if timer_module.datetime is not _ClockedDatetime:
        timer_module.datetime = _ClockedDatetime


def current_clock() -> Clock | None:
    """The clock set by `using_clock` around the running command, if any."""
    return _clock.get()


def clock_now() -> datetime:
    """The time of the running command's clock (the wall clock outside a command)."""
    return (_clock.get() or _SYSTEM_CLOCK).now()


@contextmanager
def using_clock(clock: Clock) -> Iterator[None]:
    """Make SpiffWorkflow's timers read ``clock`` for the duration of the block."""
    install_clock_adapter()
    token = _clock.set(clock)
    try:
        yield
    finally:
        _clock.reset(token)


# -- timer values -------------------------------------------------------------------------------

_KINDS = {
    CycleTimerEventDefinition: "cycle such as R3/PT1H",
    DurationTimerEventDefinition: "duration such as P10D or PT2H",
}
_DATE_TIME = "date-time such as 2026-12-01T08:00:00+03:00"


def is_timer(event: Any) -> bool:
    """True when ``event`` (a task spec's event definition) is a BPMN timer."""
    return isinstance(event, TimerEventDefinition)


def is_cycle(event: Any) -> bool:
    """True when ``event`` is a cycle timer (``R3/PT1H``)."""
    return isinstance(event, CycleTimerEventDefinition)


#: The shortest period a cycle may repeat at: anything shorter would keep a case busy firing.
MIN_CYCLE_SECONDS = 60


def value_problem(event: TimerEventDefinition, value: Any) -> str | None:
    """Why a timer expression's value cannot drive ``event``, or None when it can.

    A cycle must advance: its period is at least `MIN_CYCLE_SECONDS` (``R/PT0S`` would fire
    for ever within one command).
    """
    issue = value_issue(event, value)
    return issue[2] if issue is not None else None


def value_issue(event: TimerEventDefinition, value: Any) -> tuple[str, dict[str, Any], str] | None:
    """`value_problem` as (verdict, params, English message), or None.

    The verdict is ``not_text``, ``not_iso`` (params ``value``, ``kind``: duration, cycle or date),
    ``too_far`` (``value``) and ``too_short`` (``value``, ``count``: seconds).
    """
    kind = "cycle" if isinstance(event, CycleTimerEventDefinition) else \
        "duration" if isinstance(event, DurationTimerEventDefinition) else "date"
    if not isinstance(value, str):
        return ("not_text", {"value": _cut(repr(value))},
                f"timer value {value!r} is not ISO-8601 text (for example \"P10D\")")
    try:
        if isinstance(event, CycleTimerEventDefinition):
            _, _, period = TimerEventDefinition.parse_iso_recurring_interval(value)
            if period.total_seconds() < MIN_CYCLE_SECONDS:
                return ("too_short", {"value": _cut(value), "count": round(period.total_seconds(), 3)},
                        f"timer cycle {_shown(value)} repeats every {period.total_seconds():g} seconds; a cycle's "
                        f"period must be at least {MIN_CYCLE_SECONDS} seconds (PT1M)")
            clock_now() + period  # its next occurrence must fit a date too
        elif isinstance(event, DurationTimerEventDefinition):
            parsed = TimerEventDefinition.parse_iso_duration(value)
            # The due time as SpiffWorkflow will compute it: a parsable duration may still not fit a date.
            TimerEventDefinition.get_timedelta_from_start(parsed, clock_now()) + clock_now()
        elif not isinstance(TimerEventDefinition.parse_time_or_duration(value), datetime):
            return ("not_iso", {"value": _cut(value), "kind": kind},
                    f"timer value {value!r} is not an ISO-8601 {_DATE_TIME} (it is a duration)")
    except OverflowError:
        return ("too_far", {"value": _cut(value)},
                f"timer value {_shown(value)} is too large: its due time would fall after the year 9999")
    except Exception:  # noqa: BLE001 - SpiffWorkflow raises bare Exception / ValueError / AttributeError
        return ("not_iso", {"value": _cut(value), "kind": kind},
                f"timer value {_shown(value)} is not an ISO-8601 {_KINDS.get(type(event), _DATE_TIME)}")
    return None


def _cut(text: str) -> str:
    return text if len(text) <= 80 else text[:60] + "…"


# -- ISO-8601 written as plain text -----------------------------------------------------------

#: What reads as ISO-8601 (a duration, a date, a cycle) rather than as an expression.
_ISO_LIKE = re.compile(r"(?:R\d*/)?(?:P[0-9T]|\d{4}-\d{2}-\d{2})")
#: The characters ISO-8601 values are written with: an expression has spaces, quotes, brackets...
_ISO_CHARACTERS = re.compile(r"[0-9A-Za-z:.,+\-/]+")


def iso_literal(text: str | None) -> str | None:
    """The ISO-8601 value ``text`` is written as, or None when it is an expression.

    ``P7D``, ``R6/P1D``, ``2026-12-31T10:00:00Z`` are values; ``business_days(10)`` and ``"PT4H"``
    are expressions.

    Other tools write timers as plain ISO text; Tawasul also accepts a Python expression giving
    that text. Text that starts like an ISO value and holds only its characters is read as one
    (a malformed one, ``P14X``, too: its check then says what is wrong with it).
    """
    value = (text or "").strip()
    if _ISO_LIKE.match(value) and _ISO_CHARACTERS.fullmatch(value):
        return value
    return None


def quote_literal_timers(specs: Any) -> None:
    """Let each timer written as plain ISO text (``P7D``) run as the string it is (``'P7D'``).

    SpiffWorkflow evaluates a timer's text as an expression; ``specs`` are process specs.
    """
    for spec in specs:
        for task_spec in spec.task_specs.values():
            event = getattr(task_spec, "event_definition", None)
            if isinstance(event, TimerEventDefinition):
                literal = iso_literal(event.expression)
                if literal is not None:
                    event.expression = repr(literal)


def _shown(value: str) -> str:
    """``value`` quoted, cut short when a hostile diagram makes it long."""
    return repr(value) if len(value) <= 80 else repr(value[:60]) + f"... ({len(value)} characters)"


def with_zone(value: Any, zone: tzinfo) -> Any:
    """An ISO date-time without a zone, given ``zone``; anything else unchanged."""
    if not isinstance(value, str) or value.upper().startswith(("P", "R")):
        return value
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return value
    return parsed.replace(tzinfo=zone).isoformat() if parsed.tzinfo is None else value


def duration_after(text: str, start: datetime) -> datetime:
    """``start`` plus an ISO-8601 duration (``P10D``, ``PT4H``, ``P1M``); months count real lengths.

    Raises:
        ValueError: ``text`` is not an ISO-8601 duration.
    """
    try:
        parsed = TimerEventDefinition.parse_iso_duration(text)
        return start + TimerEventDefinition.get_timedelta_from_start(parsed, start)
    except Exception:  # noqa: BLE001 - SpiffWorkflow raises bare Exception for bad durations
        raise ValueError(f"not an ISO-8601 duration: {text!r}") from None


def due_time(value: Any) -> datetime | None:
    """The due time (aware, UTC) of a waiting timer's stored value, or None when it has none."""
    if isinstance(value, dict):
        value = value.get("next") if value.get("cycles") != 0 else None
    if not value:
        return None
    try:
        parsed = TimerEventDefinition.get_datetime(value)
    except (TypeError, ValueError):
        return None
    return ensure_utc(datetime.fromisoformat(parsed.isoformat()))


# -- timer start events -------------------------------------------------------------------------


class StartTimerError(ScriptError):
    """A timer start event's expression failed or gave no usable value; ``element_id`` names the event."""

    def __init__(self, element_id: str, message: str) -> None:
        super().__init__(message)
        self.element_id = element_id


@dataclass
class StartTimerPlan:
    """When a timer start event first fires, how many more times, and how far apart."""

    element_id: str
    due_at: datetime
    #: Further occurrences after the first: 0 for a date or a duration, -1 for an unbounded cycle.
    remaining: int
    interval_seconds: float


def start_timer_plans(sandbox: Sandbox, spec: Any, now: datetime) -> list[StartTimerPlan]:
    """The timer start events of a process spec and their first occurrence after ``now``.

    Raises:
        StartTimerError: the timer expression fails or is not an ISO-8601 value (a `ScriptError`).
    """
    plans = []
    for task_spec in spec.task_specs.values():
        event = getattr(task_spec, "event_definition", None)
        if type(task_spec).__name__ != "StartEvent" or not isinstance(event, TimerEventDefinition):
            continue
        element = task_spec.bpmn_id or task_spec.name
        try:
            value = sandbox.evaluate(event.expression, {})
        except ScriptError as exc:
            raise StartTimerError(element, exc.message) from None
        except Exception as exc:  # noqa: BLE001 - the expression's own failure, reported as such
            raise StartTimerError(element, f"timer start event '{element}': {type(exc).__name__}: {exc}") from None
        token = _clock.set(FrozenClock(now))
        try:
            if isinstance(event, CycleTimerEventDefinition):
                cycles, start, duration = TimerEventDefinition.parse_iso_recurring_interval(value)
                if cycles == 0:
                    continue
                remaining = -1 if cycles < 0 else cycles - 1
                plans.append(StartTimerPlan(element, _plain(start), remaining, duration.total_seconds()))
            elif isinstance(event, DurationTimerEventDefinition):
                plans.append(StartTimerPlan(element, duration_after(value, now), 0, 0.0))
            else:
                plans.append(StartTimerPlan(element, _plain(TimerEventDefinition.get_datetime(value)), 0, 0.0))
        except ScriptError:
            raise
        except Exception:  # noqa: BLE001 - SpiffWorkflow raises bare Exception for bad values
            problem = value_problem(event, value) or f"{value!r} is not an ISO-8601 timer value"
            raise StartTimerError(element, f"timer start event '{element}': {problem}") from None
        finally:
            _clock.reset(token)
    return plans


def force_start_timer(workflow: Any, element_id: str) -> None:
    """Let the timer start event ``element_id`` of a new workflow pass at once (it has just fired).

    Raises:
        ValueError: the workflow has no such start event.
    """
    past = clock_now() - timedelta(seconds=1)
    for task in workflow.get_tasks():
        if task.task_spec.bpmn_id != element_id:
            continue
        event = getattr(task.task_spec, "event_definition", None)
        if isinstance(event, CycleTimerEventDefinition):
            # One occurrence in this instance; the scheduler starts a new instance for the next.
            task.internal_data["event_value"] = {"cycles": 1, "next": past.isoformat(), "duration": 0.0}
        elif isinstance(event, TimerEventDefinition):
            task.internal_data["event_value"] = past.isoformat()
        return
    raise ValueError(f"no start event {element_id!r}")


def skip_missed_cycles(workflow: Any, waiting: Any) -> None:
    """Let a cycle timer that missed occurrences (the workers were down) fire once now.

    Without this SpiffWorkflow would run one path per missed occurrence in one burst; the
    missed occurrences count as used. ``waiting`` is the workflow's WAITING task state.
    """
    now = clock_now()
    for task in workflow.get_tasks(state=waiting):
        value = task.internal_data.get("event_value")
        event = getattr(task.task_spec, "event_definition", None)
        if not isinstance(event, CycleTimerEventDefinition) or not isinstance(value, dict):
            continue
        interval = float(value.get("duration") or 0)
        cycles = value.get("cycles", 0)
        if interval <= 0 or cycles == 0:
            continue
        due = datetime.fromisoformat(value["next"])
        missed = int((now - due).total_seconds() // interval)
        if missed <= 0:
            continue
        if cycles > 0:
            missed = min(missed, cycles - 1)
            value["cycles"] = cycles - missed
        value["next"] = (due + timedelta(seconds=interval * missed)).isoformat()


def _plain(value: datetime) -> datetime:
    return ensure_utc(datetime.fromisoformat(value.isoformat()))


__all__ = [
    "StartTimerError", "StartTimerPlan", "clock_now", "current_clock", "due_time", "duration_after",
    "force_start_timer", "install_clock_adapter", "is_cycle", "is_timer", "iso_literal",
    "quote_literal_timers", "skip_missed_cycles",
    "start_timer_plans", "using_clock", "value_issue", "value_problem", "with_zone",
]
