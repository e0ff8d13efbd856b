"""Alembic environment of the domain's tables (run by `workflows.schema.upgrade_schema`)."""

from alembic import context

import workflows.models  # noqa: F401 - the domain's tables
from engine.schema import run_environment
from workflows.schema import VERSION_TABLE

run_environment(context, "workflows.models", VERSION_TABLE)
