"""The process owner's drafts: import, open a version for editing, save, deploy, discard.

A draft is any well-formed BPMN file; deploying it applies every check ``tawasul deploy`` applies
(the same code) and keeps the task forms with the new version.
"""

from __future__ import annotations

import re
from html import escape
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import drafts as store
from engine.actors import Actor
from engine.definitions import Deployment, deploy_definition, find_definition
from engine.drafts import DRAFT_CHANGED
from engine.errors import Conflict, InvalidInput, error_code
from engine.models import ProcessDefinition
from workflows.accounts import require_role
from workflows.forms import forms_being_deployed, forms_for_deploy

if TYPE_CHECKING:
    from engine.context import CaseEngine

#: Deploying needs a note saying what changed (``limit``: its longest length).
NOTE_REQUIRED = error_code("note_required", "limit")
#: A new process's key must be an ASCII identifier (``key``).
BAD_PROCESS_KEY = error_code("bad_process_key", "process_key")
#: A new process's key is taken by a deployed process (``key``).
PROCESS_KEY_TAKEN = error_code("process_key_taken", "process_key")
#: A new process's name (``field``: name_ar or name_en) holds a control character.
PROCESS_NAME_CHARACTERS = error_code("process_name_characters", "field")
#: A new process needs a name (``limit``: its longest length).
PROCESS_NAME_REQUIRED = error_code("process_name_required", "limit")

__all__ = ["DRAFT_CHANGED", "deploy_draft", "discard_draft", "edit_version", "import_draft", "new_process",
           "save_draft"]

OWNERS = ("process_owner", "administrator")
NOTE_LIMIT = 2000
NAME_LIMIT = 200
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,99}$")
#: Characters no name may hold (XML cannot carry most of them).
_CONTROL = re.compile("[\x00-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


def import_draft(engine: CaseEngine, session: Session, actor: Actor, xml: bytes, source: str) -> int:
    """Open any well-formed BPMN 2.0 file as a new draft, kept exactly as it is; return its id.

    Raises:
        Forbidden: only process owners and administrators edit diagrams.
        InvalidInput: not a readable BPMN file (too large, malformed, a DTD, another root).
    """
    require_role(actor, *OWNERS)
    return store.create_draft(engine, session, actor, xml, source).id


def edit_version(engine: CaseEngine, session: Session, actor: Actor, key: str, version: int | None = None) -> int:
    """A new draft from a deployed version (the latest when ``version`` is None), with its forms.

    Raises:
        Forbidden: not a process owner or administrator.
        NotFound: no such process or version.
    """
    require_role(actor, *OWNERS)
    found = find_definition(session, key, version)
    xml, forms = session.execute(select(ProcessDefinition.xml, ProcessDefinition.forms)
                                 .where(ProcessDefinition.id == found.id)).one()
    return store.create_draft(engine, session, actor, xml.encode("utf-8"), f"{key} v{found.version}",
                              base_version=found.version, forms=forms or {}).id


def new_process(engine: CaseEngine, session: Session, actor: Actor, key: str, name: str, name_en: str = "") -> int:
    """A draft of a new process: a start event and nothing else yet; return its id.

    Raises:
        Forbidden: not a process owner or administrator.
        InvalidInput: the key is not an ASCII identifier, or no name is given.
        Conflict: a process with that key is deployed (edit its latest version instead).
    """
    require_role(actor, *OWNERS)
    key, name, name_en = key.strip(), " ".join(name.split()), " ".join(name_en.split())
    if not _KEY.match(key):
        raise InvalidInput(f"the key {key!r} must start with a Latin letter and hold only Latin letters, digits, "
                           "- and _", code=BAD_PROCESS_KEY, params={"process_key": key})
    if _CONTROL.search(name + name_en):
        raise InvalidInput("a process name may not hold control characters", code=PROCESS_NAME_CHARACTERS,
                           params={"field": "name_en" if _CONTROL.search(name_en) else "name_ar"})
    if not name or len(name) > NAME_LIMIT or len(name_en) > NAME_LIMIT:
        raise InvalidInput(f"give the process a name of at most {NAME_LIMIT} characters",
                           code=PROCESS_NAME_REQUIRED, params={"limit": NAME_LIMIT})
    if session.scalar(select(ProcessDefinition.id).where(ProcessDefinition.key == key).limit(1)) is not None:
        raise Conflict(f"a process with the key {key!r} is deployed; edit its latest version instead",
                       code=PROCESS_KEY_TAKEN, params={"process_key": key})
    return store.create_draft(engine, session, actor, _skeleton(key, name, name_en).encode("utf-8"), key).id


def _skeleton(key: str, name: str, name_en: str) -> str:
    english = f' tawasul:nameEn="{escape(name_en)}"' if name_en else ""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" \
xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" \
xmlns:di="http://www.omg.org/spec/DD/20100524/DI" xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" \
xmlns:tawasul="http://tawasul.example/bpmn" id="Definitions_{key}" targetNamespace="http://tawasul.example/bpmn">
  <bpmn:process id="{key}" name="{escape(name)}" isExecutable="true"{english}>
    <bpmn:startEvent id="start" />
  </bpmn:process>
  <bpmndi:BPMNDiagram id="Diagram_{key}">
    <bpmndi:BPMNPlane id="Plane_{key}" bpmnElement="{key}">
      <bpmndi:BPMNShape id="start_di" bpmnElement="start">
        <dc:Bounds x="152" y="102" width="36" height="36" />
      </bpmndi:BPMNShape>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>
"""


def save_draft(engine: CaseEngine, session: Session, actor: Actor, draft_id: int, revision: int,
               xml: bytes) -> dict[str, Any]:
    """Save the draft's XML as a new revision; return ``{"revision", "saved_at"}``.

    Raises:
        Forbidden: not a process owner or administrator.
        NotFound: no such draft.
        Conflict: someone saved it since ``revision`` (who, and when).
        InvalidInput: not a readable BPMN file.
    """
    require_role(actor, *OWNERS)
    draft = store.save_draft(engine, session, actor, draft_id, revision, xml=xml)
    return {"revision": draft.revision, "saved_at": draft.updated_at}


def deploy_draft(engine: CaseEngine, session: Session, actor: Actor, draft_id: int, revision: int, note: str,
                 xml: bytes | None = None) -> list[Deployment]:
    """Deploy the draft (saved first when ``xml`` is given) as a new immutable version, with its forms.

    Identical content (the XML and the forms) returns the existing version. The draft stays, now
    based on the version deployed.

    Raises:
        Forbidden: not a process owner or administrator.
        NotFound: no such draft.
        Conflict: someone saved it since ``revision``.
        InvalidInput: no note, or its forms are not valid.
        InvalidDefinition: the diagram has problems (each names its element); nothing is deployed.
    """
    require_role(actor, *OWNERS)
    note = note.strip()
    if not note or len(note) > NOTE_LIMIT:
        raise InvalidInput(f"say in at most {NOTE_LIMIT} characters what this version changes",
                           code=NOTE_REQUIRED, params={"limit": NOTE_LIMIT})
    if xml is not None:
        store.save_draft(engine, session, actor, draft_id, revision, xml=xml)
        revision += 1
    draft = store.get_draft(session, draft_id, for_update=True)
    store.check_revision(draft, revision)
    content = draft.xml.encode("utf-8")
    forms = forms_for_deploy(content, draft.forms)
    with forms_being_deployed(forms):  # the deploy's lint checks these forms, the draft's edits included
        deployed = deploy_definition(engine, session, actor, content, draft.source, note=note, forms=forms or None,
                                     forms_as_files=forms == forms_for_deploy(content, None))
    mine = [d for d in deployed if d.key == draft.key] or deployed
    if mine:
        store.mark_deployed(engine, session, draft, mine[0].version)
    return deployed


def discard_draft(engine: CaseEngine, session: Session, actor: Actor, draft_id: int, revision: int) -> None:
    """Delete a draft; the versions deployed from it stay.

    Raises:
        Forbidden: not a process owner or administrator.
        NotFound: no such draft.
        Conflict: someone saved it since ``revision``.
    """
    require_role(actor, *OWNERS)
    store.delete_draft(engine, session, actor, draft_id, revision)
