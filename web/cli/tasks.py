"""Tasks: ``tasks``, ``claim``, ``unclaim``, ``assign``, ``complete``."""

from __future__ import annotations

import argparse
from typing import Any

from engine.actors import Actor
from web.cli.shared import Command, json_object, positive_int, state_of
from workflows.bootstrap import CaseEngine
from workflows.operations.tasks import assign_task, claim_task, complete_task, release_task
from workflows.read.inbox import SLA_FILTERS
from workflows.read.tasks import task_as_dict, task_list


def _list_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--instance", type=positive_int)
    parser.add_argument("--lane")
    parser.add_argument("--assignee")
    parser.add_argument("--sla", choices=SLA_FILTERS,
                        help="only tasks in this SLA state (no_deadline: those without one)")


def _list(engine: CaseEngine, actor: Actor, args: argparse.Namespace) -> list[dict[str, Any]]:
    return engine.query(task_list, actor, args.instance, args.lane, args.assignee, args.sla)


def _task(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("task")


def _claim(engine: CaseEngine, actor: Actor, args: argparse.Namespace) -> dict[str, Any]:
    return task_as_dict(engine.run(claim_task, actor, args.task))


def _unclaim(engine: CaseEngine, actor: Actor, args: argparse.Namespace) -> dict[str, Any]:
    return task_as_dict(engine.run(release_task, actor, args.task))


def _assign_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("task")
    parser.add_argument("user")


def _assign(engine: CaseEngine, actor: Actor, args: argparse.Namespace) -> dict[str, Any]:
    return task_as_dict(engine.run(assign_task, actor, args.task, args.user))


def _complete_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("task")
    parser.add_argument("--data", type=json_object, default={})


def _complete(engine: CaseEngine, actor: Actor, args: argparse.Namespace) -> dict[str, Any]:
    return state_of(engine.run(complete_task, actor, args.task, args.data))


COMMANDS = (
    Command("tasks", "list open human tasks", _list, _list_arguments),
    Command("claim", "claim a task", _claim, _task),
    Command("unclaim", "release a claimed task", _unclaim, _task),
    Command("assign", "assign a task to a user (supervisors)", _assign, _assign_arguments),
    Command("complete", "complete a task", _complete, _complete_arguments),
)
