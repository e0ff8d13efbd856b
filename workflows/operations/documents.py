"""The checklist of a request, marked from its verification task, with a file where one is kept."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from engine.access import require_may_work
from engine.actors import Actor
from engine.casestore import closed_task_error
from engine.db import after_rollback
from engine.errors import NotFound, error_code
from engine.models import HumanTask
from workflows.documents import Upload, discard_upload, store_upload
from workflows.forms import form_of_task
from workflows.models import RequestDocument
from workflows.requests import NO_DOCUMENT, documents, mark_document, request_of_instance

if TYPE_CHECKING:
    from engine.context import CaseEngine

#: A task (``task``) whose form keeps no checklist of documents.
NO_CHECKLIST = error_code("no_checklist", "task")


def mark_checklist_item(
    engine: CaseEngine,
    session: Session,
    actor: Actor,
    task_id: str,
    kind: str,
    state: str,
    note: str = "",
    upload: Upload | None = None,
) -> RequestDocument:
    """Mark one item of the checklist of a verification task's request, attaching ``upload``.

    The file is checked and stored first; if the change is not saved, the file is removed.

    Raises:
        NotFound: the task keeps no checklist, or the request has no such item.
        Conflict: the task has closed. Forbidden: the actor may not work on it.
        InvalidInput: a state, note or file that is not accepted (named).
    """
    task = session.get(HumanTask, task_id)
    if task is None:
        raise closed_task_error(session, task_id)
    require_may_work(actor, task)
    request = request_of_instance(session, task.instance_id)
    form = form_of_task(engine, session, task) or {}
    if request is None or not form.get("x-checklist"):
        raise NotFound(f"task '{task.name}' keeps no checklist", code=NO_CHECKLIST, params={"task": task.name})
    if kind not in {item.kind for item in documents(session, request.id)}:
        raise NotFound(f"request {request.reference} has no document {kind!r}", code=NO_DOCUMENT,
                       params={"reference": request.reference, "kind": kind})
    stored = None
    if upload is not None and upload.filename:
        stored = store_upload(engine, request.id, kind, upload.filename, upload.stream)
        after_rollback(session, lambda: discard_upload(engine, stored))
    return mark_document(engine, session, actor, request.id, kind, state, note, stored)
