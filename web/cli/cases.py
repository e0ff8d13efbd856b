"""Cases: ``start``, ``instance``, ``cancel``, ``retry``."""

from __future__ import annotations

import argparse
from typing import Any

from engine.actors import Actor
from web.cli.shared import Command, json_object, positive_int, state_of
from workflows.bootstrap import CaseEngine
from workflows.operations.cases import cancel_case, retry_case, start_process
from workflows.read.cases import case_detail


def _start_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("key")
    parser.add_argument("--version", type=positive_int)
    parser.add_argument("--data", type=json_object, default={},
                        help='a member request opens with {"member_id": N, "service_type": S, "channel": C}')
    parser.add_argument("--business-key")


def _start(engine: CaseEngine, actor: Actor, args: argparse.Namespace) -> dict[str, Any]:
    started = engine.run(start_process, actor, args.key, args.version, args.data, args.business_key)
    return started.as_dict(with_open_tasks=False)


def _instance_id(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("id", type=positive_int)


def _instance(engine: CaseEngine, actor: Actor, args: argparse.Namespace) -> dict[str, Any]:
    return engine.query(case_detail, actor, args.id)


def _cancel_arguments(parser: argparse.ArgumentParser) -> None:
    _instance_id(parser)
    parser.add_argument("--reason", default="")


def _cancel(engine: CaseEngine, actor: Actor, args: argparse.Namespace) -> dict[str, Any]:
    return state_of(engine.run(cancel_case, actor, args.id, args.reason))


def _retry_arguments(parser: argparse.ArgumentParser) -> None:
    _instance_id(parser)
    parser.add_argument("--data", type=json_object, default={})


def _retry(engine: CaseEngine, actor: Actor, args: argparse.Namespace) -> dict[str, Any]:
    return state_of(engine.run(retry_case, actor, args.id, args.data))


COMMANDS = (
    Command("start", "start a process instance (a member request opens a request)", _start, _start_arguments),
    Command("instance", "show an instance", _instance, _instance_id),
    Command("cancel", "cancel an instance (supervisors)", _cancel, _cancel_arguments),
    Command("retry", "retry an instance in error, optionally with fixed data", _retry, _retry_arguments),
)
