"""Process definitions: deploy immutable versions, list them, and find their parsed specs."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, defer

from engine.actors import Actor
from engine.errors import DefinitionProblem, InvalidDefinition, NotFound, ScriptError
from engine.models import AuditEvent, Job, ProcessDefinition
from engine.spiff import ParsedProcess, start_timer_plans

if TYPE_CHECKING:
    from engine.context import CaseEngine


@dataclass
class Deployment:
    """The outcome of deploying one process of a file."""

    key: str
    version: int
    sha256: str
    created: bool

    def as_dict(self) -> dict[str, object]:
        """Return the JSON the CLI prints."""
        return {"key": self.key, "version": self.version, "sha256": self.sha256, "created": self.created}


def deploy_definition(
    engine: CaseEngine, session: Session, actor: Actor, xml: bytes, source: str
) -> list[Deployment]:
    """Validate, lint and store BPMN XML; identical XML returns the existing version.

    Raises:
        InvalidDefinition: the file is malformed, fails the XSD, or has a script, condition or
            timer expression the sandbox refuses; every problem names its element (or line).
    """
    try:
        text = xml.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidDefinition(source, [DefinitionProblem(f"file is not UTF-8 ({exc.reason})")]) from None
    digest = hashlib.sha256(xml).hexdigest()
    processes = engine.specs.parse(xml, digest, source, services=engine.runtime.services,
                                   property_lint=engine.lint_task_properties)
    now = engine.clock.now()
    results = []
    for process in processes:
        existing = session.scalars(
            select(ProcessDefinition).where(ProcessDefinition.key == process.key, ProcessDefinition.sha256 == digest)
        ).first()
        if existing is not None:
            results.append(Deployment(process.key, existing.version, digest, created=False))
            continue
        latest = session.scalar(
            select(func.max(ProcessDefinition.version)).where(ProcessDefinition.key == process.key)
        )
        definition = ProcessDefinition(
            key=process.key,
            version=(latest or 0) + 1,
            name=process.name,
            sha256=digest,
            xml=text,
            deployed_at=now,
            deployed_by=actor.name,
        )
        session.add(definition)
        session.flush()
        session.add(
            AuditEvent(
                at=now,
                actor=actor.name,
                action="deployed",
                summary={"key": process.key, "version": definition.version, "sha256": digest, "source": source},
            )
        )
        _schedule_start_timers(engine, session, definition, process, source)
        results.append(Deployment(process.key, definition.version, digest, created=True))
    session.flush()
    return results


def _schedule_start_timers(
    engine: CaseEngine, session: Session, definition: ProcessDefinition, process: ParsedProcess, source: str
) -> None:
    """A new version replaces the timer start events of the older ones (as in Camunda)."""
    older = select(ProcessDefinition.id).where(
        ProcessDefinition.key == definition.key, ProcessDefinition.id != definition.id
    )
    session.execute(
        delete(Job).where(Job.kind == "timer_start", Job.definition_id.in_(older)),
        execution_options={"synchronize_session": False},
    )
    now = engine.clock.now()
    try:
        plans = start_timer_plans(engine.sandbox, process, now)
    except ScriptError as exc:
        raise InvalidDefinition(source, [DefinitionProblem(exc.message)]) from None
    for plan in plans:
        session.add(
            Job(
                kind="timer_start",
                instance_id=None,
                definition_id=definition.id,
                task_id=plan.element_id,
                element_id=plan.element_id,
                due_at=plan.due_at,
                status="pending",
                attempts=0,
                max_attempts=engine.job_settings.max_attempts,
                payload={"remaining": plan.remaining, "interval_seconds": plan.interval_seconds},
                created_at=now,
            )
        )
        engine.announce_job(session, plan.due_at)
    session.flush()


def scheduled_starts(engine: CaseEngine, session: Session) -> list[dict[str, object]]:
    """The pending timer start events: process, element and next start."""
    rows = session.execute(
        select(Job, ProcessDefinition.key, ProcessDefinition.version)
        .join(ProcessDefinition, ProcessDefinition.id == Job.definition_id)
        .where(Job.kind == "timer_start")
        .order_by(Job.due_at)
    )
    return [
        {"key": key, "version": version, "element_id": job.element_id, "due_at": job.due_at.isoformat(),
         "remaining": job.payload.get("remaining", 0), "status": job.status}
        for job, key, version in rows
    ]


def list_definitions(engine: CaseEngine, session: Session) -> list[ProcessDefinition]:
    """Every deployed version, by key then version."""
    return list(session.scalars(select(ProcessDefinition).order_by(ProcessDefinition.key, ProcessDefinition.version)))


def process_for_definition_id(engine: CaseEngine, session: Session, definition_id: int) -> ParsedProcess:
    """The parsed spec of definition ``definition_id``, without reading its XML when cached.

    Definitions never change, so which (sha256, key) an id stands for is remembered for good.
    """
    ref = engine.definition_refs.get(definition_id)
    if ref is None:
        found = session.execute(
            select(ProcessDefinition.sha256, ProcessDefinition.key).where(ProcessDefinition.id == definition_id)
        ).first()
        if found is None:
            raise NotFound(f"no process definition {definition_id}")
        ref = engine.definition_refs[definition_id] = (found[0], found[1])
    cached = engine.specs.get(*ref)
    if cached is not None:
        return cached
    definition = session.get(ProcessDefinition, definition_id)
    assert definition is not None
    return parsed_process(engine, definition)


def find_definition(session: Session, key: str, version: int | None = None) -> ProcessDefinition:
    """The version ``version`` of ``key``, or its latest version.

    Raises:
        NotFound: no such key or version (the message lists the versions there are).
    """
    query = select(ProcessDefinition).options(defer(ProcessDefinition.xml)).where(ProcessDefinition.key == key)
    if version is not None:
        found = session.scalars(query.where(ProcessDefinition.version == version)).first()
    else:
        found = session.scalars(query.order_by(ProcessDefinition.version.desc()).limit(1)).first()
    if found is not None:
        return found
    versions = list(session.scalars(select(ProcessDefinition.version).where(ProcessDefinition.key == key)))
    if not versions:
        raise NotFound(f"no process definition with key {key!r} is deployed")
    raise NotFound(f"process {key!r} has no version {version}; deployed versions: {sorted(versions)}")


def parsed_process(engine: CaseEngine, definition: ProcessDefinition) -> ParsedProcess:
    """The parsed spec of a definition version, from the cache (parsing it on a miss)."""
    cached = engine.specs.get(definition.sha256, definition.key)
    if cached is not None:
        return cached
    for process in engine.specs.parse(definition.xml.encode("utf-8"), definition.sha256, definition.key):
        if process.key == definition.key:
            return process
    raise NotFound(f"process {definition.key!r} is missing from its own BPMN (version {definition.version})")
