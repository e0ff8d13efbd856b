"""The engine's tables: definitions, instances, open human tasks, jobs, audit events.

Model classes are singular, tables plural; ``*_at`` columns hold aware UTC datetimes.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base


class ProcessDefinition(Base):
    """One immutable version of a BPMN process, keyed by its process id."""

    __tablename__ = "process_definitions"
    __table_args__ = (
        UniqueConstraint("key", "version", name="uq_process_definitions_key_version"),
        UniqueConstraint("key", "sha256", name="uq_process_definitions_key_sha256"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The BPMN process id; versions of one process share it.
    key: Mapped[str] = mapped_column(String(200))
    version: Mapped[int]
    #: Display name of the process (the BPMN ``name`` attribute, else the key).
    name: Mapped[str] = mapped_column(String(400))
    #: sha256 of the XML as deployed; the same XML never makes a new version.
    sha256: Mapped[str] = mapped_column(String(64))
    xml: Mapped[str] = mapped_column(Text)
    deployed_at: Mapped[datetime]
    deployed_by: Mapped[str] = mapped_column(String(200))
    #: What the person deploying said of this version (required from the modeler; the CLI may omit it).
    note: Mapped[str | None] = mapped_column(Text)
    #: The task forms this version was deployed with, by form key (JSON Schema objects); a running
    #: case keeps the forms of its version. None for versions deployed before forms were kept.
    forms: Mapped[dict[str, Any] | None]


class DefinitionDraft(Base):
    """A diagram being edited in the modeler: not deployed, saved as often as wanted.

    ``revision`` grows with each save; a save names the revision it started from, so two owners
    editing one draft never overwrite each other.
    """

    __tablename__ = "definition_drafts"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The id of the draft's first process, if it has one (a draft may be any BPMN file, even unfinished).
    key: Mapped[str | None] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(400))
    xml: Mapped[str] = mapped_column(Text)
    #: Forms edited with the draft, by form key; deployed with it (forms not here come from bpmn/forms).
    forms: Mapped[dict[str, Any]] = mapped_column(default=dict)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    #: The version the draft was opened from, if any.
    base_version: Mapped[int | None]
    #: Where the draft came from: a file name for an import, else the process key and version.
    source: Mapped[str] = mapped_column(String(400))
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(200))
    #: Set when the draft was deployed (it is kept, read-only, for the record).
    deployed_at: Mapped[datetime | None]
    deployed_version: Mapped[int | None]


class ProcessInstance(Base):
    """A running (or finished) case: one row holding the whole serialized engine state."""

    __tablename__ = "process_instances"
    __table_args__ = (
        Index("ix_process_instances_business_key", "business_key"),
        Index("ix_process_instances_status", "status"),
        Index("ix_process_instances_definition_id", "definition_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definitions.id"))
    business_key: Mapped[str | None] = mapped_column(String(200))
    #: running, completed, cancelled or error.
    status: Mapped[str] = mapped_column(String(20))
    #: Bumped on every write; an UPDATE whose revision no longer matches is a conflict.
    revision: Mapped[int] = mapped_column(Integer)
    #: SpiffWorkflow state as JSON, without the process spec (it is referenced, not embedded).
    snapshot: Mapped[str] = mapped_column(Text)
    started_at: Mapped[datetime]
    started_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(200))
    ended_at: Mapped[datetime | None]
    #: When status is error: the BPMN element that failed and the message.
    error_element_id: Mapped[str | None] = mapped_column(String(200))
    error_message: Mapped[str | None] = mapped_column(Text)

    __mapper_args__ = {"version_id_col": revision}


class HumanTask(Base):
    """An open human task (READY user or manual task), projected from the instance state.

    Rows exist only while the task is open; when it closes, `TaskRecord` keeps it.
    """

    __tablename__ = "human_tasks"
    __table_args__ = (
        Index("ix_human_tasks_lane_due_at", "lane", "due_at"),
        Index("ix_human_tasks_assignee_due_at", "assignee", "due_at"),
        Index("ix_human_tasks_instance_id", "instance_id"),
        # The inbox's first page in due order: read in index order, stop after one page.
        Index("ix_human_tasks_due_order", "due_at", "created_at", "id"),
        # The inbox's counts per deadline state: an index-only scan instead of the table.
        Index("ix_human_tasks_visibility", "lane", "candidate_group", "assignee", "due_at", "warn_at"),
    )

    #: The SpiffWorkflow task id (a UUID string).
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id", ondelete="CASCADE"))
    element_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(400))
    lane: Mapped[str | None] = mapped_column(String(200))
    #: The group offered the task; the lane unless the diagram says otherwise.
    candidate_group: Mapped[str | None] = mapped_column(String(200))
    assignee: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime]
    #: SLA: when the task is due, and when it is at risk (warning time).
    due_at: Mapped[datetime | None]
    warn_at: Mapped[datetime | None]
    priority: Mapped[int] = mapped_column(Integer, default=50)
    #: The JSON Schema form file of the task (``bpmn/forms/<form_key>``), if any.
    form_key: Mapped[str | None] = mapped_column(String(200))
    #: Who first took the task (a claim, or a supervisor's assignment), and when.
    first_claimed_at: Mapped[datetime | None]
    first_claimed_by: Mapped[str | None] = mapped_column(String(200))
    #: How many levels of its escalation chain have been reached (0: none).
    escalation_level: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))


class TaskRecord(Base):
    """A human task that has closed: who had it, how long it took, whether its deadline held.

    Written in the transaction that closes the task, and never changed; every SLA report reads
    it. ``outcome`` says how it closed: ``completed`` by a person, ``cancelled`` with its case,
    ``interrupted`` (the case moved on without it: a boundary event, a timer, another branch
    ending the case) or ``migrated`` to a new version of the diagram.
    """

    __tablename__ = "task_history"
    __table_args__ = (
        Index("ix_task_history_lane_closed_at", "lane", "closed_at"),
        Index("ix_task_history_process_closed_at", "process_key", "process_version", "closed_at"),
        Index("ix_task_history_closed_at", "closed_at"),
        Index("ix_task_history_instance_id", "instance_id"),
        Index("ix_task_history_task_id", "task_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The SpiffWorkflow task id the open task had.
    task_id: Mapped[str] = mapped_column(String(36))
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id", ondelete="CASCADE"))
    process_key: Mapped[str] = mapped_column(String(200))
    process_version: Mapped[int]
    element_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(400))
    lane: Mapped[str | None] = mapped_column(String(200))
    #: The group the task was offered to when it closed (the escalation's, if it was escalated).
    candidate_group: Mapped[str | None] = mapped_column(String(200))
    opened_at: Mapped[datetime]
    first_claimed_at: Mapped[datetime | None]
    first_claimed_by: Mapped[str | None] = mapped_column(String(200))
    #: Who held the task when it closed.
    assignee: Mapped[str | None] = mapped_column(String(200))
    closed_at: Mapped[datetime]
    closed_by: Mapped[str] = mapped_column(String(200))
    #: completed, cancelled, interrupted or migrated.
    outcome: Mapped[str] = mapped_column(String(20))
    due_at: Mapped[datetime | None]
    warn_at: Mapped[datetime | None]
    #: True: closed by its due time; False: closed after it; None: no deadline, or closed early
    #: without being done (cancelled or interrupted before it was due).
    deadline_met: Mapped[bool | None] = mapped_column(Boolean)
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)


class Job(Base):
    """Work due at a time: a waiting timer, a scheduled start, an SLA warning or escalation.

    Written in the same transaction as the step that makes it (a timer left waiting, a task
    opened) and removed in the transaction that ends its scope (timer fired or cancelled, task
    completed). Workers lock due jobs (``lock_owner``/``lock_expires_at``); a lock whose owner
    died expires and the job is taken again.
    """

    __tablename__ = "jobs"
    __table_args__ = (
        Index(
            "ix_jobs_due_pending",
            "due_at",
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
        Index(
            "ix_jobs_lock_expires_running",
            "lock_expires_at",
            sqlite_where=text("status = 'running'"),
            postgresql_where=text("status = 'running'"),
        ),
        Index("ix_jobs_instance_id", "instance_id"),
        Index("ix_jobs_definition_id", "definition_id"),
        UniqueConstraint("instance_id", "task_id", "kind", name="uq_jobs_instance_task_kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: ``timer`` (a waiting BPMN timer), ``timer_start`` (a timer start event), ``sla_warn``,
    #: ``sla_escalate_<level>``, or a kind registered by the domain.
    kind: Mapped[str] = mapped_column(String(40))
    #: The instance the job belongs to (none for a scheduled start).
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instances.id", ondelete="CASCADE"))
    #: The definition version a scheduled start belongs to.
    definition_id: Mapped[int | None] = mapped_column(
        ForeignKey("process_definitions.id", ondelete="CASCADE", name="fk_jobs_definition_id_process_definitions")
    )
    #: The SpiffWorkflow task (timer) or human task (SLA) the job belongs to.
    task_id: Mapped[str] = mapped_column(String(36))
    element_id: Mapped[str] = mapped_column(String(200))
    due_at: Mapped[datetime]
    #: pending, running (locked by a worker), incident (retries exhausted), or dismissed (an incident a
    #: supervisor gave up, with a reason in the audit log; kept, never taken again).
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=5)
    lock_owner: Mapped[str | None] = mapped_column(String(200))
    lock_expires_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    #: What the handler needs beyond the columns (escalation group, remaining cycles, ...).
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]


class CalendarDay(Base):
    """The society's own closures, and corrections to the public holidays (Eid is announced late).

    ``is_working`` false closes a day that would be a working day; true opens a day the
    built-in calendar (weekend or a public holiday) would close.
    """

    __tablename__ = "calendar_days"

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date, unique=True)
    is_working: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(String(400))
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))


class OutboxMessage(Base):
    """A notification to send after commit (written in the transaction that causes it)."""

    __tablename__ = "outbox_messages"
    __table_args__ = (
        Index(
            "ix_outbox_messages_pending",
            "created_at",
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime]
    #: What happened: ``task_warning``, ``task_escalated``, ...
    kind: Mapped[str] = mapped_column(String(40))
    #: ``user:<name>`` or ``group:<lane>``; the domain resolves it to addresses.
    recipient: Mapped[str] = mapped_column(String(200))
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instances.id", ondelete="CASCADE"))
    task_id: Mapped[str | None] = mapped_column(String(36))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: pending, sending, sent, printable, skipped, failed; simulated (written by a simulated run, never sent).
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    #: When a failed send is tried again (exponential backoff).
    next_attempt_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)


class AuditEvent(Base):
    """One thing that happened, appended and never changed: who, when, what, where."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_instance_id_id", "instance_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(200))
    #: deployed, started, claimed, unclaimed, assigned, completed, timer_fired, cancelled, error, ...
    action: Mapped[str] = mapped_column(String(40))
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instances.id", ondelete="CASCADE"))
    task_id: Mapped[str | None] = mapped_column(String(36))
    element_id: Mapped[str | None] = mapped_column(String(200))
    #: A short summary: data keys and shortened values, error text, definition version, ...
    summary: Mapped[dict[str, Any]] = mapped_column(default=dict)


class MigrationSnapshot(Base):
    """A case as it was just before it moved to another version, kept so the move can be undone.

    Written in the transaction of the move (`engine.migration`): the instance's snapshot and
    definition, its open human tasks and its jobs as they were. A revert within
    ``engine.migration_revert_days`` puts them back, if the case has not changed since the move
    (its revision is still ``revision_after``).
    """

    __tablename__ = "migration_snapshots"
    __table_args__ = (Index("ix_migration_snapshots_instance_id", "instance_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id", ondelete="CASCADE"))
    from_definition_id: Mapped[int] = mapped_column(ForeignKey("process_definitions.id"))
    to_definition_id: Mapped[int] = mapped_column(ForeignKey("process_definitions.id"))
    #: The instance's stored workflow state before the move.
    snapshot: Mapped[str] = mapped_column(Text)
    #: The instance's revision before the move, and the one the move wrote.
    revision_before: Mapped[int] = mapped_column(Integer)
    revision_after: Mapped[int] = mapped_column(Integer)
    #: ``{"human_tasks": [...], "jobs": [...]}``: the rows as they were (times as ISO text).
    rows: Mapped[dict[str, Any]]
    #: What the owner chose: the element mapping and the timer choices.
    choices: Mapped[dict[str, Any]]
    migrated_at: Mapped[datetime]
    migrated_by: Mapped[str] = mapped_column(String(200))
    reverted_at: Mapped[datetime | None]
    reverted_by: Mapped[str | None] = mapped_column(String(200))
