"""What the modeler shows: processes with their versions and drafts, one draft, its problems."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import drafts as store
from engine.actors import Actor
from engine.definitions import check_definition
from engine.errors import DefinitionProblem, InvalidInput
from engine.models import ProcessDefinition, ProcessInstance
from workflows.accounts import ROLE_LANES, require_role
from workflows.forms import FORMS_DIR, forms_being_deployed, forms_for_deploy
from workflows.read.definitions import process_names

if TYPE_CHECKING:
    from engine.context import CaseEngine

OWNERS = ("process_owner", "administrator")
#: Instances in these states still run on their version (an instance in error waits for a retry).
_LIVE = ("running", "error")


def modeler_overview(engine: CaseEngine, session: Session, actor: Actor) -> dict[str, Any]:
    """Each process with its versions (number, by, when, note, running cases) and its drafts.

    Drafts of no deployed process (an import, a new process) are listed under their own key.

    Raises:
        Forbidden: not a process owner or administrator.
    """
    require_role(actor, *OWNERS)
    running = dict(session.execute(
        select(ProcessInstance.definition_id, func.count())
        .where(ProcessInstance.status.in_(_LIVE)).group_by(ProcessInstance.definition_id)).all())
    names = process_names(engine, session)
    processes: dict[str, dict[str, Any]] = {}
    for row in session.execute(select(ProcessDefinition.id, ProcessDefinition.key, ProcessDefinition.version,
                                      ProcessDefinition.deployed_at, ProcessDefinition.deployed_by,
                                      ProcessDefinition.note)
                               .order_by(ProcessDefinition.key, ProcessDefinition.version.desc())):
        entry = processes.setdefault(row.key, {"key": row.key, "names": names.get(row.key, {"ar": row.key,
                                                                                           "en": row.key}),
                                               "versions": [], "drafts": []})
        entry["versions"].append({"version": row.version, "deployed_at": row.deployed_at,
                                  "deployed_by": row.deployed_by, "note": row.note,
                                  "running": running.get(row.id, 0)})
    loose: list[dict[str, Any]] = []
    for draft in store.list_drafts(session):
        summary = _summary(draft)
        if draft.key in processes:
            processes[draft.key]["drafts"].append(summary)
        else:
            loose.append(summary)
    return {"processes": list(processes.values()), "drafts": loose}


def _summary(draft: Any) -> dict[str, Any]:
    return {"id": draft.id, "key": draft.key, "name": draft.name, "revision": draft.revision,
            "base_version": draft.base_version, "source": draft.source, "updated_at": draft.updated_at,
            "updated_by": draft.updated_by, "deployed_at": draft.deployed_at,
            "deployed_version": draft.deployed_version}


def draft(engine: CaseEngine, session: Session, actor: Actor, draft_id: int) -> dict[str, Any]:
    """One draft: what the editor needs, without its XML.

    Raises:
        Forbidden: not a process owner or administrator.
        NotFound: no such draft.
    """
    require_role(actor, *OWNERS)
    found = store.get_draft(session, draft_id)
    return dict(_summary(found), forms=sorted(found.forms))


def draft_xml(engine: CaseEngine, session: Session, actor: Actor, draft_id: int) -> str:
    """The draft's XML, exactly as saved (for the editor and for export).

    Raises:
        Forbidden: not a process owner or administrator.
        NotFound: no such draft.
    """
    require_role(actor, *OWNERS)
    return store.get_draft(session, draft_id).xml


def problems(engine: CaseEngine, session: Session, actor: Actor, xml: bytes, source: str = "draft",
             draft_id: int | None = None) -> list[DefinitionProblem]:
    """What must change before ``xml`` can be deployed: the same checks as ``tawasul deploy``.

    With ``draft_id``, the forms are those the draft would be deployed with (its edited ones first).

    Raises:
        Forbidden: not a process owner or administrator.
        NotFound: no such draft.
    """
    require_role(actor, *OWNERS)
    edited = store.get_draft(session, draft_id).forms if draft_id is not None else {}
    return _checked(engine, xml, source, edited)


def draft_problems(engine: CaseEngine, session: Session, actor: Actor, draft_id: int) -> list[DefinitionProblem]:
    """The problems of a draft as saved.

    Raises:
        Forbidden: not a process owner or administrator.
        NotFound: no such draft.
    """
    require_role(actor, *OWNERS)
    found = store.get_draft(session, draft_id)
    return _checked(engine, found.xml.encode("utf-8"), found.source, found.forms)


def _checked(engine: CaseEngine, xml: bytes, source: str, edited: dict[str, Any]) -> list[DefinitionProblem]:
    """The deploy's checks, with the forms the diagram would be deployed with (the draft's edits first)."""
    try:
        forms = forms_for_deploy(xml, edited)
    except InvalidInput:
        forms = None  # a form that cannot be deployed is named by the lint of its form key
    with forms_being_deployed(forms):
        return check_definition(engine, xml, source)


def editor_choices(engine: CaseEngine, session: Session, actor: Actor, draft_id: int | None = None
                   ) -> dict[str, list[str]]:
    """What the editor offers: registered service handlers, form keys, lanes.

    Raises:
        Forbidden: not a process owner or administrator.
    """
    require_role(actor, *OWNERS)
    forms = {path.name for path in FORMS_DIR.glob("*.json")}
    if draft_id is not None:
        forms |= set(store.get_draft(session, draft_id).forms)
    lanes = sorted({lane for held in ROLE_LANES.values() for lane in held})
    return {"handlers": sorted(engine.service_handlers), "forms": sorted(forms), "lanes": lanes}
