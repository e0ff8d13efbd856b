"""Keeping a case's task tree as small as its open work.

SpiffWorkflow keeps every finished task as a child of the one before it, so a loop grows the
tree by a level each turn: the snapshot and the cost of every step grow with the case's age,
and past depth 1000 its task walk no longer sees the live tasks. A finished task in the middle
of a finished chain is needed by nothing: its data went on to the task after it, and what
happened is in the audit log and the task history. `compact` takes such tasks out and links
their neighbours, counting them per element so the case page still shows how often each
element ran.

Also taken out: a side branch that has ended (every task in it finished, hanging beside live
work; but not a branch's arrival at a join that has not fired yet: a parallel join counts the
branches that reached it by those, while an earlier turn's must go), and a second identical wait
under the same task (SpiffWorkflow adds one for each time a non-interrupting boundary event
fires).

Kept in a chain: joins, the inputs of joins and the task before a join (SpiffWorkflow's joins
read their parents and look for a finished task of each input, in loops too), subprocess and
call activity tasks, loops and multi-instance tasks and their children, the root, the last
task run, and the ``keep`` ids. So a loop through a parallel gateway still grows the tree by
its joins and their inputs each turn.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.specs.mixins.inclusive_gateway import InclusiveGateway
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import LoopTask
from SpiffWorkflow.bpmn.specs.mixins.parallel_gateway import ParallelGateway
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import SubWorkflowTask
from SpiffWorkflow.specs.Join import Join
from SpiffWorkflow.util.task import TaskState

#: Where a compacted workflow counts the tasks taken out, by element (in the root's internal data).
COUNTS = "tawasul_compacted"
#: Tasks that own others (loop and multi-instance instances, subprocesses): never taken out.
_NESTING = (LoopTask, SubWorkflowTask)
#: Never taken out of a chain: joins read their parents and their splits through it.
_FIXED = (Join, *_NESTING)
#: Joins that count the branches that reached them by those branches' finished join tasks.
COUNTING_JOINS = (ParallelGateway, InclusiveGateway)


def compact(workflow: Any, keep: Iterable[UUID] = ()) -> list[UUID]:
    """Take finished tasks out of the middle of finished chains; return their ids.

    Passes repeat until one takes nothing out (one removal can make another possible), so a
    compacted workflow restored and compacted again stays as it is.
    """
    kept = set(keep)
    removed: list[UUID] = []
    while taken := _compact_once(workflow, kept):
        removed.extend(taken)
    return removed


def _compact_once(workflow: Any, keep: set[UUID]) -> list[UUID]:
    kept = set(keep)
    kept.add(workflow.task_tree.id)
    workflows = [workflow, *workflow.subprocesses.values()]
    for each in workflows:
        kept.add(each.task_tree.id)
        if each.last_task is not None:
            kept.add(each.last_task.id)
        parent_id = getattr(each, "parent_task_id", None)
        if parent_id is not None:
            kept.add(parent_id)
    kept.update(workflow.subprocesses)
    counts: dict[str, int] = {}
    removed: list[UUID] = []

    def drop(tasks: dict[UUID, Any], task: Any) -> None:
        del tasks[task.id]
        removed.append(task.id)
        element = getattr(task.task_spec, "bpmn_id", None)
        if element and task.state == TaskState.COMPLETED:
            counts[element] = counts.get(element, 0) + 1

    for each in workflows:
        tasks = each.tasks
        join_inputs = _join_inputs(each.spec)
        arrivals = _waiting_arrivals(tasks)
        for task in list(tasks.values()):
            if task.id not in tasks or task.id in kept:
                continue
            parent = tasks.get(task._parent)
            if parent is None or isinstance(parent.task_spec, LoopTask):
                continue
            if task.state & TaskState.FINISHED_MASK and len(parent._children) > 1:
                branch = _finished_branch(tasks, task, kept | arrivals)
                if branch is not None:  # a side branch that has ended: nothing reads it again
                    parent._children.remove(task.id)
                    for dead in branch:
                        drop(tasks, dead)
                    continue
            if task.state == TaskState.WAITING and not task._children:
                twins = [tasks[i] for i in parent._children if i != task.id and i in tasks]
                if any(t.task_spec is task.task_spec and t.state == TaskState.WAITING and not t._children
                       and t.last_state_change >= task.last_state_change and t.id not in kept for t in twins):
                    parent._children.remove(task.id)  # the same wait twice: the newer one stands for both
                    drop(tasks, task)
                continue
            spec = task.task_spec
            if task.state != TaskState.COMPLETED or len(task._children) != 1 or isinstance(spec, _FIXED):
                continue
            if spec in join_inputs:  # a join looks for a finished task of each of its inputs
                continue
            child = tasks.get(task._children[0])
            if child is None or child.state != TaskState.COMPLETED or isinstance(child.task_spec, Join):
                continue
            parent._children[parent._children.index(task.id)] = child.id
            child._parent = parent.id
            drop(tasks, task)
    if counts:
        total = workflow.task_tree.internal_data.setdefault(COUNTS, {})
        for element, count in counts.items():
            total[element] = total.get(element, 0) + count
    return removed


def compacted_counts(workflow: Any) -> dict[str, int]:
    """How many finished tasks of each element `compact` took out of ``workflow``."""
    return dict(workflow.task_tree.internal_data.get(COUNTS) or {})


def _join_inputs(spec: Any) -> set[Any]:
    inputs: set[Any] = set()
    for task_spec in spec.task_specs.values():
        if isinstance(task_spec, Join):
            inputs.update(task_spec.inputs)
    return inputs


def _finished_branch(tasks: dict[UUID, Any], top: Any, kept: set[UUID]) -> list[Any] | None:
    """``top`` and every task below it, if all have finished and none is kept; else None."""
    branch, pending = [], [top]
    while pending:
        task = pending.pop()
        if not task.state & TaskState.FINISHED_MASK or task.id in kept or isinstance(task.task_spec, _NESTING):
            return None
        branch.append(task)
        pending.extend(tasks[i] for i in task._children if i in tasks)
    return branch


def _waiting_arrivals(tasks: dict[UUID, Any]) -> set[UUID]:
    """The arrivals at a parallel or inclusive join that has not fired yet for them.

    Such a join counts the branches that reached it by their join tasks, each cancelled as the
    next branch arrives: those must stay until it fires. After it fired they must go: SpiffWorkflow
    would count an earlier turn's arrival again in a loop (a turn's arrivals lie below every join
    that fired before them, an earlier turn's do not).
    """
    fired: dict[Any, list[Any]] = {}
    cancelled = []
    for task in tasks.values():
        if isinstance(task.task_spec, COUNTING_JOINS):
            if task.state == TaskState.COMPLETED:
                fired.setdefault(task.task_spec, []).append(task)
            elif task.state == TaskState.CANCELLED:
                cancelled.append(task)
    return {task.id for task in cancelled
            if all(task.is_descendant_of(join) for join in fired.get(task.task_spec, ()))}
