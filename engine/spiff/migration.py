"""Moving a running case to another version of its process, on SpiffWorkflow's own diff.

SpiffWorkflow aligns the task specs of two versions (`SpecDiff`: by BPMN id first, then by the
shape of the flow around an element whose id is gone) and moves a workflow onto the new spec
(`migrate_workflow`: every task takes its aligned spec, then each READY or WAITING task is
reset and its future predicted again on the new diagram, keeping its task id). Tawasul's rules
on top, per element the case has reached:

* an element with a **completed** or an **active** (ready, started, waiting) task must still be
  there, under the same id, and do the same thing: otherwise the case is blocked, unless the
  owner maps that element id to an element of the same type in the new version (``{old: new}``;
  ``{x: x}`` accepts a change to ``x``). What an element *does* is every attribute
  SpiffWorkflow serializes but its label, documentation and flows (``bpmn_name``,
  ``documentation``, ``description``, ``lookahead``, ``inputs``, ``outputs`` and a gateway's
  branch list): a task added after the current one changes the current one's outputs, and that
  is what a migration is for.
* "Completed" is what the case's compacted tree still holds plus the elements its compaction
  counted (`engine.spiff.compaction` takes finished tasks out and counts them by element): an
  element that ran once and was compacted away counts as completed.
* a waiting timer needs an explicit choice: ``keep`` its due time, or ``recompute`` it from the
  new definition's expression, evaluated with the clock at the moment the timer started waiting
  (so ``business_days(10)`` counts ten working days from then on the calendar in force). A
  change to the timer's own expression is covered by that choice; any other change needs a map.
* an active task that gains a boundary event in the new version cannot move (SpiffWorkflow
  would leave the new event unarmed): the case is blocked.

Anything SpiffWorkflow cannot carry over (the moved workflow does not serialize and restore on
the new spec) blocks the case as well: nothing is half-moved.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from SpiffWorkflow.bpmn.specs.control import BoundaryEventSplit
from SpiffWorkflow.bpmn.util.diff import SpecDiff, WorkflowDiff, migrate_workflow
from SpiffWorkflow.util.task import TaskState

from engine.clock import FrozenClock
from engine.errors import error_code
from engine.spiff.compaction import COUNTS
from engine.spiff.parse import ParsedProcess
from engine.spiff.runtime import Case
from engine.spiff.snapshot import freeze, thaw
from engine.spiff.timers import is_timer, using_clock

#: An element the case completed or is at was removed from the new version (``element``, ``state``).
ELEMENT_REMOVED = error_code("migration_element_removed", "element", "state")
#: An element the case completed or is at does something else in the new version (``attributes``).
ELEMENT_CHANGED = error_code("migration_element_changed", "element", "state", "attributes")
#: An element the case reached has another id in the new version (``new_element``: SpiffWorkflow's guess, if any).
ELEMENT_RENAMED = error_code("migration_element_renamed", "element", "state", "new_element")
#: A mapping entry that cannot be used (``why``: ``old_missing``, ``new_missing`` or ``type``).
BAD_MAPPING = error_code("migration_bad_mapping", "element", "new_element", "why")
#: A waiting timer (``element``) with no choice of keep or recompute.
TIMER_CHOICE = error_code("migration_timer_choice", "element")
#: An active task (``element``) that gains a boundary event in the new version.
BOUNDARY_ADDED = error_code("migration_boundary_added", "element")
#: A subprocess or call activity under way (``element``) whose process is gone from the new version.
SUBPROCESS_REMOVED = error_code("migration_subprocess_removed", "element")
#: SpiffWorkflow could not carry the case over (``message``).
ENGINE_REFUSED = error_code("migration_engine_refused", "message")

KEEP, RECOMPUTE = "keep", "recompute"
TIMER_CHOICES = (KEEP, RECOMPUTE)
COMPLETED_STATE, ACTIVE_STATE = "completed", "active"

#: Serialized attributes that are an element's label, documentation or flows, not what it does.
_COSMETIC = frozenset({"bpmn_name", "documentation", "description", "lookahead", "inputs", "outputs",
                       "cond_task_specs", "default_task_spec", "choice"})
_ACTIVE = TaskState.READY | TaskState.STARTED | TaskState.WAITING | TaskState.ERROR
_RESET = TaskState.READY | TaskState.WAITING


@dataclass(frozen=True)
class Problem:
    """Why a case cannot move: a code, its params, and the same in English."""

    code: str
    message: str
    params: dict[str, Any] = field(default_factory=dict)
    #: True when a mapping entry (``{element: ...}``) would let the case move.
    mappable: bool = False

    def as_dict(self) -> dict[str, Any]:
        """The JSON the CLI and pages read."""
        return {"code": self.code, "message": self.message, "params": self.params}


@dataclass(frozen=True)
class ElementDiff:
    """How one element of the old version stands in the new one."""

    element_id: str
    type: str
    #: ``same``, ``changed``, ``renamed`` (aligned to another id) or ``removed``.
    status: str
    new_id: str | None = None
    attributes: tuple[str, ...] = ()
    #: True when the owner's mapping names it (then it moves whatever its status).
    mapped: bool = False


@dataclass
class CaseCheck:
    """What a case is at, and whether it may move."""

    #: The elements of its active tasks, sorted (the dry run groups cases by these).
    active: list[str]
    problems: list[Problem]
    #: Waiting timers: task id -> element id.
    timers: dict[str, str]
    #: Elements a mapping could fix, with SpiffWorkflow's guess of the new id (None: no guess).
    needs_mapping: dict[str, str | None] = field(default_factory=dict)

    @property
    def movable(self) -> bool:
        """True when nothing stops the case moving."""
        return not self.problems


class VersionDiff:
    """The alignment of two versions of one process, with the owner's mapping applied.

    Built once per (old, new, mapping) and used for every case of the old version.
    """

    def __init__(self, old: ParsedProcess, new: ParsedProcess, mapping: Mapping[str, str] | None = None) -> None:
        from engine.spiff.snapshot import _serializer

        self.old, self.new = old, new
        self.mapping = {str(k): str(v) for k, v in (mapping or {}).items()}
        self._registry = _serializer().registry
        #: Problems in the mapping itself: they block every case.
        self.mapping_problems: list[Problem] = []
        self.top = self._spec_diff(old.spec, new.spec, top=True)
        self._subs: dict[str, SpecDiff | None] = {}
        self.elements: dict[str, ElementDiff] = {}
        self._classify(self.top)

    # -- the spec diff ------------------------------------------------------------------------

    def _spec_diff(self, original: Any, new: Any, top: bool = False) -> SpecDiff:
        diff = SpecDiff(self._registry, original, new)
        for old_id, new_id in self.mapping.items():
            old_spec = original.task_specs.get(old_id)
            if old_spec is None or not getattr(old_spec, "bpmn_id", None):
                if top and element_type(self.old, old_id) is None:
                    self._mapping_problem(old_id, new_id, "old_missing")
                continue
            new_spec = new.task_specs.get(new_id)
            if new_spec is None or not getattr(new_spec, "bpmn_id", None):
                self._mapping_problem(old_id, new_id, "new_missing")
                continue
            if type(new_spec).__name__ != type(old_spec).__name__:
                self._mapping_problem(old_id, new_id, "type")
                continue
            previous = diff.alignment.get(old_spec)
            if previous is not None and previous is not new_spec and previous not in diff.added:
                diff.added.append(previous)
            diff.alignment[old_spec] = new_spec
            if new_spec in diff.added:
                diff.added.remove(new_spec)
            diff.comparisons[old_spec] = diff._compare_task_specs(old_spec, new_spec)
        return diff

    def _mapping_problem(self, old_id: str, new_id: str, why: str) -> None:
        words = {"old_missing": f"the old version has no element {old_id!r}",
                 "new_missing": f"the new version has no element {new_id!r}",
                 "type": f"{old_id!r} and {new_id!r} are not elements of the same type"}[why]
        problem = Problem(BAD_MAPPING, f"the mapping {old_id!r} -> {new_id!r} cannot be used: {words}",
                          {"element": old_id, "new_element": new_id, "why": why})
        if problem not in self.mapping_problems:
            self.mapping_problems.append(problem)

    def _classify(self, diff: SpecDiff) -> None:
        for spec, new_spec in diff.alignment.items():
            element = getattr(spec, "bpmn_id", None)
            if spec is None or not element:
                continue
            mapped = element in self.mapping
            kind = type(spec).__name__
            if new_spec is None:
                self.elements[element] = ElementDiff(element, kind, "removed", mapped=mapped)
                continue
            new_id = getattr(new_spec, "bpmn_id", None) or new_spec.name
            changes = tuple(sorted(a for a in diff.comparisons.get(spec) or () if a not in _COSMETIC))
            if new_id != element:
                self.elements[element] = ElementDiff(element, kind, "renamed", new_id, changes, mapped)
            elif changes:
                self.elements[element] = ElementDiff(element, kind, "changed", new_id, changes, mapped)
            else:
                self.elements[element] = ElementDiff(element, kind, "same", new_id, mapped=mapped)

    def sub_diff(self, name: str) -> SpecDiff | None:
        """The diff of the subprocess spec ``name`` (None when the new version lacks it)."""
        if name not in self._subs:
            old_spec = self.old.subprocess_specs.get(name)
            new_spec = self.new.subprocess_specs.get(name)
            self._subs[name] = (None if old_spec is None or new_spec is None
                                else self._spec_diff(old_spec, new_spec))
            if self._subs[name] is not None:
                self._classify(self._subs[name])
        return self._subs[name]

    def added(self) -> list[str]:
        """The elements of the new version no element of the old one aligns with, by id."""
        aligned = {spec for spec in self.top.alignment.values() if spec is not None}
        return sorted(str(spec.bpmn_id) for spec in self.new.spec.task_specs.values()
                      if getattr(spec, "bpmn_id", None) and spec not in aligned)

    def changes(self) -> list[ElementDiff]:
        """Every element of the old version that is not the same in the new one, by id."""
        return sorted((e for e in self.elements.values() if e.status != "same"), key=lambda e: e.element_id)

    # -- one case -----------------------------------------------------------------------------

    def check(self, case: Case, timer_choices: Mapping[str, str] | str | None = None) -> CaseCheck:
        """Whether ``case`` may move to the new version.

        ``timer_choices`` is one choice for every waiting timer, or one by timer element id.
        """
        reached: dict[str, str] = {}  # element -> completed / active
        boundary_problems: list[Problem] = []
        timers: dict[str, str] = {}
        for workflow, diff in self._workflows(case, boundary_problems):
            if diff is None:
                continue
            for task in workflow.tasks.values():
                element = getattr(task.task_spec, "bpmn_id", None)
                if not element:
                    continue
                if task.state & _ACTIVE:
                    reached[element] = ACTIVE_STATE
                    if element in self.mapping:
                        self._check_place(workflow, task, diff, boundary_problems)
                    if task.state == TaskState.WAITING and is_timer(getattr(task.task_spec, "event_definition", None)):
                        timers[str(task.id)] = element
                    self._check_boundary(task, diff, boundary_problems)
                elif task.state == TaskState.COMPLETED:
                    reached.setdefault(element, COMPLETED_STATE)
        for element in (case.workflow.task_tree.internal_data.get(COUNTS) or {}):
            reached.setdefault(element, COMPLETED_STATE)
        problems = list(self.mapping_problems) + boundary_problems
        needs: dict[str, str | None] = {}
        timer_elements = set(timers.values())
        for element, state in sorted(reached.items()):
            found = self.elements.get(element)
            if found is None or found.mapped or found.status == "same":
                continue
            attributes = [a for a in found.attributes if not (element in timer_elements and a == "event_definition")]
            if found.status == "changed" and not attributes:
                continue  # only the timer's expression changed: the timer choice covers it
            problems.append(self._element_problem(found, state, attributes))
            needs[element] = found.new_id if found.status == "renamed" else (element if found.status == "changed"
                                                                              else None)
        for element in sorted(set(timers.values())):
            if _choice(timer_choices, element) is None:
                problems.append(Problem(TIMER_CHOICE, f"the timer {element!r} waits: choose to keep its due time "
                                        "or to recompute it from the new version", {"element": element}))
        active = sorted(e for e, s in reached.items() if s == ACTIVE_STATE)
        return CaseCheck(active=active, problems=_unique(problems), timers=timers, needs_mapping=needs)

    def _check_place(self, workflow: Any, task: Any, diff: SpecDiff, problems: list[Problem]) -> None:
        """A case at a mapped element moves only to an element in the same place in the flow.

        The same place: what comes before it, or what comes after it, is what came before or after
        the old one (so a task inserted before or after the renamed one still lets it move). And no
        other open task of the case is there already. Otherwise the token would land in another
        branch, past a join, or beside another token, and the case would be stuck at a join later.
        """
        old_spec, new_spec = task.task_spec, diff.alignment.get(task.task_spec)
        if new_spec is None:
            return
        element, target = str(old_spec.bpmn_id), str(getattr(new_spec, "bpmn_id", None) or new_spec.name)

        def aligned(specs: Any) -> set[Any]:
            return {getattr(diff.alignment.get(spec), "name", None) for spec in specs}

        before, after = aligned(old_spec.inputs), aligned(old_spec.outputs)
        same_place = ((None not in before and before == {spec.name for spec in new_spec.inputs})
                      or (None not in after and after == {spec.name for spec in new_spec.outputs}))
        occupied = any(other is not task and other.state & _ACTIVE and diff.alignment.get(other.task_spec) is new_spec
                       for other in workflow.tasks.values())
        if occupied or not same_place:
            why = "occupied" if occupied else "place"
            words = ("another open task of the case is already there" if occupied else
                     "it is not where the old element was in the flow (neither what comes before it nor what comes "
                     "after it is the same), so the case could be stuck at a join later")
            problem = Problem(BAD_MAPPING, f"the mapping {element!r} -> {target!r} cannot be used: {words}",
                              {"element": element, "new_element": target, "why": why})
            if problem not in problems:
                problems.append(problem)

    def _workflows(self, case: Case, problems: list[Problem]) -> list[tuple[Any, SpecDiff | None]]:
        found: list[tuple[Any, SpecDiff | None]] = [(case.workflow, self.top)]
        for task_id, sub in case.workflow.subprocesses.items():
            diff = self.sub_diff(sub.spec.name)
            if diff is None and not sub.completed:
                owner = case.workflow.get_task_from_id(task_id)
                element = getattr(owner.task_spec, "bpmn_id", None) if owner is not None else None
                problems.append(Problem(SUBPROCESS_REMOVED, f"the subprocess {element or sub.spec.name!r} under way "
                                        "is not in the new version", {"element": element or sub.spec.name}))
            found.append((sub, diff))
        return found

    def _check_boundary(self, task: Any, diff: SpecDiff, problems: list[Problem]) -> None:
        """An active task whose new spec sits under a boundary split its tree lacks."""
        new_spec = diff.alignment.get(task.task_spec)
        parent = task.parent
        if new_spec is None or parent is None:
            return
        splits = [spec for spec in new_spec.inputs if isinstance(spec, BoundaryEventSplit)]
        if splits and not isinstance(parent.task_spec, BoundaryEventSplit):
            element = str(task.task_spec.bpmn_id)
            problems.append(Problem(BOUNDARY_ADDED, f"the active element {element!r} has a boundary event in the "
                                    "new version that SpiffWorkflow cannot arm for a case already at it",
                                    {"element": element}))

    @staticmethod
    def _element_problem(found: ElementDiff, state: str, attributes: list[str]) -> Problem:
        where = "the case is at" if state == ACTIVE_STATE else "the case has completed"
        element = found.element_id
        if found.status == "removed":
            return Problem(ELEMENT_REMOVED, f"{where} {element!r}, which the new version removed; map it to an "
                           "element of the same type", {"element": element, "state": state}, mappable=True)
        if found.status == "renamed":
            return Problem(ELEMENT_RENAMED, f"{where} {element!r}, which the new version has as {found.new_id!r}; "
                           "confirm it with a mapping", {"element": element, "state": state,
                                                         "new_element": found.new_id}, mappable=True)
        return Problem(ELEMENT_CHANGED, f"{where} {element!r}, which the new version changed "
                       f"({', '.join(attributes)}); accept the change with a mapping {element} -> {element}",
                       {"element": element, "state": state, "attributes": attributes}, mappable=True)

    # -- moving -------------------------------------------------------------------------------

    def migrate(self, case: Case, timer_choices: Mapping[str, str] | str | None,
                timer_started: Mapping[str, datetime], now: datetime) -> Case:
        """``case`` moved to the new version (the given case is spent: its workflow is moved in place).

        ``timer_started`` gives, by timer task id, when each waiting timer began to wait (a
        recomputed timer counts from then). Raises `MigrationRefused` when the case may not move.
        """
        check = self.check(case, timer_choices)
        if not check.movable:
            raise MigrationRefused(check.problems)
        workflow = case.workflow
        saved = {task_id: copy.deepcopy(workflow.get_task_from_id(_uuid(task_id)).internal_data)
                 for task_id in check.timers}
        try:
            with using_clock(FrozenClock(now)):
                top_diff = WorkflowDiff(workflow, self.top)
                migrate_workflow(top_diff, workflow, self.new.spec, reset_mask=_RESET)
                workflow.subprocess_specs = self.new.subprocess_specs
                for sub in list(workflow.subprocesses.values()):
                    diff = self.sub_diff(sub.spec.name)
                    if diff is not None:
                        migrate_workflow(WorkflowDiff(sub, diff), sub, self.new.subprocess_specs[sub.spec.name],
                                         reset_mask=_RESET)
            self._rename_counts(workflow)
            for task_id, element in check.timers.items():
                task = workflow.get_task_from_id(_uuid(task_id))
                if task is None or task.state != TaskState.WAITING:
                    continue
                if _choice(timer_choices, element) == KEEP:
                    task.internal_data = saved[task_id]
                else:  # recompute: the new expression, evaluated as when the timer began to wait
                    with using_clock(FrozenClock(timer_started.get(task_id, now))):
                        task.reset_branch(None)
            moved = Case(workflow, self.new, case.max_steps, case.max_seconds, case.max_instances)
            # What cannot be stored and restored on the new spec must not be saved.
            thaw(self.new, freeze(workflow, compress=False))
        except MigrationRefused:
            raise
        except Exception as exc:  # noqa: BLE001 - whatever SpiffWorkflow raised, the case stays where it was
            raise MigrationRefused([Problem(ENGINE_REFUSED, f"the engine could not move the case: "
                                            f"{type(exc).__name__}: {exc}", {"message": str(exc)})]) from None
        return moved

    def _rename_counts(self, workflow: Any) -> None:
        counts = workflow.task_tree.internal_data.get(COUNTS)
        if not counts:
            return
        renamed: dict[str, int] = {}
        for element, count in counts.items():
            found = self.elements.get(element)
            target = found.new_id if found is not None and found.mapped and found.new_id else element
            renamed[target] = renamed.get(target, 0) + count
        workflow.task_tree.internal_data[COUNTS] = renamed


class MigrationRefused(Exception):  # noqa: N818 - a refusal carrying its reasons, not an engine error
    """The case may not move; ``problems`` says why."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(p.message for p in problems))
        self.problems = problems


def element_type(process: ParsedProcess, element_id: str) -> str | None:
    """The SpiffWorkflow type name of ``element_id`` in ``process`` (subprocesses too), if it has one."""
    for spec in (process.spec, *process.subprocess_specs.values()):
        task_spec = spec.task_specs.get(element_id)
        if task_spec is not None and getattr(task_spec, "bpmn_id", None):
            return type(task_spec).__name__
    return None


def elements_of(process: ParsedProcess) -> dict[str, tuple[str, str]]:
    """Every BPMN element of ``process`` (subprocesses too): id -> (type name, drawn name or id)."""
    found: dict[str, tuple[str, str]] = {}
    for spec in (process.spec, *process.subprocess_specs.values()):
        for task_spec in spec.task_specs.values():
            element = getattr(task_spec, "bpmn_id", None)
            if element and element not in found:
                name = " ".join(str(getattr(task_spec, "bpmn_name", None) or element).split())
                found[str(element)] = (type(task_spec).__name__, name)
    return found


def _choice(choices: Mapping[str, str] | str | None, element: str) -> str | None:
    if isinstance(choices, str):
        return choices if choices in TIMER_CHOICES else None
    if choices:
        value = choices.get(element)
        return value if value in TIMER_CHOICES else None
    return None


def _unique(problems: list[Problem]) -> list[Problem]:
    seen: list[Problem] = []
    for problem in problems:
        if problem not in seen:
            seen.append(problem)
    return seen


def _uuid(task_id: str) -> Any:
    from uuid import UUID

    return UUID(task_id)


__all__ = [
    "ACTIVE_STATE", "BAD_MAPPING", "BOUNDARY_ADDED", "COMPLETED_STATE", "ELEMENT_CHANGED", "ELEMENT_REMOVED",
    "ELEMENT_RENAMED", "ENGINE_REFUSED", "KEEP", "RECOMPUTE", "SUBPROCESS_REMOVED", "TIMER_CHOICE", "TIMER_CHOICES",
    "CaseCheck", "ElementDiff", "MigrationRefused", "Problem", "VersionDiff", "element_type", "elements_of",
]
