"""The ``tawasul`` command: JSON on stdout; on bad input one line on stderr and a non-zero exit.

Exit codes: 0 ok, 1 internal error, 2 bad input, 3 not found, 4 conflict, 5 forbidden,
6 database not ready.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

EXIT_CODES = {"invalid": 2, "invalid_definition": 2, "config": 2, "script": 2, "not_found": 3,
              "conflict": 4, "forbidden": 5}


class CliError(Exception):
    """A message for the user and an exit code."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise CliError(f"{self.prog}: {message} (see --help)")


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON: {exc.msg} at column {exc.colno}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"must be a JSON object like {{\"key\": 1}}, not {type(value).__name__}")
    return value


def _positive_int(text: str) -> int:
    digits = text.strip().translate(str.maketrans("٠١٢٣٤٥٦٧٨٩", "0123456789"))
    if not digits.isdigit() or int(digits) <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive whole number, not {text!r}")
    if int(digits) > 2**31 - 1:
        raise argparse.ArgumentTypeError(f"{text} is too large")
    return int(digits)


def _whole_number(text: str) -> int:
    digits = text.strip().translate(str.maketrans("٠١٢٣٤٥٦٧٨٩", "0123456789"))
    try:
        return int(digits)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, not {text!r}") from None


def _instant(text: str) -> Any:
    from engine.clock import parse_instant

    try:
        return parse_instant(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = _Parser(prog="tawasul", description="Tawasul: member relations run as BPMN processes.")
    parser.add_argument("--as", dest="as_user", metavar="USER", default="system",
                        help="act as USER (default: the built-in system user, who may act on every lane)")
    parser.add_argument("--lanes", default="", metavar="L1,L2",
                        help="lanes USER holds (with --as); roles from the web app come later")
    parser.add_argument("--supervisor", action="store_true", help="with --as: USER may assign and cancel")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    sub.add_parser("init", help="create or upgrade the database schema")
    p = sub.add_parser("deploy", help="deploy BPMN files as new process versions")
    p.add_argument("files", nargs="+", metavar="FILE")
    sub.add_parser("definitions", help="list deployed process versions")

    p = sub.add_parser("start", help="start a process instance")
    p.add_argument("key")
    p.add_argument("--version", type=_positive_int)
    p.add_argument("--data", type=_json_object, default={})
    p.add_argument("--business-key")

    p = sub.add_parser("tasks", help="list open human tasks")
    p.add_argument("--instance", type=_positive_int)
    p.add_argument("--lane")
    p.add_argument("--assignee")
    p.add_argument("--sla", choices=("on_track", "at_risk", "late"), help="only tasks in this SLA state")

    for name, text in (("claim", "claim a task"), ("unclaim", "release a claimed task")):
        sub.add_parser(name, help=text).add_argument("task")
    p = sub.add_parser("assign", help="assign a task to a user (supervisors)")
    p.add_argument("task")
    p.add_argument("user")
    p = sub.add_parser("complete", help="complete a task")
    p.add_argument("task")
    p.add_argument("--data", type=_json_object, default={})

    p = sub.add_parser("instance", help="show an instance")
    p.add_argument("id", type=_positive_int)
    p = sub.add_parser("cancel", help="cancel an instance (supervisors)")
    p.add_argument("id", type=_positive_int)
    p.add_argument("--reason", default="")
    p = sub.add_parser("retry", help="retry an instance in error, optionally with fixed data")
    p.add_argument("id", type=_positive_int)
    p.add_argument("--data", type=_json_object, default={})

    p = sub.add_parser("jobs", help="timers and other due work")
    jobs = p.add_subparsers(dest="jobs_command", metavar="ACTION", parser_class=_Parser)
    jobs.required = True
    run_due = jobs.add_parser("run-due", help="run every job (timers, SLA) due at --now (default: now)")
    run_due.add_argument("--now", type=_instant)
    jobs.add_parser("list", help="pending, running and failed jobs")

    sub.add_parser("worker", help="run a worker process (timers, SLA warnings and escalations)")
    p = sub.add_parser("incidents", help="jobs whose retries ran out")
    incidents = p.add_subparsers(dest="incidents_command", metavar="ACTION", parser_class=_Parser)
    retry = incidents.add_parser("retry", help="run an incident's job again")
    retry.add_argument("job_id", type=_positive_int)

    p = sub.add_parser("calendar", help="the working-day calendar")
    calendar = p.add_subparsers(dest="calendar_command", metavar="ACTION", parser_class=_Parser)
    calendar.required = True
    add = calendar.add_parser("add", help="the date N working days after a date")
    add.add_argument("--from", dest="start", required=True, metavar="YYYY-MM-DD")
    add.add_argument("--business-days", dest="days", required=True, type=_whole_number)
    year = calendar.add_parser("holidays", help="public holidays, closures and corrections of a year")
    year.add_argument("--year", required=True, type=_positive_int)
    for name, text in (("close", "close a day (society closure, or an Eid day announced late)"),
                       ("open", "open a day the public calendar closes (a correction)")):
        day = calendar.add_parser(name, help=text)
        day.add_argument("day", metavar="YYYY-MM-DD")
        day.add_argument("--reason", required=True)
    clear = calendar.add_parser("clear", help="remove the society's entry for a day")
    clear.add_argument("day", metavar="YYYY-MM-DD")

    sub.add_parser("demo", help="load demo data into an empty database (password demo-pass: never for real use)")
    p = sub.add_parser("members", help="members of the society")
    members = p.add_subparsers(dest="members_command", metavar="ACTION", parser_class=_Parser)
    members.required = True
    imp = members.add_parser("import", help="import members from a .csv or .xlsx file")
    imp.add_argument("file")
    imp.add_argument("--skip-bad", action="store_true",
                     help="import the good rows and report the bad ones (default: a bad row imports nothing)")
    search = members.add_parser("search", help="find members by name (any spelling), ID, number or mobile")
    search.add_argument("text")

    p = sub.add_parser("serve", help="run the web app")
    p.add_argument("--port", type=_positive_int)
    p.add_argument("--host")
    return parser


def _actor(args: argparse.Namespace) -> Any:
    from engine.actors import SYSTEM, Actor

    if args.as_user == "system":
        if args.lanes or args.supervisor:
            raise CliError("--lanes and --supervisor only apply with --as USER")
        return SYSTEM
    lanes = [lane.strip() for lane in args.lanes.split(",") if lane.strip()]
    return Actor.user(args.as_user, lanes, may_assign=args.supervisor)


def _deploy(engine: Any, actor: Any, files: list[str]) -> list[dict[str, Any]]:
    from engine.definitions import deploy_definition

    contents = []
    for name in files:
        path = Path(name)
        if path.is_dir():
            raise CliError(f"{name} is a folder; give the .bpmn files (e.g. {name}/*.bpmn)")
        try:
            contents.append((path.read_bytes(), path.name))
        except OSError as exc:
            raise CliError(f"cannot read {name}: {exc.strerror}") from None

    def deploy_all(engine: Any, session: Any) -> list[dict[str, Any]]:
        results = []
        for xml, source in contents:
            results.extend(d.as_dict() for d in deploy_definition(engine, session, actor, xml, source))
        return results

    # All files in one transaction: a bad file deploys nothing.
    return engine.run(deploy_all)


def run_command(args: argparse.Namespace, engine_factory: Callable[[], Any]) -> Any:
    """Run the parsed command and return what to print as JSON."""
    from engine import commands, queries
    from engine.definitions import list_definitions

    if args.command == "serve":
        return _serve(args, engine_factory)
    engine = engine_factory()
    try:
        actor = _actor(args)
        if args.command == "init":
            from engine.schema import upgrade_schema
            from workflows.schema import MODEL_MODULES

            return {"schema_revision": upgrade_schema(engine.db, MODEL_MODULES),
                    "database": _safe_url(engine.database_url)}
        if args.command == "deploy":
            return _deploy(engine, actor, args.files)
        if args.command == "definitions":
            return [
                {"key": d.key, "version": d.version, "name": d.name, "sha256": d.sha256,
                 "deployed_at": d.deployed_at.isoformat(), "deployed_by": d.deployed_by}
                for d in engine.query(list_definitions)
            ]
        if args.command == "start":
            row = engine.run(commands.start_instance, actor, args.key, args.version, args.data, args.business_key)
            return {"instance_id": row.id, "status": row.status}
        if args.command == "tasks":
            tasks = engine.query(queries.list_tasks, actor, args.instance, args.lane, args.assignee, sla=args.sla)
            now = engine.clock.now()
            return [queries.task_as_dict(task, now) for task in tasks]
        if args.command in ("claim", "unclaim"):
            command = commands.claim_task if args.command == "claim" else commands.unclaim_task
            return queries.task_as_dict(engine.run(command, actor, args.task))
        if args.command == "assign":
            return queries.task_as_dict(engine.run(commands.assign_task, actor, args.task, args.user))
        if args.command == "complete":
            from workflows.forms import complete_task_with_form

            row = engine.run(complete_task_with_form, actor, args.task, args.data)
            return {"instance_id": row.id, "status": row.status}
        if args.command == "instance":
            return engine.query(queries.instance_detail, args.id)
        if args.command == "cancel":
            row = engine.run(commands.cancel_instance, actor, instance_id=args.id, reason=args.reason)
            return {"instance_id": row.id, "status": row.status}
        if args.command == "retry":
            row = engine.run(commands.retry_instance, actor, instance_id=args.id, data=args.data)
            return {"instance_id": row.id, "status": row.status}
        if args.command == "jobs":
            from engine import jobs

            if args.jobs_command == "list":
                return engine.query(queries.list_jobs)
            report = jobs.run_due_jobs(engine, args.now)
            return {"fired": report.fired, "ran": report.ran, "failed": report.failed, "incidents": report.incidents}
        if args.command == "incidents":
            from engine import jobs

            if args.incidents_command == "retry":
                return engine.run(jobs.retry_incident, actor, args.job_id)
            return engine.query(jobs.list_incidents)
        if args.command == "calendar":
            return _calendar(engine, actor, args)
        if args.command == "worker":
            return _worker(engine)
        if args.command == "demo":
            return _demo(engine)
        if args.command == "members":
            return _members(engine, actor, args)
        raise CliError(f"unknown command {args.command}")
    finally:
        engine.dispose()


def _calendar(engine: Any, actor: Any, args: argparse.Namespace) -> Any:
    from engine import calendar

    if args.calendar_command == "add":
        start = calendar.parse_day(args.start)
        return {"due": engine.calendars.get().add_business_days(start, args.days).isoformat()}
    if args.calendar_command == "holidays":
        return [entry.as_dict() for entry in engine.calendars.get().days(args.year)]
    day = calendar.parse_day(args.day)
    if args.calendar_command == "clear":
        removed = engine.run(lambda engine, session: calendar.clear_day(session, day))
        engine.calendars.invalidate()
        return {"date": day.isoformat(), "removed": removed}
    is_working = args.calendar_command == "open"
    engine.run(lambda engine, session: calendar.set_day(session, day, is_working, args.reason, actor.name,
                                                        engine.clock.now()))
    engine.calendars.invalidate()
    return {"date": day.isoformat(), "is_working": is_working, "reason": args.reason.strip()}


def _demo(engine: Any) -> Any:
    from workflows.demo import load_demo

    result = load_demo(engine)
    print(f"tawasul: demo data loaded; every demo account's password is {result['password']!r}: "
          "for trying Tawasul only, never for a real deployment", file=sys.stderr)
    return result


def _members(engine: Any, actor: Any, args: argparse.Namespace) -> Any:
    if args.members_command == "search":
        from workflows.members import search_members

        return [{"id": m.id, "national_id": m.national_id, "name_ar": m.name_ar, "name_en": m.name_en,
                 "mobile": m.mobile, "membership_no": m.membership_no, "status": m.status}
                for m in engine.query(lambda e, s: search_members(s, args.text))]
    from tqdm import tqdm

    from workflows.importer import import_members

    path = Path(args.file)
    if not path.is_file():
        raise CliError(f"cannot read {args.file}: no such file")
    with tqdm(desc="members", unit=" rows", file=sys.stderr, disable=None) as bar:
        report = engine.run(lambda e, s: import_members(s, actor, e.clock.now(), path, args.skip_bad, bar.update))
    if report.rejected and not args.skip_bad:
        print(json.dumps(report.as_dict(), ensure_ascii=False))
        raise CliError(f"{len(report.rejected)} of {report.rows} rows are wrong, so nothing was imported "
                       "(the list is on stdout; fix them, or use --skip-bad to import the others)")
    return report.as_dict()


def _run_until_signalled(on_start: Callable[[], None] | None = None) -> None:
    import signal
    import threading

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    if on_start:
        on_start()
    while not stop.wait(1.0):
        pass


def _worker(engine: Any) -> None:
    import logging

    from engine.schema import require_current_schema
    from engine.worker import Worker

    require_current_schema(engine.db)  # a worker on an older schema would fail job after job
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # it logs every run at INFO
    worker = Worker(engine)
    worker.start()
    print(json.dumps({"worker": worker.owner, "database": _safe_url(engine.database_url)}), flush=True)
    try:
        _run_until_signalled()
    finally:
        worker.stop()
    return None


def _serve(args: argparse.Namespace, engine_factory: Callable[[], Any]) -> None:
    from web import create_app

    engine = engine_factory()
    app = create_app(engine=engine)
    web_settings = engine.settings.get("web") or {}
    host = args.host or web_settings.get("host", "127.0.0.1")
    port = args.port or int(web_settings.get("port", 5000))
    worker = None
    if (engine.settings.get("worker") or {}).get("embedded", True):
        from engine.worker import Worker

        worker = Worker(engine)
        worker.start()
    print(json.dumps({"serving": f"http://{host}:{port}/", "embedded_worker": worker is not None}), flush=True)
    try:
        app.run(host=host, port=port, debug=False, use_reloader=False)
    finally:
        if worker is not None:
            worker.stop()
    return None


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def main(argv: Sequence[str] | None = None, engine_factory: Callable[[], Any] | None = None) -> int:
    """Entry point of the ``tawasul`` console command."""
    from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError

    from engine.errors import EngineError

    def default_factory() -> Any:
        from engine.context import CaseEngine
        from workflows import install

        return install(CaseEngine())

    try:
        args = build_parser().parse_args(argv)
        result = run_command(args, engine_factory or default_factory)
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
            json.dump(result, sys.stdout, ensure_ascii=False, default=str)
            sys.stdout.write("\n")
            sys.stdout.flush()
        except BrokenPipeError:
            # The reader went away (`tawasul tasks | head`): not an error of ours.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def _fail(message: str, code: int) -> int:
    text = " ".join(message.split())
    if not text.startswith("tawasul"):
        text = f"tawasul: {text}"
    print(text, file=sys.stderr)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
