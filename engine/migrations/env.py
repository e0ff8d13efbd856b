"""Alembic environment: runs on the connection `engine.schema` hands over (or the URL)."""

import importlib

from alembic import context
from sqlalchemy import create_engine

from engine.db import Base

config = context.config
# The engine's tables and the domain's: the caller names the modules (see engine.schema).
for module in config.attributes.get("model_modules", ("engine.models",)):
    importlib.import_module(module)
target_metadata = Base.metadata


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
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
