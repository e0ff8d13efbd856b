"""Fixtures shared by every test level.

The database is SQLite (a new file per test) unless ``TAWASUL_TEST_DATABASE_URL`` names a
PostgreSQL server: then one fresh database is created for the run, brought up by the Alembic
migrations, and every table is truncated before each test.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from engine.actors import SYSTEM
from engine.clock import FrozenClock
from engine.context import CaseEngine
from engine.definitions import deploy_definition
from engine.models import ProcessDefinition, ProcessInstance
from engine.settings import load_settings
from tests.support.databases import migrate, postgres_database, sqlite_from_models, truncate_all
from tests.support.desk import PROJECT_BPMN_DIR
from workflows.bootstrap import build

BPMN_DIR = Path(__file__).parent / "bpmn"
#: Tuesday 1 December 2026, 08:00 UTC (11:00 in Riyadh).
T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)

POSTGRES_URL = os.environ.get("TAWASUL_TEST_DATABASE_URL", "")


def pytest_report_header(config: pytest.Config) -> str:
    target = make_url(POSTGRES_URL).render_as_string(hide_password=True) if POSTGRES_URL else "SQLite"
    return f"tawasul test database: {target}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if POSTGRES_URL:
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (set TAWASUL_TEST_DATABASE_URL)")
    for item in items:
        if "postgres_only" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def postgres_run_database() -> Iterator[str | None]:
    """A fresh PostgreSQL database for the whole run, migrated to head (None on SQLite runs)."""
    if not POSTGRES_URL:
        yield None
        return
    with postgres_database(POSTGRES_URL) as url:
        migrate(url)
        yield url


@pytest.fixture
def database_url(postgres_run_database: str | None, tmp_path: Path) -> str:
    """A database URL with an empty schema, ready for this test."""
    if postgres_run_database is not None:
        truncate_all(postgres_run_database)
        return postgres_run_database
    return sqlite_from_models(tmp_path / "tawasul-test.db")


@pytest.fixture
def clock() -> FrozenClock:
    """The engine's clock, standing at `T0` until a test moves it."""
    return FrozenClock(T0)


@pytest.fixture
def settings(tmp_path: Path) -> dict:
    """Settings from config.yaml with a short sandbox time limit (runaway scripts stop fast) and
    the development e-mail and SMS logs in the test's own folder."""
    return load_settings(**{
        "sandbox.time_limit_ms": 300,
        "notifications.email": {"backend": "log", "path": str(tmp_path / "email.log")},
        "notifications.sms": {"backend": "log", "path": str(tmp_path / "sms.log")},
    })


@pytest.fixture
def engine(database_url: str, clock: FrozenClock, settings: dict) -> Iterator[CaseEngine]:
    """A `CaseEngine` on the test database and the frozen clock."""
    case_engine = build(settings, database_url=database_url, clock=clock)
    yield case_engine
    case_engine.dispose()


@pytest.fixture
def deploy(engine: CaseEngine) -> Callable[[str], str]:
    """Deploy ``tests/bpmn/<name>.bpmn`` (or a project diagram) and return its process key."""

    def _deploy(name: str) -> str:
        path = BPMN_DIR / f"{name}.bpmn"
        if not path.exists():
            path = PROJECT_BPMN_DIR / f"{name}.bpmn"
        results = engine.run(deploy_definition, SYSTEM, path.read_bytes(), path.name)
        return results[0].key

    return _deploy


@pytest.fixture
def run_cli(database_url: str, clock: FrozenClock, settings: dict, capsys: pytest.CaptureFixture[str]):
    """Run the ``tawasul`` command in-process on the test database; returns (exit code, stdout, stderr)."""
    from web.cli import main

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv), engine_factory=lambda: build(settings, database_url=database_url, clock=clock))
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def deploy_with() -> Callable[[CaseEngine, str], str]:
    """Deploy a test diagram into a given engine (for tests that build their own engine)."""

    def _deploy(case_engine: CaseEngine, name: str) -> str:
        path = BPMN_DIR / f"{name}.bpmn"
        return case_engine.run(deploy_definition, SYSTEM, path.read_bytes(), path.name)[0].key

    return _deploy


@pytest.fixture
def assert_round_trip(engine: CaseEngine) -> Callable[[int], None]:
    """Check an instance's stored state survives a restore and a save unchanged."""

    def _check(instance_id: int) -> None:
        from engine.definitions import parsed_process

        with engine.unit_of_work(readonly=True) as uow:
            row = uow.session.get(ProcessInstance, instance_id)
            assert row is not None
            definition = uow.session.get(ProcessDefinition, row.definition_id)
            process = parsed_process(engine, definition)
            case = engine.runtime.thaw(process, row.snapshot)
            again = engine.runtime.freeze(case)
            assert again == row.snapshot
            # and once more from the re-frozen text, with a fresh spec parse
            engine.runtime.freeze(engine.runtime.thaw(process, again))

    return _check
