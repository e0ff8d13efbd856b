"""The database of the whole application: the engine's tables, then the domain's.

`workflows/migrations` holds the domain's tables (members, users, requests, contacts, drafts,
saved views, ...), versioned in ``alembic_version_workflows``; the engine's are versioned in
``alembic_version``. `upgrade_schema` upgrades both, the engine first (the domain's tables
refer to its instances), in one transaction.

Databases made before the domain had migrations of its own kept one chain, 0001 to 0006, in
``alembic_version``; `upgrade_schema` recognises them and records the same schema as the two
chains' revisions first, so they upgrade with nothing lost.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Connection, Engine

from engine.schema import ENGINE, Location, current_revision, revision_on, stamp_on, upgrade_on
from engine.schema import require_current_schema as require_schema

VERSION_TABLE = "alembic_version_workflows"
DOMAIN: Location = (Path(__file__).resolve().parent / "migrations", VERSION_TABLE)
LOCATIONS = (ENGINE, DOMAIN)

#: Revision of the single chain of old → (engine revision, domain revision) holding the same schema.
LEGACY = {
    "0003": ("engine_0003", "domain_0001"),
    "0004": ("engine_0003", "domain_0002"),
    "0005": ("engine_0003", "domain_0003"),
    "0006": ("engine_0004", "domain_0004"),
}


def upgrade_schema(db: Engine) -> dict[str, str | None]:
    """Create or upgrade every table, engine first; return the revision of each part."""
    with db.begin() as connection:
        bridge_legacy(connection)
        upgrade_on(connection, ENGINE)
        upgrade_on(connection, DOMAIN)
    return schema_revisions(db)


def bridge_legacy(connection: Connection) -> str | None:
    """Re-record a database of the old single chain as the two chains; return the old revision.

    Only the version tables change: the old chain's revision stands for exactly the schema of
    the two revisions recorded instead.
    """
    old = revision_on(connection)
    if old not in LEGACY:
        return None
    engine_revision, domain_revision = LEGACY[old]
    stamp_on(connection, ENGINE, engine_revision, purge=True)
    stamp_on(connection, DOMAIN, domain_revision)
    return old


def schema_revisions(db: Engine) -> dict[str, str | None]:
    """The revision the engine's tables and the domain's are at (None: not created)."""
    return {"engine": current_revision(db), "domain": current_revision(db, VERSION_TABLE)}


def require_current_schema(db: Engine) -> None:
    """Refuse to serve on a database whose engine or domain tables are not at this code's revision.

    Raises:
        ConfigError: naming the revision found and the command that fixes it (`tawasul init`).
    """
    require_schema(db, LOCATIONS)
