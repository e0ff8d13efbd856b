"""Errors the engine raises: each carries a message a person can act on."""

from __future__ import annotations


class EngineError(Exception):
    """Base class of every error the engine reports to a caller."""

    #: A short machine-readable kind, used by the CLI and the web layer to pick a status.
    kind = "error"

    def __init__(self, message: str, keep_changes: bool = False, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        #: True when the command is refused but what it did first must still be committed
        #: (a timer that fired before the refusal, an instance put in error).
        self.keep_changes = keep_changes
        #: What went wrong as a short name, for a page to put into its own words (None: not named).
        self.code = code

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


#: `Conflict.code` when the task has closed (completed by someone, or the case moved on).
TASK_CLOSED = "task_closed"
#: `Conflict.code` when someone else holds the task.
CLAIMED_BY_OTHER = "claimed_by_other"
#: `Conflict.code` when another transaction saved the same case between this one's read and write
#: (`CaseEngine.run` tries such a command once more, against what the other one saved).
CASE_CHANGED = "case_changed"


class InstanceNotRunning(Conflict):
    """The instance is completed, cancelled, or waiting for a retry after an error."""


class DefinitionProblem:
    """One problem found in a BPMN file: where it is and what is wrong."""

    __slots__ = ("element_id", "line", "message")

    def __init__(self, message: str, element_id: str | None = None, line: int | None = None) -> None:
        self.message = message
        self.element_id = element_id
        self.line = line

    def __str__(self) -> str:
        where = []
        if self.element_id:
            where.append(f"element '{self.element_id}'")
        if self.line:
            where.append(f"line {self.line}")
        return f"{', '.join(where)}: {self.message}" if where else self.message

    def as_dict(self) -> dict[str, object]:
        """Return the problem as a JSON-ready dict."""
        return {"element_id": self.element_id, "line": self.line, "message": self.message}


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
