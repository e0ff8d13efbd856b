"""Snapshots: a workflow's state as compact, compressed JSON, without its process spec.

The spec is parsed once per definition version and cached; a snapshot only names the process
it belongs to and is restored against the cached spec.
"""

from __future__ import annotations

import base64
import contextvars
import json
import threading
import zlib
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default import workflow as task_converters
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG

from engine.db import repair_json_text
from engine.errors import ScriptError

if TYPE_CHECKING:
    from engine.spiff.parse import ParsedProcess

_COMPRESSED = "z1:"
_current_process: contextvars.ContextVar[ParsedProcess] = contextvars.ContextVar("tawasul_process")
_local = threading.local()


class _SpecReferenceConverter(BpmnWorkflowConverter):
    """Serializes a workflow without its spec; restores it against the cached parsed spec."""

    def to_dict(self, workflow: Any) -> dict[str, Any]:
        dct = super(BpmnWorkflowConverter, self).to_dict(workflow)
        dct["spec"] = workflow.spec.name
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct: dict[str, Any]) -> Any:
        process = _current_process.get()
        if dct.pop("spec") != process.spec.name:
            raise ValueError("snapshot belongs to another process")
        dct.pop("subprocess_specs", None)
        workflow = self.target_class(process.spec, process.subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], _task_id, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(_task_id(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


@lru_cache(maxsize=50_000)
def _task_id(text: str) -> UUID:
    """The UUID of a task id as text, made once: a UUID is immutable, so every case may share it."""
    return UUID(text)


def _make_serializer() -> BpmnWorkflowSerializer:
    # Restoring a snapshot turns some 60 ids back into UUIDs per command; parsing each anew was
    # a tenth of the time a task completion took. SpiffWorkflow's task converters call the
    # name ``UUID`` of their module: give them the cached one.
    task_converters.UUID = _task_id
    config = dict(SPIFF_CONFIG)
    config[BpmnWorkflow] = _SpecReferenceConverter
    registry = BpmnWorkflowSerializer.configure(config)
    registry.register(date, lambda v: {"value": v.isoformat()}, lambda v: date.fromisoformat(v["value"]))
    registry.register(Decimal, lambda v: {"value": str(v)}, lambda v: Decimal(v["value"]))
    return BpmnWorkflowSerializer(registry)


def _serializer() -> BpmnWorkflowSerializer:
    """This thread's serializer (its registry keeps per-call state, so threads do not share one)."""
    serializer = getattr(_local, "serializer", None)
    if serializer is None:
        serializer = _local.serializer = _make_serializer()
    return serializer


def freeze(workflow: Any, compress: bool = True) -> str:
    """Serialize a workflow's state (without its spec) to JSON, compressed unless told not to.

    Raises:
        ScriptError: task data holds a value that cannot be stored (named in the message).
    """
    serializer = _serializer()
    serializer.registry._encoder_mode = True
    try:
        dct = serializer.to_dict(workflow)
        dct[serializer.VERSION_KEY] = serializer.VERSION
        # Compact separators, then zlib: a mid-way member request is 9.6 KB of JSON, 2.5 KB stored.
        text = json.dumps(dct, cls=serializer._encoder_cls, separators=(",", ":"))
        return encode_snapshot(text) if compress else text
    except (TypeError, ValueError, RecursionError) as exc:
        raise ScriptError(f"task data holds a value that cannot be saved: {exc}") from None
    finally:
        serializer.registry._encoder_mode = False


def thaw(process: ParsedProcess, snapshot: str) -> Any:
    """Restore a workflow from its snapshot, against its (cached) parsed process."""
    token = _current_process.set(process)
    try:
        return _serializer().deserialize_json(repair_json_text(decode_snapshot(snapshot)))
    finally:
        _current_process.reset(token)


def encode_snapshot(text: str) -> str:
    """Compress a snapshot's JSON for storage (zlib, then base64 so it stays text)."""
    return _COMPRESSED + base64.b64encode(zlib.compress(text.encode("utf-8"), 6)).decode("ascii")


def decode_snapshot(stored: str) -> str:
    """The JSON of a stored snapshot (compressed or, from before compression, plain)."""
    if stored.startswith(_COMPRESSED):
        return zlib.decompress(base64.b64decode(stored[len(_COMPRESSED):])).decode("utf-8")
    return stored
