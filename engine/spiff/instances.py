"""Parallel multi-instance tasks whose number of instances comes from the case's data, bounded.

A literal ``loopCardinality`` past ``engine.max_branches`` is refused at deploy; one computed
from the data (``loopCardinality`` an expression, or a ``loopDataInputRef`` collection) is only
known when the task starts. SpiffWorkflow creates every instance of a parallel one at once and
walks them all at every step: 3,000 instances took 7.7 s to reach the step limit, each step
slower than the last. Here the count is checked first, and one past the limit puts the case in
error at the task, naming the count and the limit; nothing is created. (A sequential one makes
one instance at a time: its instances are bounded by the step and time limits of a command.)
"""

from __future__ import annotations

from collections.abc import Sized
from typing import Any

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.spiff.specs.defaults import ParallelMultiInstanceTask

from engine.settings import DefinitionLimits

#: The attribute of a workflow holding the most instances one parallel multi-instance task of it
#: may create (``engine.max_branches``; set by the runtime on each case it loads or creates).
LIMIT_ATTRIBUTE = "tawasul_instance_limit"


class BoundedParallelMultiInstanceTask(ParallelMultiInstanceTask):
    """SpiffWorkflow's parallel multi-instance task, its count checked before any is created."""

    def create_children(self, my_task: Any) -> None:
        """Refuse (in error at this task) more instances than `instance_limit`; else create them."""
        limit = getattr(my_task.workflow.top_workflow, LIMIT_ATTRIBUTE, DefinitionLimits.max_branches)
        if self.data_input is not None:
            collection = self.data_input.get(my_task)
            count = len(collection) if isinstance(collection, Sized) else None
            source = f"the collection '{self.data_input.bpmn_id}' holds"
        else:
            count = my_task.workflow.script_engine.evaluate(my_task, self.cardinality)
            source = "the cardinality is"
        if isinstance(count, int) and count > limit:
            raise WorkflowTaskException(
                f"{source} {count} items: at most {limit} instances of a multi-instance task may run in "
                "parallel (engine.max_branches)", task=my_task)
        super().create_children(my_task)
