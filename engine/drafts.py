"""Drafts of diagrams: any well-formed BPMN file, saved as often as wanted, never run.

A draft keeps the file exactly as it was given or saved (every element, attribute, extension and
shape), so export gives it back unchanged. Saves are revision-checked: each names the revision it
started from, and a save from an older one is refused, never merged over the newer.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session, defer

from engine import audit
from engine import bpmn_problems as bp
from engine.actors import Actor
from engine.errors import NO_SUCH, Conflict, DefinitionProblem, InvalidInput, NotFound, error_code
from engine.models import DefinitionDraft
from engine.settings import DefinitionLimits
from engine.spiff import ParseFailed, limit_problems

if TYPE_CHECKING:
    from engine.context import CaseEngine

#: Someone saved the draft since the revision this save started from (``by``, ``at``).
DRAFT_CHANGED = error_code("draft_changed", "by", "at")

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
_DEFINITIONS = f"{{{BPMN_NS}}}definitions"
_PROCESS = f"{{{BPMN_NS}}}process"
#: No entities, no DTD, no network: a draft is untrusted input (read once already by `limit_problems`).
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False)


@dataclass(frozen=True)
class DiagramHead:
    """What a draft's list shows of a diagram: its text, first process id and display name."""

    text: str
    key: str | None
    name: str


def read_head(engine: CaseEngine, xml: bytes, source: str) -> DiagramHead:
    """Check ``xml`` is a readable BPMN 2.0 file (well-formed, no DTD, within the size limit).

    Only that: executable or not, complete or not, a draft may be anything a modeling tool writes.
    A file in UTF-16 or in an encoding its prolog declares (windows-1256, ISO-8859-1) is kept as
    UTF-8, its prolog saying so; the refusals are the deploy's own problems (`engine.bpmn_problems`).

    Raises:
        InvalidInput: too large, not text in a known encoding, malformed, with a DTD or entities, or not BPMN.
    """
    limits = DefinitionLimits.from_settings(engine.settings)
    if len(xml) > limits.max_kb * 1024:
        raise _refusal(bp.problem(bp.TOO_LARGE, kb=-(-len(xml) // 1024), limit=limits.max_kb))
    xml = _as_utf8(xml)
    try:
        text = xml.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _refusal(bp.problem(bp.NOT_UTF8, detail=exc.reason)) from None
    try:
        limit_problems(xml, limits)  # the same reading as a deploy: a DTD, an entity, malformed XML
    except ParseFailed as exc:
        raise _refusal(exc.problems[0]) from None
    root = etree.fromstring(xml, _PARSER)
    if root.tag != _DEFINITIONS:
        tag = str(root.tag)[:200]
        raise _refusal(bp.problem(bp.NOT_BPMN, tag=bp.clean(tag), message=f"the file's root element is {tag}, "
                                  "not bpmn:definitions"))
    processes = list(root.iter(_PROCESS))
    first = next((p for p in processes if p.get("isExecutable") == "true"), processes[0] if processes else None)
    key = first.get("id") if first is not None else None
    if key is not None and len(key) > KEY_LIMIT:
        key = None  # kept as a draft all the same; the deploy's checks name the id that is too long
    name = ((first.get("name") or "").strip() if first is not None else "") or key or PurePath(source).stem or source
    return DiagramHead(text, key, " ".join(name.split())[:400])


#: The longest process id a version can have (the width of ``process_definitions.key``).
KEY_LIMIT = 200
_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
#: The encoding an XML prolog declares (the prolog itself is ASCII in every encoding but UTF-16/32).
_DECLARED = re.compile(rb"""^(?:\xef\xbb\xbf)?<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]{1,40})["']""")
_DECLARATION = re.compile(r"""^(<\?xml[^>]*?encoding\s*=\s*["'])[A-Za-z0-9._-]{1,40}(["'])""")


def _as_utf8(xml: bytes) -> bytes:
    """``xml`` as UTF-8, from UTF-16 (with its byte order mark) or the single-byte encoding its prolog declares.

    Anything else is returned as it is (UTF-8 already, or refused as not UTF-8 by the caller).
    """
    if xml.startswith(_BOMS):
        try:
            text = xml.decode("utf-16")
        except UnicodeDecodeError:
            return xml
    else:
        declared = _DECLARED.match(xml)
        if declared is None:
            return xml
        try:
            codec = codecs.lookup(declared.group(1).decode("ascii"))
        except LookupError:
            return xml
        if codec.name in ("utf-8", "utf-8-sig") or codec.name.startswith(("utf-16", "utf-32")):
            return xml
        try:
            text = xml.decode(codec.name)
        except UnicodeDecodeError:
            return xml
    return _DECLARATION.sub(r"\1UTF-8\2", text.lstrip("\ufeff"), count=1).encode("utf-8")


def _refusal(problem: DefinitionProblem) -> InvalidInput:
    """A problem of the file as a refusal: its code and parameters, worded by the pages like the deploy's."""
    return InvalidInput(problem.message, code=problem.code, params=dict(problem.params or {}))


def create_draft(
    engine: CaseEngine, session: Session, actor: Actor, xml: bytes, source: str,
    base_version: int | None = None, forms: dict[str, Any] | None = None,
) -> DefinitionDraft:
    """Store ``xml`` as a new draft, exactly as given.

    Raises:
        InvalidInput: see `read_head`.
    """
    head = read_head(engine, xml, source)
    now = engine.clock.now()
    draft = DefinitionDraft(key=head.key, name=head.name, xml=head.text, forms=dict(forms or {}), revision=1,
                            base_version=base_version, source=source[:400], created_at=now, created_by=actor.name,
                            updated_at=now, updated_by=actor.name)
    session.add(draft)
    session.flush()
    audit.record(session, now, actor, "draft_created",
                 summary={"draft": draft.id, "key": head.key, "source": source[:400], "base_version": base_version})
    return draft


def get_draft(session: Session, draft_id: int, for_update: bool = False) -> DefinitionDraft:
    """The draft ``draft_id``.

    Raises:
        NotFound: no such draft.
    """
    query = select(DefinitionDraft).where(DefinitionDraft.id == draft_id)
    draft = session.scalars(query.with_for_update() if for_update else query).first()
    if draft is None:
        raise NotFound(f"no draft {draft_id}", code=NO_SUCH, params={"what": "draft", "ident": draft_id})
    return draft


def check_revision(draft: DefinitionDraft, revision: int) -> None:
    """Refuse a change started from another revision than the draft's current one.

    Raises:
        Conflict: someone saved the draft since (their name and the time).
    """
    if revision != draft.revision:
        raise Conflict(f"draft {draft.id} was saved by {draft.updated_by} at {draft.updated_at.isoformat()} "
                       f"(revision {draft.revision}) since revision {revision} was opened; reload it first",
                       code=DRAFT_CHANGED, params={"by": draft.updated_by, "at": draft.updated_at})


def save_draft(
    engine: CaseEngine, session: Session, actor: Actor, draft_id: int, revision: int,
    xml: bytes | None = None, forms: dict[str, Any] | None = None,
) -> DefinitionDraft:
    """Save a new revision of the draft: its XML, its forms, or both.

    The row is locked for the check (PostgreSQL), so of two saves from one revision exactly one wins.

    Raises:
        NotFound: no such draft.
        Conflict: the draft was saved since ``revision``.
        InvalidInput: the XML is not a readable BPMN file (see `read_head`).
    """
    draft = get_draft(session, draft_id, for_update=True)
    check_revision(draft, revision)
    values: dict[str, Any] = {}
    if xml is not None:
        head = read_head(engine, xml, draft.source)
        values.update(xml=head.text, key=head.key, name=head.name)
    if forms is not None:
        values["forms"] = dict(forms)
    # A guarded UPDATE: the database, not this process's memory, decides which of two saves came first.
    updated = session.execute(
        DefinitionDraft.__table__.update()
        .where(DefinitionDraft.__table__.c.id == draft_id, DefinitionDraft.__table__.c.revision == revision)
        .values(revision=revision + 1, updated_at=engine.clock.now(), updated_by=actor.name, **values)
    )
    session.expire(draft)
    if updated.rowcount != 1:
        check_revision(get_draft(session, draft_id), revision)
    return get_draft(session, draft_id)


def mark_deployed(engine: CaseEngine, session: Session, draft: DefinitionDraft, version: int) -> None:
    """Record that the draft was deployed as ``version``; it stays editable, now based on that version."""
    draft.deployed_at = engine.clock.now()
    draft.deployed_version = version
    draft.base_version = version
    session.flush()


def list_drafts(session: Session) -> list[DefinitionDraft]:
    """Every draft, the most recently saved first."""
    return list(session.scalars(select(DefinitionDraft)
                                .options(defer(DefinitionDraft.xml), defer(DefinitionDraft.forms))
                                .order_by(DefinitionDraft.updated_at.desc(), DefinitionDraft.id.desc())))


def delete_draft(engine: CaseEngine, session: Session, actor: Actor, draft_id: int, revision: int) -> None:
    """Discard a draft (its deployed versions stay).

    Raises:
        NotFound: no such draft.
        Conflict: the draft was saved since ``revision``.
    """
    draft = get_draft(session, draft_id, for_update=True)
    check_revision(draft, revision)
    audit.record(session, engine.clock.now(), actor, "draft_deleted", summary={"draft": draft.id, "key": draft.key})
    session.delete(draft)
    session.flush()
