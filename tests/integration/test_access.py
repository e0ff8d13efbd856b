"""The lane rule, once: who may work on a task in Python (a task in hand) and in SQL (every list
of tasks) give the same answer for every kind of task and person."""

import itertools

from sqlalchemy import select

from engine.access import may_work, visible_condition
from engine.actors import SYSTEM, Actor
from engine.commands import start_instance
from engine.models import HumanTask, ProcessInstance

LANES = (None, "reception", "committee")
GROUPS = (None, "reception", "committee", "supervisor")
ASSIGNEES = (None, "rana", "omar")
ACTORS = (
    Actor.user("rana", ["reception"]),
    Actor.user("omar", ["committee"]),
    Actor.user("sami", ["supervisor"], may_assign=True),
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
                    if may_work(actor, lane, group, assignee)}
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
