"""Alembic migrations produce exactly the schema the models describe."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from engine.db import Base, make_engine
from engine.schema import current_revision, upgrade_schema
from tests.conftest import POSTGRES_URL
from workflows.schema import MODEL_MODULES


@pytest.fixture
def empty_database_url(tmp_path):
    if not POSTGRES_URL:
        yield f"sqlite:///{tmp_path / 'migrate.db'}"
        return
    server = make_url(POSTGRES_URL)
    name = "tawasul_migrate_test"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield server.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_migrations_match_the_models(empty_database_url):
    db = make_engine(empty_database_url)
    try:
        assert current_revision(db) is None
        revision = upgrade_schema(db, MODEL_MODULES)
        assert revision is not None
        assert upgrade_schema(db, MODEL_MODULES) == revision  # idempotent
        with db.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        db.dispose()
