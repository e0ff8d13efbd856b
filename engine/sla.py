"""SLA of human tasks: due time, warning time and an escalation chain, counted on the calendar.

An SLA is declared on the task in the diagram (SpiffWorkflow extension properties) ::

    <spiffworkflow:property name="slaDue" value="business_days(10)" />
    <spiffworkflow:property name="slaWarn" value="business_days(8)" />
    <spiffworkflow:property name="slaEscalation"
                            value="business_days(10) => supervisor; business_days(12) => director" />

or in ``config.yaml`` under ``sla: {process key: {element id: {due, warn, escalate: [{after, to}]}}}``
(the configuration wins). Each expression runs in the sandbox with the task's data when the
task opens and gives a date-time, a date (the end of that day), or an ISO-8601 duration counted
from the moment the task opened (``"PT4H"``).

``due_at`` and ``warn_at`` are kept in the task projection; on track / at risk / late is
computed by queries. The warning and each escalation level are jobs: at warning time the
assignee (or the lane) is notified through the outbox; at each escalation the task is offered to
the next group and the escalation is written to the audit log.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, not_

from engine import bpmn_problems
from engine.calendar import BusinessCalendar
from engine.clock import ensure_utc
from engine.errors import ConfigError, DefinitionProblem, InvalidInput, ScriptError
from engine.models import HumanTask
from engine.sandbox import Sandbox, check_expression
from engine.spiff import duration_after, iso_literal

ON_TRACK, AT_RISK, LATE = "on_track", "at_risk", "late"
SLA_STATES = (ON_TRACK, AT_RISK, LATE)
#: A task with neither a due nor a warning time: in none of `SLA_STATES`, never "on track".
NO_DEADLINE = "no_deadline"
#: What the SLA filters of the inbox, the API and the CLI accept.
SLA_FILTERS = (*SLA_STATES, NO_DEADLINE)


@dataclass(frozen=True)
class Escalation:
    """One level of the chain: when, and to which group."""

    after: str
    to: str


@dataclass(frozen=True)
class SlaSpec:
    """The expressions of a task's SLA."""

    due: str | None = None
    warn: str | None = None
    escalations: tuple[Escalation, ...] = field(default_factory=tuple)

    def expressions(self) -> list[tuple[str, str]]:
        """(what, expression) pairs, for linting."""
        found = [("due", self.due), ("warn", self.warn)]
        found += [(f"escalation to {e.to}", e.after) for e in self.escalations]
        return [(what, expr) for what, expr in found if expr]


@dataclass
class SlaTimes:
    """An SLA evaluated for one task."""

    due_at: datetime | None
    warn_at: datetime | None
    escalations: list[tuple[datetime, str]]


def spec_from_properties(properties: Mapping[str, str]) -> SlaSpec | None:
    """The SLA a diagram declares on a task, or None.

    Raises:
        ValueError: ``slaEscalation`` is malformed (the message says how to write it).
    """
    due, warn, chain = properties.get("slaDue"), properties.get("slaWarn"), properties.get("slaEscalation")
    if not (due or warn or chain):
        return None
    escalations = []
    for part in (chain or "").split(";"):
        if not part.strip():
            continue
        after, arrow, group = part.rpartition("=>")
        if not arrow or not after.strip() or not group.strip():
            raise ValueError(f"slaEscalation part {part.strip()!r} must read 'EXPRESSION => group'")
        escalations.append(Escalation(after.strip(), group.strip()))
    return SlaSpec(due=(due or "").strip() or None, warn=(warn or "").strip() or None, escalations=tuple(escalations))


def spec_from_config(entry: Any, where: str) -> SlaSpec:
    """The SLA configured for one element in ``config.yaml``.

    Raises:
        ConfigError: naming ``where`` and what is wrong.
    """
    if not isinstance(entry, Mapping):
        raise ConfigError(f"{where} must be a mapping with due, warn and escalate")
    unknown = set(entry) - {"due", "warn", "escalate"}
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)} (use due, warn, escalate)")
    escalations = []
    for index, level in enumerate(entry.get("escalate") or [], start=1):
        if not isinstance(level, Mapping) or not level.get("after") or not level.get("to"):
            raise ConfigError(f"{where}.escalate[{index}] needs 'after' (an expression) and 'to' (a group)")
        escalations.append(Escalation(str(level["after"]), str(level["to"])))
    spec = SlaSpec(
        due=str(entry["due"]) if entry.get("due") else None,
        warn=str(entry["warn"]) if entry.get("warn") else None,
        escalations=tuple(escalations),
    )
    for what, expression in spec.expressions():
        error = check_expression(expression)
        if error:
            raise ConfigError(f"{where}: {what} expression refused: {error}")
    return spec


def load_config(settings: Mapping[str, Any]) -> dict[tuple[str, str], SlaSpec]:
    """Every SLA of ``config.yaml``, keyed by (process key, element id)."""
    section = settings.get("sla") or {}
    if not isinstance(section, Mapping):
        raise ConfigError("sla must map process keys to elements")
    specs = {}
    for key, elements in section.items():
        if not isinstance(elements, Mapping):
            raise ConfigError(f"sla.{key} must map element ids to their SLA")
        for element, entry in elements.items():
            specs[(str(key), str(element))] = spec_from_config(entry, f"sla.{key}.{element}")
    return specs


def lint_properties(properties: Mapping[str, str]) -> list[DefinitionProblem]:
    """Every problem of the SLA properties of one task (empty when fine); the element is named by the caller."""
    problems = []
    for name, which, what in (("slaDue", "deadline", "due"), ("slaWarn", "warning time", "warn")):
        expression = (properties.get(name) or "").strip()
        literal = iso_literal(expression)
        if literal is not None:
            if not _literal_instant(literal):
                problems.append(bpmn_problems.problem(
                    bpmn_problems.SLA_VALUE, which=which, value=literal,
                    message=f"SLA {what} {literal!r} is not an ISO-8601 duration or date-time"))
        elif expression and (error := check_expression(expression)):
            problems.append(bpmn_problems.problem(bpmn_problems.SLA_REFUSED, which=which,
                                                  detail=bpmn_problems.clean(error),
                                                  message=f"SLA {what} expression refused: {error}"))
    try:
        chain = spec_from_properties({"slaEscalation": properties.get("slaEscalation", "")})
    except ValueError as exc:
        problems.append(bpmn_problems.problem(bpmn_problems.SLA_ESCALATION, message=str(exc),
                                              value=bpmn_problems.clean(properties.get("slaEscalation", ""), 80)))
    else:
        for escalation in chain.escalations if chain else ():
            literal = iso_literal(escalation.after)
            if literal is not None:
                if not _literal_instant(literal):
                    problems.append(bpmn_problems.problem(
                        bpmn_problems.SLA_VALUE, which="escalation", value=literal,
                        message=f"SLA escalation to {escalation.to} {literal!r} is not an ISO-8601 duration or "
                                "date-time"))
            elif error := check_expression(escalation.after):
                problems.append(bpmn_problems.problem(
                    bpmn_problems.SLA_REFUSED, which="escalation", detail=bpmn_problems.clean(error),
                    message=f"SLA escalation to {escalation.to} expression refused: {error}"))
    return problems


def _literal_instant(text: str) -> bool:
    """Whether ISO text written in an SLA property is a duration or a date-time it can count."""
    try:
        if text.upper().startswith("P"):
            duration_after(text, datetime(2026, 1, 1))
        else:
            datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def evaluate(
    spec: SlaSpec, data: Mapping[str, Any], opened_at: datetime, *, sandbox: Sandbox, calendar: BusinessCalendar
) -> SlaTimes:
    """Evaluate an SLA for a task that opened at ``opened_at`` with ``data``.

    Raises:
        ScriptError: an expression failed or gave something that is not a time.
    """

    def when(expression: str | None) -> datetime | None:
        if not expression:
            return None
        literal = iso_literal(expression)  # P7D as other tools write it, not an expression
        try:
            value = literal if literal is not None else sandbox.evaluate(expression, data)
        except ScriptError:
            raise
        except Exception as exc:  # noqa: BLE001 - whatever the expression raised, reported as such
            raise ScriptError(f"SLA expression {expression!r} failed: {type(exc).__name__}: {exc}") from None
        return _as_instant(calendar, value, opened_at, expression)

    escalations = [(when(e.after), e.to) for e in spec.escalations]
    return SlaTimes(
        due_at=when(spec.due),
        warn_at=when(spec.warn),
        escalations=[(at, group) for at, group in escalations if at is not None],
    )


def _as_instant(calendar: BusinessCalendar, value: Any, opened_at: datetime, expression: str) -> datetime:
    if isinstance(value, datetime):
        # A time without a zone is read in the calendar's zone, as timers read it.
        return ensure_utc(value if value.tzinfo else value.replace(tzinfo=calendar.tz))
    if isinstance(value, date):
        return datetime.combine(value, time(23, 59, 59), tzinfo=calendar.tz).astimezone(opened_at.tzinfo)
    if isinstance(value, timedelta):
        return opened_at + value
    if isinstance(value, str):
        text = value.strip()
        if text.upper().startswith("P"):
            try:
                return duration_after(text, opened_at)
            except ValueError:
                pass
        else:
            try:
                parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
                return ensure_utc(parsed if parsed.tzinfo else parsed.replace(tzinfo=calendar.tz))
            except ValueError:
                pass
    raise ScriptError(f"SLA expression {expression!r} gave {value!r}, not a date-time, date or ISO duration")


def sla_state(due_at: datetime | None, warn_at: datetime | None, now: datetime) -> str | None:
    """on_track, at_risk or late (None for a task without a deadline)."""
    if due_at is None and warn_at is None:
        return None
    if due_at is not None and now >= due_at:
        return LATE
    if warn_at is not None and now >= warn_at:
        return AT_RISK
    return ON_TRACK


def sla_condition(state: str, now: datetime, columns: Any = None) -> Any:
    """`sla_state` as a WHERE condition: the tasks in SLA ``state`` at ``now``.

    ``state`` may also be `NO_DEADLINE`: the tasks `sla_state` gives None for. Each task is in
    exactly one of `SLA_FILTERS`. ``columns`` is a selectable with ``due_at`` and ``warn_at``
    columns (a subquery of tasks); by default the task table itself.

    Raises:
        InvalidInput: ``state`` is not one of `SLA_FILTERS`.
    """
    due = columns.c.due_at if columns is not None else HumanTask.due_at
    warn = columns.c.warn_at if columns is not None else HumanTask.warn_at
    late = and_(due.is_not(None), due <= now)
    risky = and_(warn.is_not(None), warn <= now)
    if state == LATE:
        return late
    if state == AT_RISK:
        return and_(risky, not_(late))
    unset = and_(due.is_(None), warn.is_(None))
    if state == ON_TRACK:
        # A task without any deadline is not "on track": it has nothing to be on track for.
        return and_(not_(late), not_(risky), not_(unset))
    if state == NO_DEADLINE:
        return unset
    raise InvalidInput(f"SLA state must be one of {', '.join(SLA_FILTERS)}, not {state!r}")
