"""Alembic environment of the domain's tables: runs on the connection `workflows.schema` hands over."""

from alembic import context
from sqlalchemy import create_engine

import workflows.models  # noqa: F401 - the domain's tables
from engine.db import Base
from engine.schema import include_tables, tables_of
from workflows.schema import VERSION_TABLE

config = context.config


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        db = create_engine(config.get_main_option("sqlalchemy.url"))
        with db.begin() as own_connection:
            _run(own_connection)
        db.dispose()
    else:
        _run(connection)


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        version_table=config.attributes.get("version_table", VERSION_TABLE),
        include_object=include_tables(tables_of("workflows.models")),
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
