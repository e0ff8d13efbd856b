"""The engine's tables, created or upgraded through its own Alembic migrations.

`engine/migrations` holds the engine's tables only (definitions, instances, tasks, task
history, jobs, calendar, outbox, audit), versioned in the ``alembic_version`` table. A layer
built on the engine keeps its own migrations and version table, and upgrades after the engine
(`workflows.schema`). ``create_all`` is for tests only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, inspect
from sqlalchemy.exc import OperationalError

from engine.db import Base
from engine.errors import ConfigError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "alembic_version"
#: Where each Alembic environment of a stack of layers lives, and the table that versions it.
Location = tuple[Path, str]
ENGINE = (MIGRATIONS, VERSION_TABLE)


def alembic_config(location: Location, database_url: str = "sqlite://") -> Config:
    """An Alembic configuration for the migrations at ``location`` on ``database_url``."""
    folder, version_table = location
    config = Config()
    config.set_main_option("script_location", str(folder))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    config.set_main_option("file_template", "%%(year)d_%%(month).2d_%%(day).2d_%%(rev)s_%%(slug)s")
    config.attributes["version_table"] = version_table
    return config


def upgrade_on(connection: Connection, location: Location = ENGINE, target: str = "head") -> None:
    """Run the migrations at ``location`` up to ``target`` inside ``connection``'s transaction."""
    config = alembic_config(location, connection.engine.url.render_as_string(hide_password=False))
    config.attributes["connection"] = connection
    command.upgrade(config, target)


def stamp_on(connection: Connection, location: Location, revision: str, purge: bool = False) -> None:
    """Record ``revision`` as the one the migrations at ``location`` are at, running none.

    With ``purge`` whatever the version table held is replaced, known revision or not.
    """
    config = alembic_config(location, connection.engine.url.render_as_string(hide_password=False))
    config.attributes["connection"] = connection
    command.stamp(config, revision, purge=purge)


def upgrade_schema(db: Engine) -> str | None:
    """Bring the engine's tables to their newest migration; return the revision they are at."""
    with db.begin() as connection:
        upgrade_on(connection)
    return current_revision(db)


def revision_on(connection: Connection, version_table: str = VERSION_TABLE) -> str | None:
    """The revision recorded in ``version_table``, or None when there is none."""
    if not inspect(connection).has_table(version_table):
        return None
    return MigrationContext.configure(connection, opts={"version_table": version_table}).get_current_revision()


def current_revision(db: Engine, version_table: str = VERSION_TABLE) -> str | None:
    """The revision the database is at (of the migrations versioned in ``version_table``)."""
    with db.connect() as connection:
        return revision_on(connection, version_table)


def head_revision(location: Location = ENGINE) -> str:
    """The newest revision of the migrations at ``location``."""
    return str(ScriptDirectory.from_config(alembic_config(location)).get_current_head())


def require_current_schema(db: Engine, locations: tuple[Location, ...] = (ENGINE,)) -> None:
    """Refuse to serve on a database whose schema is older (or newer) than the code.

    A database that cannot be reached is left to ``/healthz`` and the first request to report.

    Raises:
        ConfigError: the schema is missing or at another revision, with the command that fixes it.
    """
    try:
        found = {table: current_revision(db, table) for _, table in locations}
    except OperationalError:
        return
    for location in locations:
        current, head = found[location[1]], head_revision(location)
        if current != head:
            where = db.url.render_as_string(hide_password=True)
            raise ConfigError(
                f"the database {where} has schema revision {current or 'none (empty)'} but this version of "
                f"Tawasul needs {head}: run `tawasul init` (it creates or upgrades the schema), then start again"
            )


def run_environment(context: Any, owned_module: str, version_table: str) -> None:
    """The body of a layer's Alembic ``env.py``: migrate the tables ``owned_module`` maps.

    Runs on the connection `upgrade_on` hands over (or, from the ``alembic`` command, on one made
    from the URL), versioned in ``version_table``; autogenerate looks at the layer's own tables only.
    """
    config = context.config

    def run(connection: Connection) -> None:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            version_table=config.attributes.get("version_table", version_table),
            include_object=include_tables(tables_of(owned_module)),
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()

    connection = config.attributes.get("connection")
    if connection is not None:
        run(connection)
        return
    db = create_engine(config.get_main_option("sqlalchemy.url"))
    try:
        with db.begin() as own_connection:
            run(own_connection)
    finally:
        db.dispose()


def tables_of(*modules: str) -> set[str]:
    """The names of the tables mapped by classes defined in ``modules`` (what a layer owns)."""
    return {mapper.local_table.name for mapper in Base.registry.mappers if mapper.class_.__module__ in modules}


def include_tables(owned: set[str]) -> Any:
    """An Alembic ``include_object`` hook keeping a layer's autogenerate to the tables it owns."""

    def include(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", None)
        return table is None or table in owned

    return include
