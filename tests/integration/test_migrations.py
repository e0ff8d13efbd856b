"""Alembic migrations: the engine's and the domain's, each owning its tables, together making
exactly the schema the models describe; and a database made by the single chain of old upgrades
to the new layout with nothing lost."""

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, inspect, select, text

from engine.db import Base, make_engine
from engine.models import AuditEvent, HumanTask, TaskRecord
from engine.schema import ENGINE, alembic_config, current_revision, head_revision, tables_of, upgrade_on
from tests.conftest import POSTGRES_URL
from tests.support.databases import postgres_database
from tests.support.desk import COMMITTEE, RECEPTION, SUPERVISOR, Desk
from workflows.bootstrap import build
from workflows.operations.cases import cancel_case
from workflows.operations.tasks import claim_task
from workflows.schema import DOMAIN, VERSION_TABLE, schema_revisions, upgrade_schema

VERSION_TABLES = {"alembic_version", VERSION_TABLE}


@pytest.fixture
def empty_database_url(tmp_path):
    if not POSTGRES_URL:
        yield f"sqlite:///{tmp_path / 'migrate.db'}"
        return
    with postgres_database(POSTGRES_URL) as url:
        yield url


def _tables(db):
    with db.connect() as connection:
        return set(inspect(connection).get_table_names())


def test_migrations_match_the_models(empty_database_url):
    db = make_engine(empty_database_url)
    try:
        assert schema_revisions(db) == {"engine": None, "domain": None}
        revisions = upgrade_schema(db)
        assert revisions == {"engine": head_revision(ENGINE), "domain": head_revision(DOMAIN)}
        assert upgrade_schema(db) == revisions  # idempotent
        with db.connect() as connection:
            context = MigrationContext.configure(connection, opts={
                "compare_type": True,
                "include_object": lambda obj, name, type_, reflected, other: name not in VERSION_TABLES})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        db.dispose()


def test_the_engine_migrations_make_only_the_engine_tables(empty_database_url):
    db = make_engine(empty_database_url)
    try:
        with db.begin() as connection:
            upgrade_on(connection, ENGINE)
        engine_tables = tables_of("engine.models")
        assert _tables(db) == engine_tables | {"alembic_version"}
        assert "members" not in engine_tables and "task_history" in engine_tables
        upgrade_schema(db)
        assert _tables(db) == engine_tables | tables_of("workflows.models") | VERSION_TABLES
    finally:
        db.dispose()


def _history(engine):
    with engine.unit_of_work(readonly=True) as uow:
        return [(r.task_id, r.process_key, r.process_version, r.element_id, r.name, r.lane, r.candidate_group,
                 r.opened_at, r.first_claimed_at, r.first_claimed_by, r.assignee, r.closed_at, r.closed_by, r.outcome,
                 r.escalation_level)
                for r in uow.session.scalars(select(TaskRecord).order_by(TaskRecord.task_id))]


def _counts(db, tables):
    with db.connect() as connection:
        return {table: connection.execute(text(f'SELECT COUNT(*) FROM "{table}"')).scalar_one() for table in tables}


def _make_it_old(db):
    """Take the database back to what the single chain 0001-0006 made (the layout before this one)."""
    url = db.url.render_as_string(hide_password=False)
    config, domain = alembic_config(ENGINE, url), alembic_config(DOMAIN, url)
    with db.begin() as connection:
        config.attributes["connection"] = domain.attributes["connection"] = connection
        command.downgrade(domain, "domain_0004")  # the domain's tables as the old chain's 0006 left them
        command.downgrade(config, "engine_0004")  # no task history, no first claim or escalation level
        connection.execute(text(f"DROP TABLE {VERSION_TABLE}"))
        connection.execute(text("UPDATE alembic_version SET version_num = '0006'"))


def test_a_database_of_the_old_single_chain_upgrades_with_nothing_lost(empty_database_url, settings, clock):
    db = make_engine(empty_database_url)
    upgrade_schema(db)
    engine = build(settings, database_url=empty_database_url, clock=clock)
    try:
        desk = Desk(engine)
        done = desk.open("financial_support")  # intake completed after a claim
        [intake] = [t for t in engine.query(lambda e, s: s.scalars(select(HumanTask)).all())]
        engine.run(claim_task, RECEPTION, intake.id)
        clock.advance(minutes=30)
        desk.complete(RECEPTION, done, "intake", {"visit_summary": "حضر", "inquiries_answered": True})
        cancelled = desk.open("in_kind_support")  # its intake closes with the case
        clock.advance(minutes=5)
        engine.run(cancel_case, SUPERVISOR, cancelled.instance_id, "طلب مكرر")
        waiting = desk.open("membership_registration")  # stays open, claimed
        engine.run(claim_task, RECEPTION, desk.task(waiting, "verify_application").id)
        lived = _history(engine)
        assert [row[13] for row in lived] != [] and {row[13] for row in lived} == {"completed", "cancelled"}
        engine.dispose()

        _make_it_old(db)
        assert current_revision(db) == "0006" and "task_history" not in _tables(db)
        before = _counts(db, sorted(_tables(db) - VERSION_TABLES))

        assert upgrade_schema(db) == {"engine": head_revision(ENGINE), "domain": head_revision(DOMAIN)}
        after = _counts(db, sorted(before))
        assert after == before  # every row of every table is still there

        engine = desk.engine = build(settings, database_url=empty_database_url, clock=clock)
        rebuilt = _history(engine)
        assert rebuilt == lived  # the audit log told the same story the live records kept
        with engine.unit_of_work(readonly=True) as uow:
            claimed = uow.session.scalars(select(HumanTask).where(HumanTask.element_id == "verify_application")).one()
            untouched = uow.session.scalars(select(HumanTask).where(HumanTask.element_id == "check_data")).one()
            assert (claimed.first_claimed_by, claimed.first_claimed_at, claimed.escalation_level) == (
                "reception1", clock.now(), 0)
            assert (untouched.first_claimed_by, untouched.first_claimed_at) == (None, None)
            assert uow.session.scalar(select(func.count()).select_from(AuditEvent)) > 0
        # And the upgraded database works on: the committee's step after the verification.
        desk.verify_all(waiting)
        desk.complete(RECEPTION, waiting, "verify_application", {"id_verified": True})
        desk.complete(COMMITTEE, waiting, "approve_membership", {"approved": True, "reason": "مستوفٍ"})
        assert desk.request(waiting).status == "registered"
        assert len(_history(engine)) == len(lived) + 2
    finally:
        engine.dispose()
        db.dispose()

