"""Deployed process definitions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from engine.actors import Actor
from engine.definitions import list_definitions

if TYPE_CHECKING:
    from engine.context import CaseEngine


def definitions(engine: CaseEngine, session: Session, actor: Actor | None = None) -> list[dict[str, Any]]:
    """Every deployed version, by key then version (open to anyone: it names no person)."""
    return [
        {"key": d.key, "version": d.version, "name": d.name, "sha256": d.sha256, "deployed_at": d.deployed_at,
         "deployed_by": d.deployed_by}
        for d in list_definitions(engine, session)
    ]
