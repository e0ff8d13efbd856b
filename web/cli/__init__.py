"""The ``tawasul`` command: JSON on stdout; on bad input one line on stderr and a non-zero exit.

Exit codes: 0 ok, 1 internal error, 2 bad input, 3 not found, 4 conflict, 5 forbidden,
6 database not ready.

Each area of the command is a module with a table of its subcommands (`COMMANDS`); the parser
is built from the tables, and each subcommand calls one operation or read model of
`workflows`, in its own unit of work.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError

from engine.actors import SYSTEM, Actor
from engine.errors import EngineError
from web.cli import backup, cases, definitions, drafts, jobs, members, migrate, serve, tasks, workdays
from web.cli.shared import CliError, Command, Parser, PlainText
from workflows.accounts import check_roles, supervises
from workflows.bootstrap import CaseEngine, build

EXIT_CODES = {"invalid": 2, "invalid_definition": 2, "config": 2, "script": 2, "not_found": 3,
              "conflict": 4, "forbidden": 5}

#: Every subcommand, area by area, in the order ``--help`` lists them.
COMMANDS: tuple[Command, ...] = (
    *definitions.COMMANDS, *drafts.COMMANDS, *cases.COMMANDS, *tasks.COMMANDS, *jobs.COMMANDS, *workdays.COMMANDS,
    *migrate.COMMANDS, *members.COMMANDS, *backup.COMMANDS, *serve.COMMANDS,
)
#: Subcommands that group actions, and their help; a group that is a command itself runs without one.
GROUPS = {"jobs": "timers and other due work", "incidents": "jobs whose retries ran out",
          "calendar": "the working-day calendar", "members": "members of the society",
          "drafts": "diagrams being edited, not deployed",
          "migrate": "moving running cases to another version of their process"}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand, from the table."""
    parser = Parser(prog="tawasul", description="Tawasul: member relations run as BPMN processes.")
    parser.add_argument("--as", dest="as_user", metavar="USER", default="system",
                        help="act as USER (default: the built-in system user, who may act on every lane)")
    parser.add_argument("--lanes", default="", metavar="L1,L2", help="lanes USER holds (with --as)")
    parser.add_argument("--supervisor", action="store_true",
                        help="with --as: USER supervises (sees every lane's open work, may assign and cancel)")
    parser.add_argument("--roles", default="", metavar="R1,R2",
                        help="roles USER has (with --as): administrator, process_owner, reception, ...")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True
    actions: dict[str, Any] = {}

    def actions_of(group: str, entry: Command | None = None) -> Any:
        if group not in actions:
            group_parser = sub.add_parser(group, help=entry.help if entry else GROUPS[group])
            actions[group] = group_parser.add_subparsers(dest="action", metavar="ACTION", parser_class=Parser)
            actions[group].required = entry is None
            if entry is not None:  # the group runs on its own too (``incidents``)
                group_parser.set_defaults(command_entry=entry)
                entry.arguments(group_parser)
        return actions[group]

    for command in COMMANDS:
        group, _, action = command.name.partition(" ")
        if action:
            target = actions_of(group).add_parser(action, help=command.help)
        elif group in GROUPS:
            actions_of(group, command)
            continue
        else:
            target = sub.add_parser(group, help=command.help)
        target.set_defaults(command_entry=command)
        command.arguments(target)
    return parser


def _actor(args: argparse.Namespace) -> Actor:
    if args.as_user == "system":
        if args.lanes or args.supervisor or args.roles:
            raise CliError("--lanes, --roles and --supervisor only apply with --as USER")
        return SYSTEM
    lanes = [lane.strip() for lane in args.lanes.split(",") if lane.strip()]
    roles = check_roles([role.strip() for role in args.roles.split(",") if role.strip()])
    supervising = args.supervisor or supervises(roles)
    return Actor.user(args.as_user, lanes, may_assign=supervising, roles=roles, oversees_all=supervising)


def run_command(args: argparse.Namespace, engine_factory: Callable[[], CaseEngine]) -> Any:
    """Run the parsed subcommand with an engine from ``engine_factory``; return what to print as JSON."""
    command: Command = args.command_entry
    actor = _actor(args)
    engine = engine_factory()
    try:
        return command.run(engine, actor, args)
    finally:
        engine.dispose()


def main(argv: Sequence[str] | None = None, engine_factory: Callable[[], CaseEngine] | None = None) -> int:
    """Entry point of the ``tawasul`` console command."""
    unreadable = _unreadable_argument(sys.argv[1:] if argv is None else list(argv))
    if unreadable:
        return _fail(unreadable, 2)
    try:
        args = build_parser().parse_args(argv)
        result = run_command(args, engine_factory or build)
    except CliError as exc:
        return _fail(str(exc), exc.code)
    except EngineError as exc:
        return _fail(exc.message, EXIT_CODES.get(exc.kind, 1))
    except (OperationalError, ProgrammingError) as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        return _fail(f"the database is not ready ({reason}); run `tawasul init` first", 6)
    except DBAPIError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        return _fail(f"the database refused the change: {reason}", 2)
    except OverflowError:
        return _fail("a date or number is out of range", 2)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if os.environ.get("TAWASUL_DEBUG"):
            raise
        return _fail(f"internal error: {type(exc).__name__}: {exc} (set TAWASUL_DEBUG=1 for details)", 1)
    if result is not None:
        try:
            if isinstance(result, PlainText):  # a file's content, byte for byte
                sys.stdout.flush()
                sys.stdout.buffer.write(result.encode("utf-8"))
            else:
                json.dump(result, sys.stdout, ensure_ascii=False, default=str)
                sys.stdout.write("\n")
            sys.stdout.flush()
        except BrokenPipeError:
            # The reader went away (`tawasul tasks | head`): not an error of ours.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def _unreadable_argument(argv: Sequence[str]) -> str | None:
    """Why an argument cannot be used, if one has a byte that is not UTF-8 (Python keeps such a
    byte as a lone surrogate, which no database, page or file can hold)."""
    for index, argument in enumerate(argv):
        if argument.isascii():
            continue
        try:
            argument.encode("utf-8")
        except UnicodeEncodeError as exc:
            option, has_value, _ = argument.partition("=")
            if option.startswith("--") and has_value:
                where, start = f"the value of {option}", exc.start - len(option) - 1
            elif index and argv[index - 1].startswith("--"):
                where, start = f"the value of {argv[index - 1]}", exc.start
            else:
                where, start = f"argument {index + 1}", exc.start
            return (f"{where} is not valid UTF-8 text (character {start + 1} is a byte that is not UTF-8); "
                    "nothing was done")
    return None


def _fail(message: str, code: int) -> int:
    text = " ".join(message.split())
    if not text.startswith("tawasul"):
        text = f"tawasul: {text}"
    print(text, file=sys.stderr)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
