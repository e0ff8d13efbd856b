"""Process definitions: deploy immutable versions, list them, and find their parsed specs."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, defer

from engine import audit
from engine import bpmn_problems as bp
from engine.actors import Actor
from engine.errors import NO_DEFINITION, NO_SUCH, DefinitionProblem, InvalidDefinition, NotFound, ScriptError
from engine.job_rows import TIMER_START, insert_jobs, job_row
from engine.models import Job, ProcessDefinition
from engine.settings import DefinitionLimits
from engine.spiff import ParsedProcess, ParseFailed, check_bpmn, limit_problems, start_timer_plans

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


def check_definition(engine: CaseEngine, xml: bytes, source: str) -> list[DefinitionProblem]:
    """Every problem deploying ``xml`` would meet, stored nowhere; empty when it can be deployed.

    The checks `deploy_definition` makes, in one place: the size limits, UTF-8, well-formed XML,
    the BPMN 2.0 schema, the structure, every script, condition and timer under the sandbox's
    rules, the task properties (SLA, forms: ``engine.lint_task_properties``), the service
    handlers, the timer start events. A warning (``severity == "warning"``, a user task in no
    lane) is said but does not refuse a deploy. Never raises: any well-formed BPMN 2.0 file, from
    any tool, executable or not, gives its problems, each naming its element; a file that is not
    XML is one problem naming its line.
    """
    try:
        return _examine(engine, xml, source)[0]
    except Exception as exc:  # noqa: BLE001 - a check never fails: what it could not check is a problem
        return [bp.problem(bp.UNEXPECTED, detail=bp.clean(f"{type(exc).__name__}: {exc}"))]


def _examine(engine: CaseEngine, xml: bytes, source: str) -> tuple[list[DefinitionProblem], list[ParsedProcess]]:
    """The problems of ``xml`` and, when none is an error, its executable processes."""
    limits = DefinitionLimits.from_settings(engine.settings)
    if len(xml) > limits.max_kb * 1024:
        kb = -(-len(xml) // 1024)
        return [bp.problem(bp.TOO_LARGE, kb=kb, limit=limits.max_kb, message=f"the file is {kb} KB; at most "
                           f"{limits.max_kb} KB is allowed (engine.max_definition_kb)")], []
    try:
        xml.decode("utf-8")
    except UnicodeDecodeError as exc:
        return [bp.problem(bp.NOT_UTF8, detail=exc.reason, message=f"file is not UTF-8 ({exc.reason})")], []
    try:
        too_large = limit_problems(xml, limits)
    except ParseFailed as exc:
        return exc.problems, []
    if too_large:
        return too_large, []
    problems, processes = check_bpmn(xml, source, property_lint=engine.lint_task_properties,
                                     services=engine.service_handlers)
    if bp.errors(problems):
        return problems, []
    now = engine.clock.now()
    for process in processes:
        try:
            start_timer_plans(engine.sandbox, process.spec, now)
        except ScriptError as exc:  # a StartTimerError names the start event
            element = getattr(exc, "element_id", None)
            problems.append(bp.problem(bp.START_TIMER, element_id=element,
                                       element=process.element_names().get(str(element), str(element)),
                                       detail=bp.clean(exc.message), message=exc.message))
    return problems, ([] if bp.errors(problems) else processes)


def deploy_definition(
    engine: CaseEngine, session: Session, actor: Actor, xml: bytes, source: str,
    note: str | None = None, forms: dict[str, Any] | None = None, forms_as_files: bool = False,
) -> list[Deployment]:
    """Check (`check_definition`) and store BPMN XML; identical XML returns the existing version.

    ``note`` is what the person deploying says of the version; ``forms`` the task forms it is
    deployed with, by form key (kept with the version, so its running cases keep them).
    ``forms_as_files`` says those forms are what the form files hold now, which is what a version
    deployed before forms were kept reads: such a version of the same XML is the same content.

    Raises:
        InvalidDefinition: `check_definition` found errors (its warnings do not refuse); every
            problem names its element (or line).
    """
    problems, processes = _examine(engine, xml, source)
    errors = bp.errors(problems)
    if errors:
        raise InvalidDefinition(source, errors)
    text = xml.decode("utf-8")
    digest = content_digest(xml, forms)
    engine.specs.keep(digest, processes)
    now = engine.clock.now()
    results = []
    for process in processes:
        existing = session.scalars(
            select(ProcessDefinition).where(ProcessDefinition.key == process.key, ProcessDefinition.sha256 == digest)
        ).first()
        if existing is None and forms_as_files:
            # Read in Python: a JSON column's "none" is SQL NULL on older rows and JSON null on newer ones.
            existing = next((row for row in session.scalars(select(ProcessDefinition).where(
                ProcessDefinition.key == process.key, ProcessDefinition.sha256 == content_digest(xml, None)))
                if row.forms is None), None)
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
            note=note,
            forms=forms,
        )
        session.add(definition)
        session.flush()
        audit.record(session, now, actor, "deployed",
                     summary={"key": process.key, "version": definition.version, "sha256": digest, "source": source})
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
        delete(Job).where(Job.kind == TIMER_START, Job.definition_id.in_(older)),
        execution_options={"synchronize_session": False},
    )
    now = engine.clock.now()
    try:
        plans = start_timer_plans(engine.sandbox, process.spec, now)
    except ScriptError as exc:  # a StartTimerError names the start event
        element = getattr(exc, "element_id", None)
        raise InvalidDefinition(source, [DefinitionProblem(exc.message, element_id=element)]) from None
    insert_jobs(session, [
        job_row(TIMER_START, plan.due_at, now, engine.job_settings.max_attempts, definition_id=definition.id,
                task_id=plan.element_id, element_id=plan.element_id,
                payload={"remaining": plan.remaining, "interval_seconds": plan.interval_seconds})
        for plan in plans
    ])


def content_digest(xml: bytes, forms: dict[str, Any] | None) -> str:
    """sha256 of what a version is: its XML and the forms deployed with it.

    The same XML with other forms is other content, so a new version; the same of both returns the
    existing one. Without forms it is the sha256 of the XML alone, as versions before forms were kept.
    """
    digest = hashlib.sha256(xml)
    if forms:
        digest.update(b"\0" + json.dumps(forms, sort_keys=True, ensure_ascii=False).encode("utf-8"))
    return digest.hexdigest()


def list_definitions(engine: CaseEngine, session: Session) -> list[ProcessDefinition]:
    """Every deployed version, by key then version."""
    return list(session.scalars(select(ProcessDefinition).order_by(ProcessDefinition.key, ProcessDefinition.version)))


def _ref(engine: CaseEngine, session: Session, definition_id: int) -> tuple[str, str, int]:
    """(sha256, key, version) of a definition id, read once: definitions never change."""
    ref = engine.definition_refs.get(definition_id)
    if ref is None:
        found = session.execute(
            select(ProcessDefinition.sha256, ProcessDefinition.key, ProcessDefinition.version)
            .where(ProcessDefinition.id == definition_id)
        ).first()
        if found is None:
            raise NotFound(f"no process definition {definition_id}", code=NO_SUCH,
                           params={"what": "definition", "ident": definition_id})
        ref = engine.definition_refs[definition_id] = (found[0], found[1], found[2])
    return ref


def process_for_definition_id(engine: CaseEngine, session: Session, definition_id: int) -> ParsedProcess:
    """The parsed spec of definition ``definition_id``, without reading its XML when cached.

    Raises:
        NotFound: no such definition.
    """
    sha256, key, _ = _ref(engine, session, definition_id)
    cached = engine.specs.get(sha256, key)
    if cached is not None:
        return cached
    definition = session.get(ProcessDefinition, definition_id)
    assert definition is not None
    return parsed_process(engine, definition)


def version_of(engine: CaseEngine, session: Session, definition_id: int) -> int:
    """The version number of definition ``definition_id``."""
    return _ref(engine, session, definition_id)[2]


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
        raise NotFound(f"no process definition with key {key!r} is deployed", code=NO_DEFINITION,
                       params={"process": key, "version": None})
    raise NotFound(f"process {key!r} has no version {version}; deployed versions: {sorted(versions)}",
                   code=NO_DEFINITION, params={"process": key, "version": version})


def _no_problems(_properties: object) -> list[str]:
    return []


def parsed_process(engine: CaseEngine, definition: ProcessDefinition) -> ParsedProcess:
    """The parsed spec of a definition version, from the cache (parsing it on a miss)."""
    cached = engine.specs.get(definition.sha256, definition.key)
    if cached is not None:
        return cached
    # Checked when it was deployed: a form, a setting or a rule changed since must not stop its cases.
    parsed = engine.specs.parse(definition.xml.encode("utf-8"), definition.sha256, definition.key,
                                services=None, property_lint=_no_problems, checked=False)
    for process in parsed:
        if process.key == definition.key:
            return process
    raise NotFound(f"process {definition.key!r} is missing from its own BPMN (version {definition.version})",
                   code=NO_DEFINITION, params={"process": definition.key, "version": definition.version})
