"""Alembic environment of the engine's tables (run by `engine.schema.upgrade_on`)."""

from alembic import context

import engine.models  # noqa: F401 - the engine's tables
from engine.schema import VERSION_TABLE, run_environment

run_environment(context, "engine.models", VERSION_TABLE)
