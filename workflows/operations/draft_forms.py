"""Saving a form of a draft from the modeler's form editor: checked, then kept with the draft.

The form is deployed with the draft's diagram as part of its version (`workflows.forms.forms_for_deploy`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from engine import audit
from engine import drafts as store
from engine.actors import Actor
from engine.errors import NO_SUCH, NotFound
from workflows.accounts import require_role
from workflows.forms import parse_form, tasks_by_form

if TYPE_CHECKING:
    from engine.context import CaseEngine

OWNERS = ("process_owner", "administrator")


def save_draft_form(engine: CaseEngine, session: Session, actor: Actor, draft_id: int, revision: int, key: str,
                    text: str) -> dict[str, Any]:
    """Keep the form ``key``, written as ``text``, with the draft: a new revision of the draft.

    The save names the draft's revision it started from; the form is checked as a deploy checks
    it (JSON, the metaschema, Tawasul's rules) before anything is kept.

    Raises:
        Forbidden: not a process owner or administrator.
        NotFound: no such draft, or neither a task of the draft nor its edited forms name ``key``.
        Conflict: someone saved the draft since ``revision`` (who and when).
        InvalidInput: the text is not a form that may be saved, each problem named.
    """
    require_role(actor, *OWNERS)
    draft = store.get_draft(session, draft_id)
    if key not in tasks_by_form(draft.xml) and key not in (draft.forms or {}):
        raise NotFound(f"draft {draft_id} names no form {key!r}", code=NO_SUCH, params={"what": "form", "ident": key})
    store.check_revision(draft, revision)
    schema = parse_form(key, text)
    saved = store.save_draft(engine, session, actor, draft_id, revision, forms={**(draft.forms or {}), key: schema})
    audit.record(session, engine.clock.now(), actor, "draft_form_saved",
                 summary={"draft": draft_id, "form": key, "revision": saved.revision})
    return {"revision": saved.revision, "saved_at": saved.updated_at}


def discard_draft_form(engine: CaseEngine, session: Session, actor: Actor, draft_id: int, revision: int,
                       key: str) -> dict[str, Any]:
    """Drop the draft's edit of form ``key``: the draft goes back to the form's file (a new revision).

    Raises:
        Forbidden: not a process owner or administrator.
        NotFound: no such draft, or the draft has no edit of ``key``.
        Conflict: someone saved the draft since ``revision`` (who and when).
    """
    require_role(actor, *OWNERS)
    draft = store.get_draft(session, draft_id)
    if key not in (draft.forms or {}):
        raise NotFound(f"draft {draft_id} has no edit of form {key!r}", code=NO_SUCH,
                       params={"what": "form", "ident": key})
    store.check_revision(draft, revision)
    kept = {name: schema for name, schema in draft.forms.items() if name != key}
    saved = store.save_draft(engine, session, actor, draft_id, revision, forms=kept)
    audit.record(session, engine.clock.now(), actor, "draft_form_discarded",
                 summary={"draft": draft_id, "form": key, "revision": saved.revision})
    return {"revision": saved.revision, "saved_at": saved.updated_at}
