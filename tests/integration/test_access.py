"""The lane rule, once: who may see a task in Python (a task in hand) and in SQL (every list of
tasks) give the same answer for every kind of task and person; a supervisor sees every lane but
works only on what is theirs."""

import itertools

import pytest
from sqlalchemy import select

from engine.access import may_see, may_work, visible_condition
from engine.actors import SYSTEM, Actor
from engine.commands import assign_task, claim_task, complete_task, start_instance
from engine.errors import Forbidden
from engine.models import HumanTask, ProcessInstance

LANES = (None, "reception", "committee")
GROUPS = (None, "reception", "committee", "supervisor")
ASSIGNEES = (None, "rana", "omar")
ACTORS = (
    Actor.user("rana", ["reception"]),
    Actor.user("omar", ["committee"]),
    Actor.user("sami", ["supervisor"], may_assign=True),
    Actor.user("huda", ["supervisor"], may_assign=True, oversees_all=True),
    Actor.user("nobody"),
    SYSTEM,
)


def test_python_and_sql_agree_on_who_may_work_on_what(engine, deploy, clock):
    deploy("review")
    row = engine.run(start_instance, SYSTEM, "review", data={"request_no": 1})
    combinations = list(itertools.product(LANES, GROUPS, ASSIGNEES))
    with engine.unit_of_work() as uow:
        assert uow.session.get(ProcessInstance, row.id) is not None
        for number, (lane, group, assignee) in enumerate(combinations):
            uow.session.add(HumanTask(id=f"t-{number}", instance_id=row.id, element_id="x", name="x", lane=lane,
                                      candidate_group=group, assignee=assignee, created_at=clock.now(), priority=50))
        uow.commit()
    for actor in ACTORS:
        expected = {f"t-{n}" for n, (lane, group, assignee) in enumerate(combinations)
                    if may_see(actor, lane, group, assignee)}
        query = select(HumanTask.id).where(HumanTask.id.like("t-%"))
        condition = visible_condition(actor)
        if condition is not None:
            query = query.where(condition)
        seen = set(engine.query(lambda e, s, q=query: s.scalars(q).all()))
        assert seen == expected, actor.name
    # The rule itself, spelled out for one person.
    rana = ACTORS[0]
    assert may_work(rana, "reception", "reception", None) and may_work(rana, None, None, None)
    assert may_work(rana, "committee", "committee", "rana")  # assigned to her by a supervisor
    assert may_work(rana, "committee", "reception", None)  # offered to her group
    assert not may_work(rana, "committee", "committee", None)
    # Seeing is working for everyone but the overseeing supervisor, who sees every task.
    huda = ACTORS[3]
    assert all(may_see(huda, *c) for c in combinations)
    assert not may_work(huda, "committee", "committee", None) and may_work(huda, "committee", "committee", "huda")
    for actor in ACTORS[:3] + ACTORS[4:]:
        assert all(may_see(actor, *c) == may_work(actor, *c) for c in combinations), actor.name


def test_a_supervisor_sees_another_lanes_task_and_works_on_it_only_once_it_is_theirs(engine, deploy):
    deploy("review")
    engine.run(start_instance, SYSTEM, "review", data={"request_no": 1})
    [task] = engine.query(lambda e, s: s.scalars(select(HumanTask)).all())
    huda = Actor.user("huda", ["supervisor"], may_assign=True, oversees_all=True)
    assert task.lane not in huda.lanes
    with pytest.raises(Forbidden):
        engine.run(complete_task, huda, task.id, {})
    engine.run(claim_task, huda, task.id)
    engine.run(complete_task, huda, task.id, {})
    assert engine.query(lambda e, s: s.get(HumanTask, task.id)) is None
    # Assigning to oneself is the other way to make a task one's own.
    engine.run(start_instance, SYSTEM, "review", data={"request_no": 2})
    [second] = engine.query(lambda e, s: s.scalars(select(HumanTask)).all())
    engine.run(assign_task, huda, second.id, "huda")
    engine.run(complete_task, huda, second.id, {})
