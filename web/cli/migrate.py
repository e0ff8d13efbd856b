"""Moving running cases to another version: ``migrate plan``, ``migrate run``, ``migrate revert``."""

from __future__ import annotations

import argparse
from typing import Any

from engine.actors import Actor
from web.cli.shared import Command, positive_int
from workflows.bootstrap import CaseEngine
from workflows.operations.migration import revert_migration, run_batch
from workflows.read.migration import plan_cases


def _mapping_entry(text: str) -> tuple[str, str]:
    old, sep, new = text.partition("=")
    if not sep or not old.strip() or not new.strip():
        raise argparse.ArgumentTypeError(f"must be OLD_ID=NEW_ID, not {text!r}")
    return old.strip(), new.strip()


def _versions(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("key", metavar="KEY", help="the process key")
    parser.add_argument("--from", dest="from_version", type=positive_int, required=True, metavar="V",
                        help="the version the cases are on")
    parser.add_argument("--to", dest="to_version", type=positive_int, required=True, metavar="W",
                        help="the version to move them to")
    parser.add_argument("--map", dest="mapping", type=_mapping_entry, action="append", default=[],
                        metavar="OLD=NEW", help="element OLD of version V is NEW in version W (the same type); "
                        "OLD=OLD accepts a change to OLD (repeatable)")
    parser.add_argument("--timers", choices=("keep", "recompute"),
                        help="waiting timers keep their due time, or have it recomputed from version W "
                        "(a case with a waiting timer moves only with a choice)")


def _run_arguments(parser: argparse.ArgumentParser) -> None:
    _versions(parser)
    parser.add_argument("--instance", dest="instances", type=positive_int, action="append", metavar="ID",
                        help="move this case only (repeatable; default: every case that can move)")


def _instance(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("instance_id", type=positive_int, metavar="INSTANCE_ID")


def _shown(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"instance_id": e["instance_id"], "reason": e["reason"],
             "codes": [p["code"] for p in e.get("problems", [])]} for e in entries]


def _plan(engine: CaseEngine, actor: Actor, args: argparse.Namespace) -> dict[str, Any]:
    found = engine.query(plan_cases, actor, args.key, args.from_version, args.to_version, dict(args.mapping),
                         args.timers)
    return {"movable": found["movable"], "blocked": _shown(found["blocked"])}


def _run(engine: CaseEngine, actor: Actor, args: argparse.Namespace) -> dict[str, Any]:
    done = run_batch(engine, actor, args.key, args.from_version, args.to_version, args.instances, args.timers,
                     dict(args.mapping))
    return {"moved": done["moved"], "blocked": _shown(done["blocked"])}


def _revert(engine: CaseEngine, actor: Actor, args: argparse.Namespace) -> dict[str, Any]:
    return engine.run(revert_migration, actor, args.instance_id)


COMMANDS = (
    Command("migrate plan", "which running cases of a version can move to another (a dry run)", _plan, _versions),
    Command("migrate run", "move the running cases of a version that can move to another", _run, _run_arguments),
    Command("migrate revert", "move a case back to the version it was on before its last move", _revert, _instance),
)
