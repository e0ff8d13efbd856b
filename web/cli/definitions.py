"""The schema and the diagrams: ``init``, ``deploy``, ``definitions``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from engine.actors import Actor
from web.cli.shared import CliError, Command, safe_url
from workflows.bootstrap import CaseEngine
from workflows.operations.definitions import deploy
from workflows.read.definitions import definitions
from workflows.schema import upgrade_schema


def _init(engine: CaseEngine, actor: Actor, args: argparse.Namespace) -> dict[str, Any]:
    return {"schema_revision": upgrade_schema(engine.db), "database": safe_url(engine.database_url)}


def _files(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE")
    parser.add_argument("--note", help="what the new versions change (shown in the modeler beside each version)")


def _deploy(engine: CaseEngine, actor: Actor, args: argparse.Namespace) -> list[dict[str, Any]]:
    contents = []
    for name in args.files:
        path = Path(name)
        if path.is_dir():
            raise CliError(f"{name} is a folder; give the .bpmn files (e.g. {name}/*.bpmn)")
        try:
            contents.append((path.read_bytes(), path.name))
        except OSError as exc:
            raise CliError(f"cannot read {name}: {exc.strerror}") from None
    # All files in one transaction: a bad file deploys nothing.
    note = " ".join((args.note or "").split())[:2000] or None
    return [d.as_dict() for d in engine.run(deploy, actor, contents, note)]


def _definitions(engine: CaseEngine, actor: Actor, args: argparse.Namespace) -> list[dict[str, Any]]:
    return [dict(d, deployed_at=d["deployed_at"].isoformat()) for d in engine.query(definitions, actor)]


COMMANDS = (
    Command("init", "create or upgrade the database schema", _init),
    Command("deploy", "deploy BPMN files as new process versions", _deploy, _files),
    Command("definitions", "list deployed process versions", _definitions),
)
