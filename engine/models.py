"""The engine's tables: definitions, instances, open human tasks, jobs, audit events.

Model classes are singular, tables plural; ``*_at`` columns hold aware UTC datetimes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
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

    Rows exist only while the task is open; the audit log keeps the history.
    """

    __tablename__ = "human_tasks"
    __table_args__ = (
        Index("ix_human_tasks_lane_due_at", "lane", "due_at"),
        Index("ix_human_tasks_assignee_due_at", "assignee", "due_at"),
        Index("ix_human_tasks_instance_id", "instance_id"),
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
    due_at: Mapped[datetime | None]
    priority: Mapped[int] = mapped_column(Integer, default=50)
    #: The JSON Schema form file of the task (``bpmn/forms/<form_key>``), if any.
    form_key: Mapped[str | None] = mapped_column(String(200))


class Job(Base):
    """Work due at a time: a waiting timer (and, later, warnings, escalations, retries).

    Written in the same transaction as the step that leaves the timer waiting and removed in
    the transaction that ends the timer's scope.
    """

    __tablename__ = "jobs"
    __table_args__ = (
        Index(
            "ix_jobs_due_pending",
            "due_at",
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
        Index("ix_jobs_instance_id", "instance_id"),
        UniqueConstraint("instance_id", "task_id", "kind", name="uq_jobs_instance_task_kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: What to do when due: ``timer`` fires a waiting BPMN timer.
    kind: Mapped[str] = mapped_column(String(40))
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id", ondelete="CASCADE"))
    #: The SpiffWorkflow task the job belongs to (the waiting timer event).
    task_id: Mapped[str] = mapped_column(String(36))
    element_id: Mapped[str] = mapped_column(String(200))
    due_at: Mapped[datetime]
    #: pending, running, or incident (retries exhausted).
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=5)
    lock_owner: Mapped[str | None] = mapped_column(String(200))
    lock_expires_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]


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
