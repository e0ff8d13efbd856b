"""Timers a process owner could deploy that would keep a case firing for ever: refused at deploy
when the value is written in the diagram, and put in error naming the element when it comes
from the case's data, with the database free for everyone else."""

import pytest

from engine.actors import SYSTEM
from engine.commands import complete_task, start_instance
from engine.definitions import deploy_definition
from engine.errors import InvalidDefinition
from engine.queries import instance_detail, list_tasks
from tests.reliability.diagrams import END, START, chain, diagram, timer, waiting_task_with_reminder


def _refusal(engine, xml):
    with pytest.raises(InvalidDefinition) as refused:
        engine.run(deploy_definition, SYSTEM, xml, "hostile.bpmn")
    return [(p.element_id, p.message) for p in refused.value.problems]


@pytest.mark.parametrize("cycle, seconds", [('"R/PT0S"', "0"), ('"R5/P0D"', "0"), ('"R/PT30S"', "30")])
def test_a_cycle_that_cannot_advance_is_refused_at_deploy(engine, cycle, seconds):
    assert _refusal(engine, waiting_task_with_reminder("spin", cycle)) == [(
        "remind", f"timer cycle {cycle.strip(chr(34))!r} repeats every {seconds} seconds; a cycle's period must be "
                  "at least 60 seconds (PT1M)")]


def test_an_hourly_reminder_cycle_deploys(engine):
    [deployed] = engine.run(deploy_definition, SYSTEM, waiting_task_with_reminder("hourly", '"R/PT1H"'), "ok.bpmn")
    assert (deployed.key, deployed.version) == ("hourly", 1)


@pytest.mark.parametrize("cycle", ['"R1000000/PT1S"', '"R3/PT1H"'])
def test_a_cycle_on_an_intermediate_event_is_refused(engine, cycle):
    xml = diagram("repeats", START + '<bpmn:intermediateCatchEvent id="pause">' + timer("timeCycle", cycle)
                  + "</bpmn:intermediateCatchEvent>\n" + END, chain("start", "pause", "end"))
    assert _refusal(engine, xml) == [("pause", "a timer cycle repeats, which BPMN allows only on a start event or a "
                                               "boundary event; on this event use a duration (PT1H) or a date-time")]


def test_a_cycle_from_the_data_that_cannot_advance_puts_the_case_in_error(engine):
    xml = diagram("from_data", START + '<bpmn:userTask id="enter" />\n'
                  + '<bpmn:userTask id="wait_for_member" />\n'
                  + '<bpmn:boundaryEvent id="remind" attachedToRef="wait_for_member" cancelActivity="false">'
                  + timer("timeCycle", "every") + "</bpmn:boundaryEvent>\n"
                  + '<bpmn:endEvent id="reminder_sent" />\n' + END,
                  [*chain("start", "enter", "wait_for_member", "end"), ("remind", "reminder_sent")])
    engine.run(deploy_definition, SYSTEM, xml, "from_data.bpmn")
    row = engine.run(start_instance, SYSTEM, "from_data")
    [enter] = engine.query(list_tasks, SYSTEM, instance_id=row.id)
    stopped = engine.run(complete_task, SYSTEM, enter.id, {"every": "R/PT0S"})
    assert stopped.status == "error"
    error = engine.query(instance_detail, row.id)["error"]
    assert (error["element_id"], error["message"]) == (
        "remind", "timer cycle 'R/PT0S' repeats every 0 seconds; a cycle's period must be at least 60 seconds (PT1M)")
    other = engine.run(start_instance, SYSTEM, "from_data")  # the database is not held
    assert other.status == "running"
