"""The one door to SpiffWorkflow: the rest of the engine imports from here, never a submodule.

* `engine.spiff.parse` — parsing BPMN with XSD validation, and linting every script, condition,
  timer and service call against the sandbox;
* `engine.spiff.timers` — the engine's clock inside SpiffWorkflow's timers, timer values, and the
  planning of timer start events;
* `engine.spiff.scripting` — the sandboxed script environment and the storability of task data;
* `engine.spiff.snapshot` — the workflow state as compressed JSON without its spec;
* `engine.spiff.compaction` — keeping the task tree as small as the open work (finished chains
  taken out);
* `engine.spiff.runtime` — creating, restoring and stepping workflows (`WorkflowRuntime`, `Case`);
* `engine.spiff.migration` — moving a running case to another version (SpiffWorkflow's diff, Tawasul's rules).

An engine upgrade should touch this package only.
"""

from engine.spiff.migration import (
    TIMER_CHOICES,
    CaseCheck,
    ElementDiff,
    MigrationRefused,
    Problem,
    VersionDiff,
    elements_of,
)
from engine.spiff.parse import ParsedProcess, ParseFailed, PropertyLint, check_bpmn, limit_problems, parse_bpmn
from engine.spiff.runtime import (
    DEFAULT_MAX_SECONDS,
    DEFAULT_MAX_STEPS,
    Case,
    HumanTaskView,
    StepFailure,
    TimerView,
    WorkflowRuntime,
)
from engine.spiff.scripting import ServiceDispatcher, serving, unstorable
from engine.spiff.snapshot import decode_snapshot, encode_snapshot
from engine.spiff.timers import (
    StartTimerPlan,
    current_clock,
    duration_after,
    iso_literal,
    start_timer_plans,
    using_clock,
)

__all__ = [
    "DEFAULT_MAX_SECONDS", "DEFAULT_MAX_STEPS", "TIMER_CHOICES", "Case", "CaseCheck", "ElementDiff", "HumanTaskView",
    "MigrationRefused", "Problem", "VersionDiff", "elements_of", "ParseFailed", "ParsedProcess", "PropertyLint",
    "ServiceDispatcher", "StartTimerPlan", "StepFailure", "TimerView", "WorkflowRuntime", "check_bpmn", "current_clock",
    "decode_snapshot", "duration_after", "encode_snapshot", "iso_literal", "limit_problems", "parse_bpmn", "serving",
    "start_timer_plans", "unstorable", "using_clock",
]
