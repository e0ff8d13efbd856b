"""Errors the engine raises: each carries a message a person can act on."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: Every code an error below ``web/`` can carry, with the names of the parameters it carries.
#: Pages put each code into their own language (``web/refusals.py``); a test walks this registry,
#: so a code added without wording fails it. The ``message`` stays technical English for the API and CLI.
CODES: dict[str, tuple[str, ...]] = {}


def error_code(name: str, *params: str) -> str:
    """Register the code ``name`` and the parameters its errors carry; return ``name``."""
    CODES[name] = params
    return name


#: A field's value is missing (``field``).
REQUIRED = error_code("required", "field")
#: A field's value is not one of those allowed (``field``, ``value``, ``allowed``).
NOT_A_CHOICE = error_code("not_a_choice", "field", "value", "allowed")
#: A field's value is too long (``field``, ``limit``).
TOO_LONG = error_code("too_long", "field", "limit")
#: Several problems at once: ``problems`` is a list of ``(code, params)``.
SEVERAL = error_code("several", "problems")
#: The actor may not do ``action`` (``actor``; ``roles`` that may, when known).
NOT_ALLOWED = error_code("not_allowed", "action", "actor", "roles")
#: Nothing of ``what`` (instance, task, request, member, user, ...) is known by ``ident``.
NO_SUCH = error_code("no_such", "what", "ident")


class EngineError(Exception):
    """Base class of every error the engine reports to a caller."""

    #: A short machine-readable kind, used by the CLI and the web layer to pick a status.
    kind = "error"

    def __init__(self, message: str, keep_changes: bool = False, code: str | None = None,
                 params: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        #: True when the command is refused but what it did first must still be committed
        #: (a timer that fired before the refusal, an instance put in error).
        self.keep_changes = keep_changes
        #: What went wrong as a short name, for a page to put into its own words (None: not named).
        self.code = code
        #: The values the code's wording names (a field, a file name, who and when), never translated here.
        self.params: dict[str, Any] = dict(params or {})

    def __str__(self) -> str:
        return self.message


class ConfigError(EngineError):
    """A setting is missing or malformed."""

    kind = "config"


class InvalidInput(EngineError):
    """An argument given to a command is malformed (bad JSON, unknown version, ...)."""

    kind = "invalid"


class NotFound(EngineError):
    """The definition, instance or task named does not exist."""

    kind = "not_found"


class Forbidden(EngineError):
    """The actor may not do this (lane not held, task assigned to someone else, ...)."""

    kind = "forbidden"


class Conflict(EngineError):
    """Someone else changed the instance first, or the task is no longer open."""

    kind = "conflict"


#: `Conflict.code` when the task has closed: ``by`` and ``at`` when someone completed it, else ``reason``
#: (``cancelled``, ``migrated``, ``moved_on``, ``overtaken``: the case moved on before the change).
TASK_CLOSED = error_code("task_closed", "task", "by", "at", "reason")
#: `Conflict.code` when someone else holds the task (``task``, ``assignee``).
CLAIMED_BY_OTHER = error_code("claimed_by_other", "task", "assignee")
#: `Conflict.code` when another transaction saved the same case between this one's read and write
#: (`CaseEngine.run` tries such a command once more, against what the other one saved).
CASE_CHANGED = error_code("case_changed", "by", "action", "at")
#: The case is not running (``instance``, ``status``; ``element`` when it is in error).
CASE_NOT_RUNNING = error_code("case_not_running", "instance", "status", "element")
#: The database was lost (``saving``: True when the change may have been saved), busy, or a
#: concurrent write hit a unique constraint.
DATABASE_LOST = error_code("database_lost", "saving")
DATABASE_BUSY = error_code("database_busy")
SAVED_CONCURRENTLY = error_code("saved_concurrently")
#: The task is in a lane (``lane``) the actor does not hold (``task``).
LANE_NOT_HELD = error_code("lane_not_held", "task", "lane")
#: A job (``job``) that is not an incident (``status``) cannot be retried as one.
JOB_NOT_INCIDENT = error_code("job_not_incident", "job", "status")
#: A process (``process``) has no deployed ``version`` (None: none at all), or its BPMN lost it.
NO_DEFINITION = error_code("no_definition", "process", "version")
#: A task was assigned to no one (``assign_task`` with an empty name).
ASSIGNEE_MISSING = error_code("assignee_missing")
#: Case data or a business key that cannot be stored (``key`` names the culprit when there is one).
INVALID_DATA = error_code("invalid_data", "key")


class InstanceNotRunning(Conflict):
    """The instance is completed, cancelled, or waiting for a retry after an error."""


class DefinitionProblem:
    """One problem found in a BPMN file: where it is and what is wrong.

    ``message`` is English for the CLI and the API; ``code`` and ``params`` let a page word it in
    its own language (``web.refusals.definition_problem_message``); ``severity`` is ``error``
    (deploying is refused) or ``warning`` (said, not refused).
    """

    __slots__ = ("code", "element_id", "line", "message", "params", "severity")

    def __init__(self, message: str, element_id: str | None = None, line: int | None = None,
                 code: str | None = None, params: Mapping[str, Any] | None = None, severity: str = "error") -> None:
        self.message = message
        self.element_id = element_id
        self.line = line
        self.code = code or DEFINITION_PROBLEM
        self.params: dict[str, Any] = dict(params) if params is not None else {"detail": message}
        self.severity = severity

    def __str__(self) -> str:
        where = []
        if self.element_id:
            where.append(f"element '{self.element_id}'")
        if self.line:
            where.append(f"line {self.line}")
        return f"{', '.join(where)}: {self.message}" if where else self.message

    def __repr__(self) -> str:
        return f"DefinitionProblem({self.code}, {self.element_id!r}, {self.message!r})"

    def as_dict(self) -> dict[str, object]:
        """Return the problem as a JSON-ready dict."""
        return {"element_id": self.element_id, "line": self.line, "message": self.message, "code": self.code,
                "params": self.params, "severity": self.severity}


#: A problem of a BPMN file with no code of its own (``detail`` is its English text).
DEFINITION_PROBLEM = error_code("bpmn_problem", "detail")


class InvalidDefinition(EngineError):
    """A BPMN file was refused at deploy time; ``problems`` lists every problem found."""

    kind = "invalid_definition"

    def __init__(self, source: str, problems: list[DefinitionProblem]) -> None:
        self.source = source
        self.problems = problems
        listed = "; ".join(str(p) for p in problems)
        super().__init__(f"{source}: {listed}")


class ScriptError(EngineError):
    """A script, condition or timer expression was refused by the sandbox or failed."""

    kind = "script"
