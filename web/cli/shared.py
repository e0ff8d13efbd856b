"""What every area of the ``tawasul`` command shares: the table entry, errors, argument types."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NoReturn

from sqlalchemy.engine import make_url

from engine.actors import Actor
from engine.clock import parse_instant
from workflows.bootstrap import CaseEngine

_EASTERN_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩", "0123456789")


class CliError(Exception):
    """A message for the user and an exit code."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


class Parser(argparse.ArgumentParser):
    """An argument parser whose mistakes are a `CliError` (one line on stderr, exit 2)."""

    def error(self, message: str) -> NoReturn:
        raise CliError(f"{self.prog}: {message} (see --help)")


class PlainText(str):
    """What a subcommand prints as it is (a file's content), not as JSON."""


#: A subcommand's work: (engine, actor, parsed arguments) -> what to print as JSON (None: nothing).
Run = Callable[[CaseEngine, Actor, argparse.Namespace], Any]


def _no_arguments(parser: argparse.ArgumentParser) -> None:
    return None


@dataclass(frozen=True)
class Command:
    """One entry of the command's table: ``name`` is one word, or a group and an action ("jobs list")."""

    name: str
    help: str
    run: Run
    arguments: Callable[[argparse.ArgumentParser], None] = field(default=_no_arguments)


def state_of(row: Any) -> dict[str, Any]:
    """What a command that moved a case prints: the instance and its status."""
    return {"instance_id": row.id, "status": row.status}


def json_object(text: str) -> dict[str, Any]:
    """An argument that must be a JSON object."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON: {exc.msg} at column {exc.colno}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"must be a JSON object like {{\"key\": 1}}, not {type(value).__name__}")
    return value


def positive_int(text: str) -> int:
    """An argument that must be a whole number from 1 (Eastern Arabic digits accepted)."""
    digits = text.strip().translate(_EASTERN_DIGITS)
    if not digits.isdigit() or int(digits) <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive whole number, not {text!r}")
    if int(digits) > 2**31 - 1:
        raise argparse.ArgumentTypeError(f"{text} is too large")
    return int(digits)


def whole_number(text: str) -> int:
    """An argument that must be a whole number (Eastern Arabic digits accepted)."""
    digits = text.strip().translate(_EASTERN_DIGITS)
    try:
        return int(digits)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, not {text!r}") from None


def instant(text: str) -> Any:
    """An argument that must be an ISO-8601 date-time."""
    try:
        return parse_instant(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def safe_url(url: str) -> str:
    """A database URL without its password."""
    return make_url(url).render_as_string(hide_password=True)
