"""Members: ``members import``, ``members search``, and ``demo`` (demo data for an empty database)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from tqdm import tqdm

from engine.actors import Actor
from web.cli.shared import CliError, Command
from workflows.bootstrap import CaseEngine
from workflows.demo import load_demo
from workflows.operations.members import import_members
from workflows.read.members import find_members


def _import_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file")
    parser.add_argument("--skip-bad", action="store_true",
                        help="import the good rows and report the bad ones (default: a bad row imports nothing)")


def _import(engine: CaseEngine, actor: Actor, args: argparse.Namespace) -> dict[str, Any]:
    path = Path(args.file)
    if not path.is_file():
        raise CliError(f"cannot read {args.file}: no such file")
    with tqdm(desc="members", unit=" rows", file=sys.stderr, disable=None) as bar:
        report = engine.run(import_members, actor, path, args.skip_bad, bar.update)
    if report.rejected and not args.skip_bad:
        print(json.dumps(report.as_dict(), ensure_ascii=False))
        raise CliError(f"{len(report.rejected)} of {report.rows} rows are wrong, so nothing was imported "
                       "(the list is on stdout; fix them, or use --skip-bad to import the others)")
    return report.as_dict()


def _search_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("text")


def _search(engine: CaseEngine, actor: Actor, args: argparse.Namespace) -> list[dict[str, Any]]:
    return [{"id": m.id, "national_id": m.national_id, "name_ar": m.name_ar, "name_en": m.name_en,
             "mobile": m.mobile, "membership_no": m.membership_no, "status": m.status}
            for m in engine.query(find_members, actor, args.text)]


def _demo(engine: CaseEngine, actor: Actor, args: argparse.Namespace) -> dict[str, Any]:
    result = load_demo(engine)
    print(f"tawasul: demo data loaded; every demo account's password is {result['password']!r}: "
          "for trying Tawasul only, never for a real deployment", file=sys.stderr)
    return result


COMMANDS = (
    Command("demo", "load demo data into an empty database (password demo-pass: never for real use)", _demo),
    Command("members import", "import members from a .csv or .xlsx file", _import, _import_arguments),
    Command("members search", "find members by name (any spelling), ID, number or mobile", _search,
            _search_arguments),
)
