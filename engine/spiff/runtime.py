"""Running workflows: creating, restoring, saving and stepping them.

`WorkflowRuntime` creates and (de)serializes workflows; `Case` is what the engine's commands
need of one workflow (step, complete a task, retry, cancel, read its waits).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import SubWorkflowTask
from SpiffWorkflow.exceptions import WorkflowException
from SpiffWorkflow.specs.Join import Join
from SpiffWorkflow.util.task import TaskState

from engine.sandbox import Sandbox
from engine.settings import DefinitionLimits
from engine.spiff.compaction import COUNTING_JOINS, compact, compacted_counts
from engine.spiff.instances import LIMIT_ATTRIBUTE
from engine.spiff.parse import ParsedProcess
from engine.spiff.scripting import script_engine
from engine.spiff.snapshot import freeze as freeze_snapshot
from engine.spiff.snapshot import thaw as thaw_snapshot
from engine.spiff.timers import due_time, force_start_timer, install_clock_adapter, is_timer, skip_missed_cycles

# SpiffWorkflow logs whole task data at INFO; task data holds personal data (PDPL).
for _name in ("spiff", "spiff.task", "spiff.workflow", "spiff.metrics"):
    logging.getLogger(_name).setLevel(logging.WARNING)


@dataclass
class HumanTaskView:
    """What the projection needs of a READY human task."""

    id: str
    element_id: str
    name: str
    lane: str | None
    properties: dict[str, str]
    #: The task's data (not a copy): SLA expressions are evaluated against it.
    data: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass
class TimerView:
    """A waiting timer: the task that waits, its element and when it is due."""

    task_id: str
    element_id: str
    due_at: datetime


@dataclass
class StepFailure:
    """An element that failed while the engine ran: where and why."""

    element_id: str
    message: str



#: Engine steps (scripts, gateways, events) one command may run before the case is stopped.
DEFAULT_MAX_STEPS = 2_000
#: Seconds of engine steps one command may run before the case is stopped (steps that each cost
#: much, such as thousands of parallel instances that SpiffWorkflow walks at every step).
DEFAULT_MAX_SECONDS = 10.0
#: Within one command, the tree is compacted after this many engine steps.
_COMPACT_EVERY = 200
_LIVE = TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.ERROR


class _StepLimitReached(Exception):  # noqa: N818 - a signal out of SpiffWorkflow's loop, not an error
    def __init__(self, task: Any, why: str) -> None:
        super().__init__(task)
        self.task = task
        self.why = why


class WorkflowRuntime:
    """Runs workflows for the engine: creation, (de)serialization, steps, task actions."""

    def __init__(self, sandbox: Sandbox, default_tz: tzinfo | None = None, max_steps: int = DEFAULT_MAX_STEPS,
                 max_seconds: float = DEFAULT_MAX_SECONDS, max_instances: int = DefinitionLimits.max_branches) -> None:
        if int(max_steps) <= 0:
            raise ValueError("engine.max_steps_per_command must be a positive number of steps")
        if not float(max_seconds) > 0:
            raise ValueError("engine.max_seconds_per_command must be a positive number of seconds")
        self.sandbox = sandbox
        self.script_engine = script_engine(sandbox, default_tz)
        self.max_steps = int(max_steps)
        self.max_seconds = float(max_seconds)
        self.max_instances = int(max_instances)
        install_clock_adapter()

    def new(self, process: ParsedProcess, data: Mapping[str, Any], start_timer: str | None = None) -> Case:
        """Create a workflow of ``process`` with ``data`` as its initial data (not yet run).

        ``start_timer`` names a timer start event that has just fired (the scheduler started
        this instance for it): it passes at once instead of waiting a second time.
        """
        workflow = BpmnWorkflow(process.spec, process.subprocess_specs, script_engine=self.script_engine)
        for task in workflow.get_tasks(state=TaskState.READY):
            task.data.update(data)
        if start_timer is not None:
            force_start_timer(workflow, start_timer)
        return Case(workflow, process, self.max_steps, self.max_seconds, self.max_instances)

    def thaw(self, process: ParsedProcess, stored: str) -> Case:
        """Restore a workflow from its snapshot, against its (cached) parsed process."""
        workflow = thaw_snapshot(process, stored)
        # The script engine is not persisted: without this the default, unrestricted one would run.
        workflow.script_engine = self.script_engine
        return Case(workflow, process, self.max_steps, self.max_seconds, self.max_instances)

    def freeze(self, case: Case, compress: bool = True) -> str:
        """Serialize a workflow's state (without its spec) to JSON.

        Finished chains are compacted first: the stored tree is as small as the case's open work.

        Raises:
            ScriptError: task data holds a value that cannot be stored (named in the message).
        """
        case.compact()
        return freeze_snapshot(case.workflow, compress)


class Case:
    """One workflow and the operations the engine's commands need of it."""

    def __init__(self, workflow: Any, process: ParsedProcess, max_steps: int = DEFAULT_MAX_STEPS,
                 max_seconds: float = DEFAULT_MAX_SECONDS, max_instances: int = DefinitionLimits.max_branches) -> None:
        self.workflow = workflow
        self.process = process
        self.max_steps = max_steps
        self.max_seconds = max_seconds
        #: The most instances one parallel multi-instance task may create (`engine.spiff.instances`).
        self.max_instances = max_instances
        setattr(workflow, LIMIT_ATTRIBUTE, max_instances)
        #: Tasks `compact` took out during this command (all of them finished).
        self._compacted: set[UUID] = set()

    def compact(self, keep: list[Any] | None = None) -> None:
        """Take finished tasks out of finished chains (`engine.spiff.compaction`)."""
        self._compacted.update(compact(self.workflow, keep or ()))

    # -- stepping ---------------------------------------------------------------------------

    def advance(self) -> StepFailure | None:
        """Fire due timers and run every engine step; return the failure if an element failed.

        At most ``max_steps`` engine steps, for at most ``max_seconds``, run: an endless loop, or
        steps each too costly, stop the case at the element it was running, instead of holding
        the command (and on SQLite every writer) for ever.
        """
        steps = 0
        deadline = time.monotonic() + self.max_seconds

        def count(task: Any) -> None:
            nonlocal steps
            steps += 1
            if steps >= self.max_steps:
                raise _StepLimitReached(task, f"the case ran {self.max_steps} engine steps in one command without "
                                              "waiting for a person or a timer (a loop that does not end?); it was "
                                              "stopped here")
            if time.monotonic() > deadline:
                raise _StepLimitReached(task, f"the case ran engine steps for over {self.max_seconds:g} seconds in "
                                              f"one command ({steps} steps) without waiting for a person or a timer; "
                                              "it was stopped here")
            if steps % _COMPACT_EVERY == 0:  # a long run of steps: keep the tree shallow as it goes
                self.compact(keep=self._timer_tasks())

        try:
            if self.process.has_cycle_timers:  # walking the tree for them costs as much as a step
                skip_missed_cycles(self.workflow, TaskState.WAITING)
            self.workflow.refresh_timers()
            self.workflow.do_engine_steps(did_complete_task=count)
        except _StepLimitReached as stop:
            return StepFailure(element_id=_element_of(stop.task), message=stop.why)
        except WorkflowException as exc:
            return _failure_from(exc)
        except Exception as exc:  # noqa: BLE001 - any failure inside the engine puts the case in error
            return self._engine_failure(exc)
        return self._stalled()

    def _timer_tasks(self) -> list[Any]:
        """The ids of timer tasks: the command still asks which of them fired."""
        return [task.id for task in self._tasks() if is_timer(getattr(task.task_spec, "event_definition", None))]

    def _tasks(self) -> Iterator[Any]:
        """Every task of the case and its subprocesses, however deep (SpiffWorkflow's walk stops at 1000)."""
        for workflow in (self.workflow, *self.workflow.subprocesses.values()):
            yield from workflow.tasks.values()

    def _stalled(self) -> StepFailure | None:
        """A failure when the engine stopped short: a step it did not take, or no end and nothing open."""
        alive, stuck_join = False, None
        for task in self._tasks():
            if task.state == TaskState.READY and not task.task_spec.manual:
                return StepFailure(element_id=_element_of(task), message=(
                    "the engine cannot reach this step: the case's history is deeper than SpiffWorkflow can walk "
                    "(a loop taken too many times)"))
            if task.state == TaskState.WAITING and isinstance(task.task_spec, Join):
                # A join (a gateway's, or the one before the process's end) waits for branches:
                # stuck if nothing else lives. The gateway's is the one to name.
                if stuck_join is None or isinstance(task.task_spec, COUNTING_JOINS):
                    stuck_join = task
            elif not (task.state == TaskState.STARTED and isinstance(task.task_spec, SubWorkflowTask)):
                # A subprocess is alive through the tasks inside it (walked here too), not by itself.
                alive = alive or bool(task.state & _LIVE)
        if not alive and stuck_join is not None:
            return StepFailure(element_id=_element_of(stuck_join), message=(
                "the case cannot go on: this join waits for a branch that can no longer reach it (it ended "
                "elsewhere or was never taken), and nothing else is open or waits"))
        if not alive and not self.workflow.completed:
            return StepFailure(element_id=_element_of(self.workflow.last_task), message=(
                "the case stopped without reaching an end event: nothing is open and nothing waits"))
        return None

    def _engine_failure(self, exc: Exception, element_id: str | None = None) -> StepFailure:
        """The failure to record when SpiffWorkflow itself raised ``exc`` (not an element's own error)."""
        if isinstance(exc, RecursionError):
            message = ("the case's history is too deep for the engine to follow (a loop through a parallel or "
                       "inclusive gateway taken a few hundred times?); it was stopped here")
        else:
            message = f"{type(exc).__name__}: {exc}"
        return StepFailure(element_id=element_id or self._busy_element(), message=message)

    def _busy_element(self) -> str:
        """Best guess at the element the engine was working on when it failed."""
        tasks = list(self._tasks())  # SpiffWorkflow's own walk stops at depth 1000
        for state in (TaskState.ERROR, TaskState.STARTED, TaskState.READY, TaskState.WAITING):
            for task in tasks:
                if task.state == state and not task.task_spec.manual and getattr(task.task_spec, "bpmn_id", None):
                    return str(task.task_spec.bpmn_id)
        last = self.workflow.last_task  # nothing under way: where it last got to
        if last is not None and getattr(last.task_spec, "bpmn_id", None):
            return str(last.task_spec.bpmn_id)
        return "?"

    def retry_failed(self, data: Mapping[str, Any] | None = None, element_id: str | None = None) -> StepFailure | None:
        """Run the failed element again, with ``data`` (the fix) merged in, then the engine on.

        A script that raised is in ERROR and runs again with the fix in its own data. An element
        that failed before it could start (a timer whose value was wrong, say) is still waiting
        to be reached: the fix goes into the data it inherits and it is reached again.
        """
        fix = dict(data or {})
        try:
            errored = self.workflow.get_tasks(state=TaskState.ERROR)
            for task in errored:
                task.data.update(fix)
                task._set_state(TaskState.READY)
            if not errored and element_id:
                pending = TaskState.PREDICTED_MASK | TaskState.FUTURE | TaskState.WAITING | TaskState.READY
                for task in self.workflow.get_tasks(state=pending):
                    parent = task.parent
                    if task.task_spec.bpmn_id != element_id or parent is None or parent.state != TaskState.COMPLETED:
                        continue
                    parent.data.update(fix)
                    task.data.update(fix)
                    task.internal_data.pop("event_value", None)  # a timer computes its due time again
                    task.task_spec._update(task)
            for task in self.workflow.get_tasks(state=TaskState.READY, manual=False):
                task.data.update(fix)
        except WorkflowException as exc:
            return _failure_from(exc)
        except Exception as exc:  # noqa: BLE001 - any failure inside the engine puts the case in error
            return self._engine_failure(exc, element_id)
        return self.advance()

    # -- state ------------------------------------------------------------------------------

    @property
    def is_completed(self) -> bool:
        """True when the process reached an end event and no work is left (checked, not assumed).

        SpiffWorkflow's own ``is_completed()`` concludes "completed" from finding no open task in
        a walk that stops at depth 1000, so a deep case would read as finished.
        """
        return bool(self.workflow.completed) and not any(task.state & _LIVE for task in self._tasks())

    def data(self) -> dict[str, Any]:
        """The case's current data.

        At the end that is the process data; while running, the data of every reached task
        merged in the order the tasks changed, so every parallel branch shows.
        """
        if self.is_completed:
            return dict(self.workflow.data)
        mask = TaskState.COMPLETED | TaskState.READY | TaskState.STARTED | TaskState.ERROR | TaskState.WAITING
        merged: dict[str, Any] = {}
        for task in sorted(self.workflow.get_tasks(state=mask), key=lambda t: t.last_state_change):
            merged.update(task.data)
        return merged

    def waits(self) -> tuple[dict[str, HumanTaskView], dict[str, TimerView]]:
        """The READY human tasks and the waiting timers, found in one pass over the task tree."""
        humans: dict[str, HumanTaskView] = {}
        timers: dict[str, TimerView] = {}
        workflows = [self.workflow, *self.workflow.subprocesses.values()]
        for workflow in workflows:
            for task in workflow.tasks.values():
                state = task.state
                if state == TaskState.READY and task.task_spec.manual:
                    view = _human_view(task)
                    humans[view.id] = view
                elif state == TaskState.WAITING:
                    timer = _timer_view(task)
                    if timer is not None:
                        timers[timer.task_id] = timer
        return humans, timers

    def human_tasks(self) -> list[HumanTaskView]:
        """The READY user and manual tasks."""
        return list(self.waits()[0].values())

    def timers(self) -> list[TimerView]:
        """The waiting timers with their due times (UTC)."""
        return list(self.waits()[1].values())

    def element_states(self) -> dict[str, dict[str, int]]:
        """Per BPMN element: how many of its tasks are done, active (waiting or ready) or cancelled."""
        counts: dict[str, dict[str, int]] = {}
        workflows = [self.workflow, *self.workflow.subprocesses.values()]
        for workflow in workflows:
            for task in workflow.tasks.values():
                element = getattr(task.task_spec, "bpmn_id", None)
                if not element:
                    continue
                state = task.state
                if state == TaskState.COMPLETED:
                    kind = "done"
                elif state in (TaskState.READY, TaskState.WAITING, TaskState.STARTED, TaskState.ERROR):
                    kind = "active"
                elif state == TaskState.CANCELLED:
                    kind = "cancelled"
                else:
                    continue
                counts.setdefault(element, {"done": 0, "active": 0, "cancelled": 0})[kind] += 1
        for element, done in compacted_counts(self.workflow).items():
            counts.setdefault(element, {"done": 0, "active": 0, "cancelled": 0})["done"] += done
        return counts

    def timer_fired(self, task_id: str) -> bool:
        """True when the timer task ``task_id`` fired (completed), not cancelled with its scope."""
        try:
            key = UUID(task_id)
        except ValueError:
            return False
        if key in self._compacted:  # only finished tasks are compacted
            return True
        try:
            task = self.workflow.get_task_from_id(key)
        except (KeyError, WorkflowException):
            return False
        return task is not None and task.state == TaskState.COMPLETED

    def failed_element(self) -> str | None:
        """The element of the first task in ERROR, if any."""
        for task in self.workflow.get_tasks(state=TaskState.ERROR):
            return str(task.task_spec.bpmn_id or task.task_spec.name)
        return None

    # -- task actions -----------------------------------------------------------------------

    def human_task(self, task_id: str) -> Any | None:
        """Return the workflow task ``task_id`` if it is a READY human task, else None."""
        try:
            task = self.workflow.get_task_from_id(UUID(task_id))
        except (ValueError, KeyError, WorkflowException):
            return None
        if task is None or task.state != TaskState.READY or not task.task_spec.manual:
            return None
        return task

    def complete_human_task(self, task_id: str, data: Mapping[str, Any]) -> StepFailure | None:
        """Merge ``data`` into a READY human task, complete it and run the engine on.

        The caller must have checked `human_task` first: ``Task.run`` does not check state.
        """
        task = self.human_task(task_id)
        if task is None:
            raise LookupError(task_id)
        task.data.update(data)
        try:
            task.run()
        except WorkflowException as exc:
            return _failure_from(exc)
        except Exception as exc:  # noqa: BLE001 - any failure inside the engine puts the case in error
            return self._engine_failure(exc, _element_of(task))
        return self.advance()

    def cancel(self) -> None:
        """Cancel the workflow: every unfinished task is cancelled."""
        self.workflow.cancel()


def _human_view(task: Any) -> HumanTaskView:
    spec = task.task_spec
    extensions = getattr(spec, "extensions", None) or {}
    return HumanTaskView(
        id=str(task.id),
        element_id=spec.bpmn_id or spec.name,
        name=spec.bpmn_name or spec.bpmn_id or spec.name,
        lane=spec.lane,
        properties=dict(extensions.get("properties") or {}),
        data=task.data,
    )


def _timer_view(task: Any) -> TimerView | None:
    if not is_timer(getattr(task.task_spec, "event_definition", None)):
        return None
    due = due_time(task.internal_data.get("event_value"))
    if due is None:
        return None
    return TimerView(str(task.id), task.task_spec.bpmn_id or task.task_spec.name, due)


def _element_of(task: Any) -> str:
    if task is None:
        return "?"
    return str(getattr(task.task_spec, "bpmn_id", None) or task.task_spec.name)


def _failure_from(exc: WorkflowException) -> StepFailure:
    task = getattr(exc, "task", None)
    element = "?"
    if task is not None:
        element = str(task.task_spec.bpmn_id or task.task_spec.name)
    elif getattr(exc, "task_spec", None) is not None:
        element = str(exc.task_spec.bpmn_id or exc.task_spec.name)
    message = exc.message if hasattr(exc, "message") and exc.message else str(exc)
    if message.endswith(". "):  # SpiffWorkflow ends its task messages with a separator for hints
        message = message[:-2]
    cause = exc.error if hasattr(exc, "error") else None
    cause = cause or exc.__cause__ or exc.__context__
    if cause is not None and str(cause) and str(cause) not in message:
        message = f"{message}: {cause}"
    return StepFailure(element_id=element, message=message)
