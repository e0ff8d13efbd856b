"""The service catalogue and the acknowledgement text, from the settings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.errors import NOT_A_CHOICE, ConfigError, InvalidInput


@dataclass(frozen=True)
class DocumentKind:
    """One item of a service's checklist."""

    kind: str
    name: dict[str, str]
    required: bool
    store_file: bool


@dataclass(frozen=True)
class ServiceType:
    """A service the society offers, and the process that runs a request for it."""

    key: str
    name: dict[str, str]
    process: str
    documents: tuple[DocumentKind, ...]

    def label(self, language: str) -> str:
        """The service's name in ``language`` (Arabic when there is none)."""
        return self.name.get(language) or self.name.get("ar") or self.key


@dataclass(frozen=True)
class AcknowledgementText:
    """The text an applicant acknowledges (P15), in each language, with its version."""

    version: str
    text: dict[str, str]


class Catalogue:
    """The services of ``settings['services']``, checked when loaded."""

    def __init__(self, settings: Mapping[str, Any]) -> None:
        section = settings.get("services") or {}
        if not isinstance(section, Mapping) or not section:
            raise ConfigError("services: the catalogue is empty; config.yaml must list the society's services")
        self.services: dict[str, ServiceType] = {key: _service(key, entry) for key, entry in section.items()}
        ack = settings.get("acknowledgement") or {}
        text = ack.get("text") or {}
        if not ack.get("version") or not text.get("ar"):
            raise ConfigError("acknowledgement: needs a version and at least the Arabic text")
        self.acknowledgement = AcknowledgementText(str(ack["version"]), {str(k): str(v) for k, v in text.items()})

    def service(self, key: str) -> ServiceType:
        """The service ``key``.

        Raises:
            InvalidInput: no such service (the message lists the known ones).
        """
        try:
            return self.services[key]
        except KeyError:
            offered = ", ".join(self.services)
            raise InvalidInput(f"service_type {key!r} is not offered; choose one of {offered}", code=NOT_A_CHOICE,
                               params={"field": "service_type", "value": key, "allowed": list(self.services)}) from None


def _service(key: str, entry: Any) -> ServiceType:
    where = f"services.{key}"
    if not isinstance(entry, Mapping) or not entry.get("process") or not isinstance(entry.get("name"), Mapping):
        raise ConfigError(f"{where} needs a name (ar, en) and a process")
    documents = []
    for index, item in enumerate(entry.get("documents") or [], start=1):
        if not isinstance(item, Mapping) or not item.get("kind") or not isinstance(item.get("name"), Mapping):
            raise ConfigError(f"{where}.documents[{index}] needs a kind and a name (ar, en)")
        documents.append(DocumentKind(str(item["kind"]), {str(k): str(v) for k, v in item["name"].items()},
                                      bool(item.get("required", True)), bool(item.get("store_file", False))))
    kinds = [d.kind for d in documents]
    if len(kinds) != len(set(kinds)):
        raise ConfigError(f"{where}.documents lists a kind twice")
    return ServiceType(key, {str(k): str(v) for k, v in entry["name"].items()}, str(entry["process"]),
                       tuple(documents))
