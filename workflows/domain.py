"""What the domain keeps on an engine: the service catalogue, the message providers, the society."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine.errors import ConfigError
from workflows.catalogue import Catalogue
from workflows.messaging import Provider, providers_from_settings

if TYPE_CHECKING:
    from engine.context import CaseEngine

_KEY = "workflows"


@dataclass(frozen=True)
class Society:
    """The society as its letters name it, in each language (``society`` in the settings)."""

    name: dict[str, str]
    registration: dict[str, str]

    def label(self, language: str) -> str:
        """The society's name in ``language`` (Arabic when there is none)."""
        return self.name.get(language) or self.name["ar"]

    def registered(self, language: str) -> str:
        """Its registration line in ``language`` (Arabic when there is none; may be empty)."""
        return self.registration.get(language) or self.registration.get("ar", "")


@dataclass
class Domain:
    """The member-services domain installed on one engine."""

    catalogue: Catalogue
    providers: dict[str, Provider]
    society: Society

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> Domain:
        """The domain as the settings describe it (refusing what is missing or malformed)."""
        return cls(Catalogue(settings), providers_from_settings(settings), society_from_settings(settings))


def society_from_settings(settings: Mapping[str, Any]) -> Society:
    """The ``society`` section of the settings.

    Raises:
        ConfigError: no Arabic name is given.
    """
    section = settings.get("society") or {}
    name = section.get("name") if isinstance(section, Mapping) else None
    if not isinstance(name, Mapping) or not str(name.get("ar") or "").strip():
        raise ConfigError("society.name: config.yaml must give the society's name, at least in Arabic (ar)")
    registration = section.get("registration") or {}
    if not isinstance(registration, Mapping):
        raise ConfigError("society.registration must give a line per language (ar, en)")
    return Society({str(k): str(v) for k, v in name.items()}, {str(k): str(v) for k, v in registration.items()})


def domain(engine: CaseEngine) -> Domain:
    """The domain installed on ``engine`` (`workflows.bootstrap.install`)."""
    return engine.extensions[_KEY]


def attach(engine: CaseEngine, installed: Domain) -> bool:
    """Keep ``installed`` on ``engine``; False when a domain is there already."""
    if _KEY in engine.extensions:
        return False
    engine.extensions[_KEY] = installed
    return True
