"""task history: a record of every human task that closed; who first took an open task, and its
escalation level

Tasks closed before this migration are recorded from the audit log, as far as it tells: when
each task opened and closed, who first claimed it and who held it, how it closed and how far it
was escalated. Due and warning times were not in the log, so those records have no deadline.

Revision ID: engine_0005
Revises: engine_0004
Create Date: 2026-12-01
"""
import itertools
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from lxml import etree

import engine.db

revision: str = 'engine_0005'
down_revision: str | None = 'engine_0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UTC = engine.db.UTCDateTime(timezone=True)
_JSON = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), 'postgresql')
_AUDIT = sa.table('audit_events', sa.column('id', sa.Integer), sa.column('at', _UTC), sa.column('actor', sa.String),
                  sa.column('action', sa.String), sa.column('instance_id', sa.Integer),
                  sa.column('task_id', sa.String), sa.column('element_id', sa.String),
                  sa.column('summary', _JSON))
_TASKS = sa.table('human_tasks', sa.column('id', sa.String), sa.column('first_claimed_at', _UTC),
                  sa.column('first_claimed_by', sa.String), sa.column('escalation_level', sa.Integer))
_INSTANCES = sa.table('process_instances', sa.column('id', sa.Integer), sa.column('definition_id', sa.Integer))
_DEFINITIONS = sa.table('process_definitions', sa.column('id', sa.Integer), sa.column('key', sa.String),
                        sa.column('version', sa.Integer), sa.column('xml', sa.Text))
_ACTIONS = ('task_opened', 'claimed', 'assigned', 'unclaimed', 'completed', 'task_closed', 'escalated')
_BATCH = 500


def upgrade() -> None:
    op.create_table(
        'task_history',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('task_id', sa.String(length=36), nullable=False),
        sa.Column('instance_id', sa.Integer(), nullable=False),
        sa.Column('process_key', sa.String(length=200), nullable=False),
        sa.Column('process_version', sa.Integer(), nullable=False),
        sa.Column('element_id', sa.String(length=200), nullable=False),
        sa.Column('name', sa.String(length=400), nullable=False),
        sa.Column('lane', sa.String(length=200), nullable=True),
        sa.Column('candidate_group', sa.String(length=200), nullable=True),
        sa.Column('opened_at', _UTC, nullable=False),
        sa.Column('first_claimed_at', _UTC, nullable=True),
        sa.Column('first_claimed_by', sa.String(length=200), nullable=True),
        sa.Column('assignee', sa.String(length=200), nullable=True),
        sa.Column('closed_at', _UTC, nullable=False),
        sa.Column('closed_by', sa.String(length=200), nullable=False),
        sa.Column('outcome', sa.String(length=20), nullable=False),
        sa.Column('due_at', _UTC, nullable=True),
        sa.Column('warn_at', _UTC, nullable=True),
        sa.Column('deadline_met', sa.Boolean(), nullable=True),
        sa.Column('escalation_level', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['instance_id'], ['process_instances.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('task_history', schema=None) as batch_op:
        batch_op.create_index('ix_task_history_closed_at', ['closed_at'], unique=False)
        batch_op.create_index('ix_task_history_instance_id', ['instance_id'], unique=False)
        batch_op.create_index('ix_task_history_lane_closed_at', ['lane', 'closed_at'], unique=False)
        batch_op.create_index('ix_task_history_process_closed_at', ['process_key', 'process_version', 'closed_at'],
                              unique=False)
        batch_op.create_index('ix_task_history_task_id', ['task_id'], unique=False)
    with op.batch_alter_table('human_tasks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('first_claimed_at', _UTC, nullable=True))
        batch_op.add_column(sa.Column('first_claimed_by', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('escalation_level', sa.Integer(), server_default=sa.text('0'), nullable=False))
    _backfill(op.get_bind())


def downgrade() -> None:
    with op.batch_alter_table('human_tasks', schema=None) as batch_op:
        batch_op.drop_column('escalation_level')
        batch_op.drop_column('first_claimed_by')
        batch_op.drop_column('first_claimed_at')
    op.drop_table('task_history')


# -- what the audit log tells of tasks that closed before -----------------------------------------


def _element_names(xml: str) -> dict[str, str]:
    try:
        tree = etree.fromstring(xml.encode('utf-8'), etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError:
        return {}
    return {node.get('id'): ' '.join(node.get('name').split()) for node in tree.iter()
            if isinstance(node.tag, str) and node.get('id') and node.get('name')}


def _replay(events: list) -> dict:
    """One task's story from its audit events, oldest first."""
    story = {'opened': None, 'first_claim': None, 'assignee': None, 'level': 0, 'group': None, 'closed': None}
    for event in events:
        summary = event.summary or {}
        if event.action == 'task_opened' and story['opened'] is None:
            story['opened'] = event
        elif event.action in ('claimed', 'assigned'):
            story['assignee'] = summary.get('assignee')
            if story['first_claim'] is None and story['assignee']:
                story['first_claim'] = (event.at, story['assignee'])
        elif event.action == 'unclaimed':
            story['assignee'] = None
        elif event.action == 'escalated':
            story['level'] = max(story['level'], int(summary.get('level') or 0))
            story['group'] = summary.get('to') or story['group']
        elif event.action in ('completed', 'task_closed') and story['closed'] is None:
            story['closed'] = event
    return story


def _outcome(closing) -> str:
    if closing.action == 'completed':
        return 'completed'
    return 'cancelled' if (closing.summary or {}).get('reason') == 'cancelled' else 'interrupted'


_HISTORY = sa.table(
    'task_history', sa.column('task_id', sa.String), sa.column('instance_id', sa.Integer),
    sa.column('process_key', sa.String), sa.column('process_version', sa.Integer), sa.column('element_id', sa.String),
    sa.column('name', sa.String), sa.column('lane', sa.String), sa.column('candidate_group', sa.String),
    sa.column('opened_at', _UTC), sa.column('first_claimed_at', _UTC), sa.column('first_claimed_by', sa.String),
    sa.column('assignee', sa.String), sa.column('closed_at', _UTC), sa.column('closed_by', sa.String),
    sa.column('outcome', sa.String), sa.column('due_at', _UTC), sa.column('warn_at', _UTC),
    sa.column('deadline_met', sa.Boolean), sa.column('escalation_level', sa.Integer))


def _backfill(connection) -> None:
    definitions = {row.id: (row.key, row.version, _element_names(row.xml))
                   for row in connection.execute(sa.select(_DEFINITIONS))}
    still_open = set(connection.execute(sa.select(_TASKS.c.id)).scalars())
    # Streamed (a server-side cursor on PostgreSQL): a log of millions of events is never all in memory.
    events = connection.execute(
        sa.select(_AUDIT).where(_AUDIT.c.task_id.is_not(None), _AUDIT.c.action.in_(_ACTIONS))
        .order_by(_AUDIT.c.task_id, _AUDIT.c.id),
        execution_options={"yield_per": 5000},
    )
    stories = ((task_id, _replay(list(group))) for task_id, group in itertools.groupby(events, lambda e: e.task_id))
    while batch := list(itertools.islice(stories, _BATCH)):
        _write(connection, definitions, still_open, batch)


def _write(connection, definitions: dict, still_open: set, batch: list) -> None:
    ids = {story['opened'].instance_id for _, story in batch if story['opened'] is not None}
    instances = dict(connection.execute(
        sa.select(_INSTANCES.c.id, _INSTANCES.c.definition_id).where(_INSTANCES.c.id.in_(ids))).all()) if ids else {}
    records = []
    for task_id, story in batch:
        opened = story['opened']
        if opened is None:
            continue
        claimed_at, claimed_by = story['first_claim'] or (None, None)
        if task_id in still_open:
            connection.execute(sa.update(_TASKS).where(_TASKS.c.id == task_id).values(
                first_claimed_at=claimed_at, first_claimed_by=claimed_by, escalation_level=story['level']))
            continue
        closing = story['closed']
        definition = definitions.get(instances.get(opened.instance_id))
        if closing is None or definition is None:
            continue  # the log does not say how it ended
        key, version, names = definition
        lane = (opened.summary or {}).get('lane')
        outcome = _outcome(closing)
        records.append({
            'task_id': task_id, 'instance_id': opened.instance_id, 'process_key': key, 'process_version': version,
            'element_id': opened.element_id, 'name': names.get(opened.element_id, opened.element_id), 'lane': lane,
            'candidate_group': story['group'] or lane, 'opened_at': opened.at, 'first_claimed_at': claimed_at,
            'first_claimed_by': claimed_by, 'assignee': story['assignee'], 'closed_at': closing.at,
            'closed_by': 'system' if outcome == 'interrupted' else closing.actor, 'outcome': outcome, 'due_at': None, 'warn_at': None,
            'deadline_met': None, 'escalation_level': story['level'],
        })
    if records:
        connection.execute(sa.insert(_HISTORY), records)
