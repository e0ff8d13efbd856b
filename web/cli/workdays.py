"""The working-day calendar: ``calendar add``, ``holidays``, ``close``, ``open``, ``clear``."""

from __future__ import annotations

import argparse
from typing import Any

from engine.actors import Actor
from web.cli.shared import Command, positive_int, whole_number
from workflows.bootstrap import CaseEngine
from workflows.operations.calendar import clear_day, close_day, open_day
from workflows.read.calendar import working_days_after, year_days


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="start", required=True, metavar="YYYY-MM-DD")
    parser.add_argument("--business-days", dest="days", required=True, type=whole_number)


def _add(engine: CaseEngine, actor: Actor, args: argparse.Namespace) -> dict[str, str]:
    return {"due": engine.query(working_days_after, actor, args.start, args.days).isoformat()}


def _year(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--year", required=True, type=positive_int)


def _holidays(engine: CaseEngine, actor: Actor, args: argparse.Namespace) -> list[dict[str, Any]]:
    return engine.query(year_days, actor, args.year)


def _day_and_reason(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("day", metavar="YYYY-MM-DD")
    parser.add_argument("--reason", required=True)


def _day(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("day", metavar="YYYY-MM-DD")


def _close(engine: CaseEngine, actor: Actor, args: argparse.Namespace) -> dict[str, Any]:
    day = engine.run(close_day, actor, args.day, args.reason)
    return {"date": day.isoformat(), "is_working": False, "reason": args.reason.strip()}


def _open(engine: CaseEngine, actor: Actor, args: argparse.Namespace) -> dict[str, Any]:
    day = engine.run(open_day, actor, args.day, args.reason)
    return {"date": day.isoformat(), "is_working": True, "reason": args.reason.strip()}


def _clear(engine: CaseEngine, actor: Actor, args: argparse.Namespace) -> dict[str, Any]:
    day, removed = engine.run(clear_day, actor, args.day)
    return {"date": day.isoformat(), "removed": removed}


COMMANDS = (
    Command("calendar add", "the date N working days after a date", _add, _add_arguments),
    Command("calendar holidays", "public holidays, closures and corrections of a year", _holidays, _year),
    Command("calendar close", "close a day (society closure, or an Eid day announced late)", _close, _day_and_reason),
    Command("calendar open", "open a day the public calendar closes (a correction)", _open, _day_and_reason),
    Command("calendar clear", "remove the society's entry for a day", _clear, _day),
)
