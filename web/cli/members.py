"""Members: ``members import``, ``members search``, and ``demo`` (demo data for an empty database, or again)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from tqdm import tqdm

from engine.actors import Actor
from web.cli.shared import CliError, Command, safe_url
from workflows.bootstrap import CaseEngine
from workflows.demo import demo_state, load_demo, reset_demo
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


def _demo_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--reset", action="store_true",
                        help="delete the demo data (and all done with it) and load it again; refused on a "
                             "database that holds anything else")
    parser.add_argument("--yes", action="store_true", help="with --reset: do not ask for confirmation")


def _demo(engine: CaseEngine, actor: Actor, args: argparse.Namespace) -> dict[str, Any]:
    if args.yes and not args.reset:
        raise CliError("--yes only applies with --reset")
    state = engine.query(demo_state)
    if state["state"] == "other":
        what = "reset it" if args.reset else "load demo data into it"
        raise CliError(f"this database holds data that is not the demo's, so tawasul will not {what}: "
                       + "; ".join(state["reasons"]) + ". Demo data goes into an empty database "
                       "(a new TAWASUL_DATABASE_URL)", 4)
    if state["state"] == "demo" and not args.reset:
        when = f" on {state['loaded_at']:%Y-%m-%d %H:%M} UTC" if state.get("loaded_at") else ""
        print(f"tawasul: the demo data is already loaded{when}; nothing changed "
              "(`tawasul demo --reset` starts it over)", file=sys.stderr)
        return {"loaded": False, "state": "demo"}
    if state["state"] == "demo":
        _confirm_reset(engine, args.yes)
        engine.run(reset_demo)
    result = load_demo(engine)
    print(f"tawasul: demo data loaded; every demo account's password is {result['password']!r}: "
          "for trying Tawasul only, never for a real deployment", file=sys.stderr)
    return {"loaded": True, "reset": state["state"] == "demo", **result}


def _confirm_reset(engine: CaseEngine, yes: bool) -> None:
    if yes:
        return
    question = (f"tawasul: this deletes every case, member, account and message in {safe_url(engine.database_url)} "
                "and loads the demo again (the diagrams and the calendar stay). Go on? [y/N] ")
    if not sys.stdin.isatty():
        raise CliError("--reset deletes the demo's data: confirm on a terminal, or add --yes", 2)
    print(question, end="", file=sys.stderr, flush=True)
    answer = sys.stdin.readline().strip().lower()
    if answer not in ("y", "yes", "نعم"):
        raise CliError("nothing was deleted (the answer was not yes)", 2)


COMMANDS = (
    Command("demo", "load demo data into an empty database (password demo-pass: never for real use); "
            "--reset starts it over", _demo, _demo_arguments),
    Command("members import", "import members from a .csv or .xlsx file", _import, _import_arguments),
    Command("members search", "find members by name (any spelling), ID, number or mobile", _search,
            _search_arguments),
)
