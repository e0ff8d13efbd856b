"""The heat map of a process version: on each user task, its live tokens, waiting and working times, breaches.

From the task history (`engine.models.TaskRecord`) of that version and its open tasks
(`engine.models.HumanTask` of its instances):

* **live tokens**: the open tasks at the element now (how many are still unclaimed);
* **waiting time** (unclaimed): ``opened_at`` → ``first_claimed_at``, or → ``closed_at`` when the
  task was never claimed; **working time** (claimed): ``first_claimed_at`` → ``closed_at``. Both of
  tasks a person completed (``outcome == "completed"``): a cancelled or interrupted task was not
  waited on or worked to its end. Median and 90th percentile (linear between the nearest ranks),
  in hours and in working days on the society's calendar (working days after the first day, up to
  and including the last, as deadlines count them);
* **breach rate**: records whose deadline was missed (``deadline_met`` false) over those that had a
  deadline to meet (``deadline_met`` not null), with a band the page colours and words.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from lxml import etree
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from engine.actors import Actor
from engine.errors import NO_DEFINITION, NotFound
from engine.models import HumanTask, ProcessDefinition, ProcessInstance, TaskRecord
from workflows.accounts import require_role
from workflows.models import Member, ServiceRequest
from workflows.read.definitions import english_names_of_version, process_names
from workflows.read.figures import WorkingDayCount, as_day, local_day, percentile

if TYPE_CHECKING:
    from engine.context import CaseEngine

BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
#: The elements the heat map measures: the tasks people do.
HUMAN_TASKS = (BPMN + "userTask", BPMN + "manualTask")
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
#: Open cases listed per element (the count says how many more there are).
OPEN_CASES_SHOWN = 50
#: Breach-rate bands, lowest first: (band, rate below which it applies). ``none``: no deadline history.
BANDS = (("met", 0.0), ("low", 0.10), ("medium", 0.25))


def band(rate: float | None) -> str:
    """The colour band of a breach rate: none (no task with a deadline), met (0), low, medium or high."""
    if rate is None:
        return "none"
    if rate == 0:
        return "met"
    for name, below in BANDS[1:]:
        if rate < below:
            return name
    return "high"


def human_tasks_of(xml: str) -> list[dict[str, str]]:
    """The user and manual tasks of a diagram, in the order drawn in the file: id and name."""
    try:
        root = etree.fromstring(xml.encode("utf-8"), _PARSER)
    except etree.XMLSyntaxError:
        return []
    return [{"element_id": element.get("id"), "name": (element.get("name") or element.get("id")).strip()}
            for element in root.iter(*HUMAN_TASKS) if element.get("id")]


def processes(engine: CaseEngine, session: Session, actor: Actor) -> list[dict[str, Any]]:
    """Every deployed process: key, names (Arabic, English), versions, and its open tasks now.

    Raises:
        Forbidden: not a supervisor or administrator.
    """
    require_role(actor, "supervisor", "administrator")
    names = process_names(engine, session)
    versions: dict[str, list[int]] = defaultdict(list)
    for key, version in session.execute(select(ProcessDefinition.key, ProcessDefinition.version)
                                        .order_by(ProcessDefinition.key, ProcessDefinition.version)):
        versions[key].append(version)
    open_tasks = dict(session.execute(
        select(ProcessDefinition.key, func.count(HumanTask.id))
        .join(ProcessInstance, ProcessInstance.definition_id == ProcessDefinition.id)
        .join(HumanTask, HumanTask.instance_id == ProcessInstance.id)
        .group_by(ProcessDefinition.key)).all())
    return [{"key": key, "names": names.get(key, {"ar": key, "en": key}), "versions": found,
             "latest": found[-1], "open_tasks": open_tasks.get(key, 0)} for key, found in versions.items()]


def heatmap(engine: CaseEngine, session: Session, actor: Actor, key: str, version: int | None = None) -> dict[str, Any]:
    """The heat map of process ``key`` at ``version`` (default: its latest).

    Returns the version's XML, its versions, one entry per human task (figures and band) and the
    open cases at each task (oldest first, at most `OPEN_CASES_SHOWN` each, with how many there are).

    Raises:
        Forbidden: not a supervisor or administrator. NotFound: no such process or version.
    """
    require_role(actor, "supervisor", "administrator")
    versions = list(session.scalars(select(ProcessDefinition.version).where(ProcessDefinition.key == key)
                                    .order_by(ProcessDefinition.version)))
    if not versions:
        raise NotFound(f"process {key!r} is not deployed", code=NO_DEFINITION, params={"process": key, "version": None})
    chosen = versions[-1] if version is None else version
    definition = session.scalars(select(ProcessDefinition).where(ProcessDefinition.key == key,
                                                                 ProcessDefinition.version == chosen)).first()
    if definition is None:
        raise NotFound(f"process {key!r} has no version {chosen}", code=NO_DEFINITION,
                       params={"process": key, "version": chosen})
    english = english_names_of_version(session, definition.id)
    tasks = human_tasks_of(definition.xml)
    known = {task["element_id"] for task in tasks}
    figures = _history_figures(engine, session, key, chosen)
    live, open_cases = _open_work(session, definition.id)
    # A task the history or the open work has but the diagram no longer draws is still listed.
    for element in sorted((set(figures) | set(live)) - known):
        tasks.append({"element_id": element, "name": figures.get(element, {}).get("name") or element})
    for task in tasks:
        element = task["element_id"]
        found = figures.get(element) or _empty_figures()
        task["name_en"] = english.get(element) or task["name"]
        task["live"], task["live_unclaimed"] = live.get(element, (0, 0))
        task["waiting"], task["working"] = found["waiting"], found["working"]
        for figure in ("breached", "with_deadline", "closed"):
            task[figure] = found[figure]
        task["breach_rate"] = found["breached"] / found["with_deadline"] if found["with_deadline"] else None
        task["band"] = band(task["breach_rate"])
        task["open_cases"] = open_cases.get(element, [])
    names = process_names(engine, session).get(key, {"ar": key, "en": key})
    return {"key": key, "version": chosen, "versions": versions, "definition_id": definition.id,
            "names": names, "xml": definition.xml, "tasks": tasks}


def _empty_figures() -> dict[str, Any]:
    empty = {"count": 0, "median_hours": None, "p90_hours": None, "median_days": None, "p90_days": None}
    return {"waiting": dict(empty), "working": dict(empty), "breached": 0, "with_deadline": 0, "closed": 0,
            "name": None}


def _summary(hours: list[float], days: list[float]) -> dict[str, Any]:
    return {"count": len(hours), "median_hours": percentile(hours, 0.5), "p90_hours": percentile(hours, 0.9),
            "median_days": percentile(days, 0.5), "p90_days": percentile(days, 0.9)}


def _seconds(session: Session, start: Any, end: Any) -> Any:
    """SQL for the seconds from ``start`` to ``end`` (two UTC timestamp columns)."""
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", end - start)
    return (func.julianday(end) - func.julianday(start)) * 86400.0  # SQLite: naive UTC text


def _history_figures(engine: CaseEngine, session: Session, key: str, version: int) -> dict[str, dict[str, Any]]:
    """Per element: waiting and working time of completed tasks, breaches over tasks with a deadline.

    Grouped in SQL (by the minute for hours, by pairs of local days for working days), so the
    history of a busy process is read as a few thousand rows, not one per task.
    """
    of_version = (TaskRecord.process_key == key, TaskRecord.process_version == version)
    figures: dict[str, dict[str, Any]] = defaultdict(_empty_figures)
    for element, name, closed, with_deadline, breached in session.execute(
            select(TaskRecord.element_id, func.max(TaskRecord.name), func.count(TaskRecord.id),
                   func.count(TaskRecord.deadline_met),
                   func.sum(case((TaskRecord.deadline_met.is_(False), 1), else_=0)))
            .where(*of_version).group_by(TaskRecord.element_id)):
        entry = figures[element]
        entry.update(name=name, closed=closed, with_deadline=with_deadline or 0, breached=int(breached or 0))
    calendar = engine.calendars.get()
    days = WorkingDayCount(calendar)
    completed = (*of_version, TaskRecord.outcome == "completed")
    spans = {"waiting": (TaskRecord.opened_at, func.coalesce(TaskRecord.first_claimed_at, TaskRecord.closed_at), ()),
             "working": (TaskRecord.first_claimed_at, TaskRecord.closed_at, (TaskRecord.first_claimed_at.isnot(None),))}
    for measure, (start, end, where) in spans.items():
        hours: dict[str, list[float]] = defaultdict(list)
        minutes = func.round(_seconds(session, start, end) / 60.0)
        for element, length, count in session.execute(
                select(TaskRecord.element_id, minutes, func.count()).where(*completed, *where)
                .group_by(TaskRecord.element_id, minutes)):
            hours[element].extend([max(float(length or 0), 0.0) / 60] * count)
        worked: dict[str, list[float]] = defaultdict(list)
        first, last = local_day(session, start, calendar.tz), local_day(session, end, calendar.tz)
        for element, first_day, last_day, count in session.execute(
                select(TaskRecord.element_id, first, last, func.count()).where(*completed, *where)
                .group_by(TaskRecord.element_id, first, last)):
            worked[element].extend([float(max(days.between(as_day(first_day), as_day(last_day)), 0))] * count)
        for element, values in hours.items():
            figures[element][measure] = _summary(values, worked[element])
    return dict(figures)


def _open_work(session: Session, definition_id: int) -> tuple[dict[str, tuple[int, int]], dict[str, list[dict]]]:
    """Open tasks of the version's instances: (open, unclaimed) per element, and the oldest cases at each."""
    live: dict[str, tuple[int, int]] = {}
    for element, count, unclaimed in session.execute(
            select(HumanTask.element_id, func.count(HumanTask.id),
                   func.sum(case((HumanTask.assignee.is_(None), 1), else_=0)))
            .join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
            .where(ProcessInstance.definition_id == definition_id).group_by(HumanTask.element_id)):
        live[element] = (count, int(unclaimed or 0))
    rank = func.row_number().over(partition_by=HumanTask.element_id,
                                  order_by=(HumanTask.created_at, HumanTask.id)).label("rank")
    ranked = (select(HumanTask.element_id, HumanTask.instance_id, HumanTask.created_at, HumanTask.due_at,
                     HumanTask.assignee, rank)
              .join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
              .where(ProcessInstance.definition_id == definition_id).subquery())
    rows = session.execute(
        select(ranked.c.element_id, ranked.c.instance_id, ranked.c.created_at, ranked.c.due_at, ranked.c.assignee,
               ServiceRequest.reference, Member.name_ar, Member.name_en)
        .outerjoin(ServiceRequest, ServiceRequest.instance_id == ranked.c.instance_id)
        .outerjoin(Member, Member.id == ServiceRequest.member_id)
        .where(ranked.c.rank <= OPEN_CASES_SHOWN)
        .order_by(ranked.c.element_id, ranked.c.rank))
    cases: dict[str, list[dict]] = defaultdict(list)
    for element, instance_id, opened, due, assignee, reference, name_ar, name_en in rows:
        cases[element].append({"instance_id": instance_id, "opened_at": opened, "due_at": due,
                               "claimed": assignee is not None, "reference": reference,
                               "member": {"ar": name_ar, "en": name_en or name_ar} if name_ar else None})
    return live, dict(cases)
