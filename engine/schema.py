"""Create or upgrade the schema through Alembic migrations (never ``create_all`` outside tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, inspect

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(database_url: str) -> Config:
    """An Alembic configuration pointing at the engine's migrations and ``database_url``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    config.set_main_option(
        "file_template", "%%(year)d_%%(month).2d_%%(day).2d_%%(rev)s_%%(slug)s"
    )
    return config


#: The modules whose models the migrations cover; the application adds its domain's.
DEFAULT_MODEL_MODULES = ("engine.models",)


def upgrade_schema(db: Engine, model_modules: tuple[str, ...] = DEFAULT_MODEL_MODULES) -> str | None:
    """Bring the database to the newest migration; return the revision it is now at.

    ``model_modules`` are imported by the migration environment (by name, so the engine does
    not depend on the domain that builds on it).
    """
    config = alembic_config(db.url.render_as_string(hide_password=False))
    with db.begin() as connection:
        config.attributes["connection"] = connection
        config.attributes["model_modules"] = model_modules
        command.upgrade(config, "head")
    return current_revision(db)


def current_revision(db: Engine) -> str | None:
    """The migration revision the database is at, or None for an empty database."""
    from alembic.runtime.migration import MigrationContext

    with db.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str:
    """The newest migration revision this code knows."""
    from alembic.script import ScriptDirectory

    return str(ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head())


def require_current_schema(db: Engine) -> None:
    """Refuse to serve on a database whose schema is older (or newer) than the code.

    A database that cannot be reached is left to ``/healthz`` and the first request to report.

    Raises:
        ConfigError: the schema is missing or at another revision, with the command that fixes it.
    """
    from sqlalchemy.exc import OperationalError

    from engine.errors import ConfigError

    try:
        current = current_revision(db)
    except OperationalError:
        return
    head = head_revision()
    if current != head:
        where = db.url.render_as_string(hide_password=True)
        raise ConfigError(
            f"the database {where} has schema revision {current or 'none (empty)'} but this version of "
            f"Tawasul needs {head}: run `tawasul init` (it creates or upgrades the schema), then start again"
        )
