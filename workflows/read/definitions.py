"""Deployed process definitions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.actors import Actor
from engine.definitions import list_definitions
from engine.models import ProcessDefinition

#: The attribute of a diagram's ``<bpmn:process>`` that gives its English name beside the Arabic ``name``
#: (BPMN allows attributes of other namespaces on every element; bpmn-js keeps them when it saves).
ENGLISH_NAME = "{http://tawasul.example/bpmn}nameEn"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)

if TYPE_CHECKING:
    from engine.context import CaseEngine


def definitions(engine: CaseEngine, session: Session, actor: Actor | None = None) -> list[dict[str, Any]]:
    """Every deployed version, by key then version (open to anyone: it names no person)."""
    return [
        {"key": d.key, "version": d.version, "name": d.name, "sha256": d.sha256, "deployed_at": d.deployed_at,
         "deployed_by": d.deployed_by}
        for d in list_definitions(engine, session)
    ]


def process_names(engine: CaseEngine, session: Session) -> dict[str, dict[str, str]]:
    """Each deployed process's display name by key, in Arabic and English, from its latest version.

    The Arabic is the process's ``name`` in the diagram; the English its ``tawasul:nameEn`` (the
    Arabic when the diagram gives none, the key when it names the process not at all).
    """
    names = {}
    for key, (_version, name, english) in _latest(session).items():
        names[key] = {"ar": name or key, "en": english.get(key) or name or key}
    return names


def english_element_names(engine: CaseEngine, session: Session) -> dict[str, dict[str, str]]:
    """By process key, the English name (``tawasul:nameEn``) of each element that gives one.

    From the latest version: a task's name in English pages, beside its Arabic ``name``.
    """
    return {key: {element: name for element, name in english.items() if element != key}
            for key, (_version, _name, english) in _latest(session).items()}


def english_names_of_version(session: Session, definition_id: int) -> dict[str, str]:
    """The English names (``tawasul:nameEn``) by element id of one deployed version."""
    row = session.execute(select(ProcessDefinition.key, ProcessDefinition.version, ProcessDefinition.sha256)
                          .where(ProcessDefinition.id == definition_id)).first()
    if row is None:
        return {}
    return _english_names(row.sha256, row.key, lambda: _xml(session, row.key, row.version))


def _latest(session: Session) -> dict[str, tuple[int, str, dict[str, str]]]:
    """The latest version of each process: its number, Arabic name and English names by element."""
    latest: dict[str, tuple[int, str, str]] = {}
    for key, version, name, sha256 in session.execute(
            select(ProcessDefinition.key, ProcessDefinition.version, ProcessDefinition.name, ProcessDefinition.sha256)):
        if key not in latest or version > latest[key][0]:
            latest[key] = (version, name or "", sha256)
    return {key: (version, name, _english_names(sha256, key, lambda v=version, k=key: _xml(session, k, v)))
            for key, (version, name, sha256) in sorted(latest.items())}


def _xml(session: Session, key: str, version: int) -> str:
    return session.scalar(select(ProcessDefinition.xml).where(ProcessDefinition.key == key,
                                                              ProcessDefinition.version == version)) or ""


def _english_names_of(key: str, xml: str) -> dict[str, str]:
    """``tawasul:nameEn`` of the process ``key`` (under its own id) and of each element in it."""
    try:
        root = etree.fromstring(xml.encode("utf-8"), _PARSER)
    except etree.XMLSyntaxError:
        return {}
    for process in root.iter("{http://www.omg.org/spec/BPMN/20100524/MODEL}process"):
        if process.get("id") == key:
            return {element.get("id"): name.strip() for element in process.iter()
                    if isinstance(element.tag, str) and element.get("id") and (name := element.get(ENGLISH_NAME))
                    and name.strip()}
    return {}


#: English names by (sha256, key): a deployed version never changes, so each XML is read once per process.
_KNOWN: dict[tuple[str, str], dict[str, str]] = {}


def _english_names(sha256: str, key: str, load_xml: Any) -> dict[str, str]:
    """The English names of a version, read from its XML once (versions never change)."""
    if (sha256, key) not in _KNOWN:
        _KNOWN[(sha256, key)] = _english_names_of(key, load_xml())
    return _KNOWN[(sha256, key)]
