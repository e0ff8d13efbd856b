"""Drafts from the command line, for scripts and checks: ``drafts import``, ``drafts export``, ``drafts deploy``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from engine.actors import Actor
from web.cli.shared import CliError, Command, PlainText, positive_int
from workflows.bootstrap import CaseEngine
from workflows.operations.drafts import deploy_draft, import_draft
from workflows.read.drafts import draft, draft_problems, draft_xml


def _file(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE")


def _draft_id(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("draft_id", metavar="N", type=positive_int)


def _deploy_arguments(parser: argparse.ArgumentParser) -> None:
    _draft_id(parser)
    parser.add_argument("--note", required=True, help="what this version changes (required)")


def _import(engine: CaseEngine, actor: Actor, args: argparse.Namespace) -> dict[str, Any]:
    path = Path(args.file)
    if path.is_dir():
        raise CliError(f"{args.file} is a folder; give one .bpmn file")
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise CliError(f"cannot read {args.file}: {exc.strerror}") from None
    draft_id = engine.run(import_draft, actor, content, path.name)
    shown = engine.query(draft, actor, draft_id)
    problems = engine.query(draft_problems, actor, draft_id)
    return {"draft_id": draft_id, "key": shown["key"],
            "problems": [{"element_id": p.element_id, "message": p.message} for p in problems]}


def _export(engine: CaseEngine, actor: Actor, args: argparse.Namespace) -> PlainText:
    return PlainText(engine.query(draft_xml, actor, args.draft_id))


def _deploy(engine: CaseEngine, actor: Actor, args: argparse.Namespace) -> list[dict[str, Any]]:
    revision = engine.query(draft, actor, args.draft_id)["revision"]
    return [d.as_dict() for d in engine.run(deploy_draft, actor, args.draft_id, revision, args.note)]


COMMANDS = (
    Command("drafts import", "open a BPMN file as a draft; print its id, key and problems", _import, _file),
    Command("drafts export", "print a draft's XML", _export, _draft_id),
    Command("drafts deploy", "deploy a draft as a new version (refused while problems remain)", _deploy,
            _deploy_arguments),
)
