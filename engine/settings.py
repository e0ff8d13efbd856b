"""Settings: defaults from ``config.yaml``, each overridable by a ``TAWASUL_<KEY>`` variable.

Nested keys are joined with a double underscore: ``sandbox.time_limit_ms`` is
``TAWASUL_SANDBOX__TIME_LIMIT_MS``. Values from the environment are parsed as YAML scalars,
so ``500`` is an int and ``false`` a bool.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from engine.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def config_path(environ: Mapping[str, str] | None = None) -> Path:
    """Return the config file in force: ``TAWASUL_CONFIG`` or the project's ``config.yaml``."""
    environ = os.environ if environ is None else environ
    return Path(environ.get("TAWASUL_CONFIG", PROJECT_ROOT / "config.yaml"))


def load_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> dict[str, Any]:
    """Load the settings: file defaults, then environment variables, then keyword overrides.

    Raises:
        ConfigError: the file is missing or not valid YAML, or a variable is malformed.
    """
    environ = os.environ if environ is None else environ
    path = config_path(environ)
    try:
        settings = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from None
    settings = copy.deepcopy(settings)
    for name, raw in environ.items():
        if not name.startswith("TAWASUL_") or name in ("TAWASUL_CONFIG", "TAWASUL_TEST_DATABASE_URL"):
            continue
        keys = name[len("TAWASUL_"):].lower().split("__")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        if isinstance(value, dict | list):
            value = raw
        _set_path(settings, keys, value)
    for key, value in overrides.items():
        _set_path(settings, key.split("."), value)
    settings["database_url"] = resolve_database_url(str(settings.get("database_url", "")), path.parent)
    return settings


def _set_path(settings: dict[str, Any], keys: list[str], value: Any) -> None:
    target = settings
    for key in keys[:-1]:
        nxt = target.get(key)
        if not isinstance(nxt, dict):
            nxt = target[key] = {}
        target = nxt
    target[keys[-1]] = value


def resolve_database_url(url: str, base: Path) -> str:
    """Make a relative SQLite path absolute against ``base`` (the config file's folder)."""
    if not url:
        raise ConfigError("database_url is empty: set it in config.yaml or TAWASUL_DATABASE_URL")
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and url != "sqlite:///:memory:":
        return prefix + str((base / url[len(prefix):]).resolve())
    if url.startswith("postgresql://"):
        # psycopg 3 is the driver we install; plain postgresql:// would ask for psycopg2.
        return "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


@dataclass(frozen=True)
class DefinitionLimits:
    """How large a deployed BPMN file may be.

    Set as ``engine.max_definition_kb``, ``engine.max_process_elements`` and ``engine.max_branches``.
    """

    #: Size of one file, checked before it is read.
    max_kb: int = 2048
    #: Flow nodes and sequence flows of one process, its subprocesses' included.
    max_elements: int = 1000
    #: Sequence flows leaving one element (a split's branches), and a literal multi-instance cardinality.
    max_branches: int = 100

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> DefinitionLimits:
        """The limits in ``settings["engine"]``, defaults for those not set.

        Raises:
            ConfigError: a limit that is not a positive whole number.
        """
        engine = settings.get("engine") or {}
        values = {}
        for field_name, key in (("max_kb", "max_definition_kb"), ("max_elements", "max_process_elements"),
                                ("max_branches", "max_branches")):
            value = engine.get(key, getattr(cls, field_name))
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"engine.{key} must be a positive whole number (it is {value!r})")
            values[field_name] = value
        return cls(**values)


#: Days within which a case moved to another version can be moved back (``engine.migration_revert_days``).
MIGRATION_REVERT_DAYS = 7


def migration_revert_days(settings: Mapping[str, Any]) -> int:
    """``engine.migration_revert_days``: how long a migrated case keeps the snapshot to revert to.

    Raises:
        ConfigError: not a whole number of days, at least 0.
    """
    value = (settings.get("engine") or {}).get("migration_revert_days", MIGRATION_REVERT_DAYS)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"engine.migration_revert_days must be a whole number of days, 0 or more (it is {value!r})")
    return value
