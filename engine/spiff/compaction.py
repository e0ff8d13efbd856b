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
branches that reached it by those, while an earlier turn's must go), a second identical wait
under the same task (SpiffWorkflow adds one for each time a non-interrupting boundary event
fires), a subprocess or call activity that ended, with every task in it (and in subprocesses
below it), and the instances of a loop or multi-instance task once it finished.

Kept in a chain: on each path, the first task of each input of a parallel join of two inputs
or more (such a join in a loop, and a split the loop comes back to, walk up from their own
tasks to a task of each input), a task whose next task has not finished (it may be a join's
arrival), a subprocess or call activity under way, a loop or multi-instance task under way,
the root, the last task run, and the ``keep`` ids. A join that fired and whose next task
finished is taken out like any other: so a loop through a parallel or inclusive gateway, a
subprocess or a multi-instance task stays as small as one turn (an earlier turn's join left in
place made an inclusive join fire early, and made every join walk the whole history by
recursion, ever slower until Python's recursion limit).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.specs.mixins.inclusive_gateway import InclusiveGateway
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import LoopTask
from SpiffWorkflow.bpmn.specs.mixins.parallel_gateway import ParallelGateway
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import SubWorkflowTask
from SpiffWorkflow.util.task import TaskState

#: Where a compacted workflow counts the tasks taken out, by element (in the root's internal data).
COUNTS = "tawasul_compacted"
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
    ended = _ended_subprocesses(workflow, kept)
    workflows = [workflow, *(sub for task_id, sub in workflow.subprocesses.items() if task_id not in ended)]
    for each in workflows:
        kept.add(each.task_tree.id)
        if each.last_task is not None:
            kept.add(each.last_task.id)
        parent_id = getattr(each, "parent_task_id", None)
        if parent_id is not None:
            kept.add(parent_id)
    kept.update(task_id for task_id in workflow.subprocesses if task_id not in ended)
    counts: dict[str, int] = {}
    removed: list[UUID] = []

    def holds(task: Any) -> bool:
        """Whether ``task`` owns tasks still needed: a loop's instances, a subprocess under way."""
        if isinstance(task.task_spec, LoopTask):
            return task.state != TaskState.COMPLETED or any(_is_instance(child, task) for child in task.children)
        return isinstance(task.task_spec, SubWorkflowTask) and task.id not in ended

    def drop(tasks: dict[UUID, Any], task: Any) -> None:
        del tasks[task.id]
        for each in (task, *ended.get(task.id, ())):
            removed.append(each.id)
            element = getattr(each.task_spec, "bpmn_id", None)
            if element and each.state == TaskState.COMPLETED:
                counts[element] = counts.get(element, 0) + 1
        if task.id in ended:  # the subprocess it ran, and any below it, go with it
            for sub in [task_id for task_id, sub in workflow.subprocesses.items()
                        if task_id == task.id or _runs_inside(sub, workflow.subprocesses[task.id])]:
                del workflow.subprocesses[sub]

    for each in workflows:
        tasks = each.tasks
        join_inputs = _join_inputs(each.spec)
        arrivals = _waiting_arrivals(tasks)
        for task in list(tasks.values()):
            if task.id not in tasks or task.id in kept:
                continue
            parent = tasks.get(task._parent)
            if parent is None:
                continue
            if isinstance(parent.task_spec, LoopTask):  # an instance: it goes once the loop has ended
                if parent.state == TaskState.COMPLETED and _is_instance(task, parent):
                    branch = _finished_branch(tasks, task, kept, holds)
                    if branch is not None:
                        parent._children.remove(task.id)
                        for dead in branch:
                            drop(tasks, dead)
                continue
            if task.state & TaskState.FINISHED_MASK and len(parent._children) > 1:
                branch = _finished_branch(tasks, task, kept | arrivals, holds)
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
            if task.state != TaskState.COMPLETED or len(task._children) != 1 or holds(task):
                continue
            if task.task_spec in join_inputs and _first_of_its_element(tasks, task):
                continue  # a join in a loop looks up the path for a task of each input
            child = tasks.get(task._children[0])
            if child is None or child.state != TaskState.COMPLETED:
                continue  # the next task has not finished: a join may still read this one as its arrival
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


@lru_cache(maxsize=1024)
def _join_inputs(spec: Any) -> frozenset[Any]:
    """The task specs leading into a parallel join of two inputs or more, in ``spec``.

    Only such a join walks up the tree for its inputs (`_first_of_its_element`). Keeping no more
    matters: an inclusive join in a loop that finds an earlier turn's task of its own above it
    counts that turn's arrivals again (so one feeding a parallel join of two inputs, in a loop,
    can still fire early, as in SpiffWorkflow alone). A parsed spec never changes.
    """
    inputs: set[Any] = set()
    for task_spec in spec.task_specs.values():
        if isinstance(task_spec, ParallelGateway) and len(task_spec.inputs) > 1:
            inputs.update(task_spec.inputs)
    return frozenset(inputs)


def _first_of_its_element(tasks: dict[UUID, Any], task: Any) -> bool:
    """Whether no task above ``task`` ran its element.

    A parallel join in a loop (or a split the loop comes back to) decides whether it may fire by
    walking up from its own tasks to the first task of each input it has not seen yet: every
    element of a join's input that ever ran above it must still be found there, once. The walk
    is short: the tree above has been compacted.
    """
    parent = tasks.get(task._parent)
    while parent is not None:
        if parent.task_spec is task.task_spec:
            return False
        parent = tasks.get(parent._parent)
    return True


def _ended_subprocesses(workflow: Any, kept: set[UUID]) -> dict[UUID, list[Any]]:
    """Subprocesses that ended (completed or cancelled), by the task that ran each.

    Each maps to every task in it and in the subprocesses below it; one holding a ``kept`` task
    is left out.
    """
    subs = workflow.subprocesses
    ended: dict[UUID, list[Any]] = {}
    for task_id, sub in subs.items():
        if not sub.completed:
            continue
        inner = [task for each in subs.values() if each is sub or _runs_inside(each, sub)
                 for task in each.tasks.values()]
        if not any(task.id in kept for task in inner):
            ended[task_id] = inner
    return ended


def _is_instance(task: Any, loop: Any) -> bool:
    """Whether ``task`` is an instance of the loop or multi-instance task ``loop`` (not the task after it)."""
    return bool(task.task_spec.name == loop.task_spec.task_spec)


def _runs_inside(sub: Any, outer: Any) -> bool:
    """Whether subprocess ``sub`` was started by a task of ``outer``, or of a subprocess inside it."""
    parent = getattr(sub, "parent_workflow", None)
    while parent is not None:
        if parent is outer:
            return True
        parent = getattr(parent, "parent_workflow", None)
    return False


def _finished_branch(tasks: dict[UUID, Any], top: Any, kept: set[UUID],
                     holds: Callable[[Any], bool]) -> list[Any] | None:
    """``top`` and every task below it, if all have finished and none is kept or holds others.

    None otherwise.
    """
    branch, pending = [], [top]
    while pending:
        task = pending.pop()
        if not task.state & TaskState.FINISHED_MASK or task.id in kept or holds(task):
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
