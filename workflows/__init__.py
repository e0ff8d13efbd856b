"""The member-services domain that the diagrams drive (members, requests, contacts, ...).

Built on `engine`; never imports Flask. `install` wires it into a `CaseEngine`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.context import CaseEngine


@dataclass
class Domain:
    """What the domain keeps on an engine: the catalogue and the message providers."""

    catalogue: Any
    providers: dict[str, Any]


def install(engine: CaseEngine) -> CaseEngine:
    """Register the domain on ``engine``: catalogue, service-task handlers, outbox sending."""
    if "workflows" in engine.extensions:
        return engine
    from workflows.catalogue import Catalogue
    from workflows.handlers import HANDLERS
    from workflows.notifications import dispatch_outbox, providers_from_settings

    engine.extensions["workflows"] = Domain(Catalogue(engine.settings), providers_from_settings(engine.settings))
    for name, handler in HANDLERS.items():
        engine.register_service(name, handler)
    engine.drain_hooks.append(dispatch_outbox)
    from workflows.forms import lint_form_key

    engine.property_lints.append(lint_form_key)
    from workflows.inbox import count_cache, refresh_seconds

    count_cache(engine)  # a bad inbox setting stops the start, not the first inbox page
    refresh_seconds(engine)
    return engine
