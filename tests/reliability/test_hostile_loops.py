"""Loops a process owner could deploy: a case is `completed` only when it reached its end, an
endless loop stops in error at its element, and a long loop keeps working with a stored state
bounded by its open work (SpiffWorkflow alone keeps every finished task, and its task walk stops
at depth 1000)."""

import sys
import time

import pytest
from sqlalchemy import select

from engine.actors import SYSTEM
from engine.commands import complete_task, start_instance
from engine.definitions import deploy_definition
from engine.models import ProcessInstance
from engine.queries import instance_detail, list_tasks
from engine.spiff import runtime
from tests.reliability.diagrams import (
    END,
    REVIEW_IN_SUBPROCESS,
    START,
    chain,
    diagram,
    review_loop,
    script_loop,
    timer,
)
from workflows.bootstrap import build


def _deploy(engine, xml):
    [deployed] = engine.run(deploy_definition, SYSTEM, xml, "loop.bpmn")
    return deployed.key


def _snapshot_bytes(engine, instance_id):
    return engine.query(lambda e, s: len(s.scalar(select(ProcessInstance.snapshot)
                                                  .where(ProcessInstance.id == instance_id))))


def test_a_long_script_loop_in_one_command_reaches_the_task_after_it(engine):
    # 700 turns are 1,400 finished tasks in a row: past SpiffWorkflow's depth of 1000.
    row = engine.run(start_instance, SYSTEM, _deploy(engine, script_loop("counting", "n &lt; 700")))
    assert (row.status, list(row.open_tasks.values())) == ("running", ["after"])
    assert engine.query(instance_detail, row.id)["data"]["n"] == 700


def test_an_endless_loop_is_stopped_in_error_at_its_element(engine):
    key = _deploy(engine, script_loop("endless", "True"))
    row = engine.run(start_instance, SYSTEM, key)
    assert row.status == "error"
    assert engine.query(instance_detail, row.id)["error"] == {
        "element_id": "turn",
        "message": "the case ran 2000 engine steps in one command without waiting for a person or a timer (a loop "
                   "that does not end?); it was stopped here"}
    assert engine.run(start_instance, SYSTEM, _deploy(engine, script_loop("short", "n &lt; 3"))).status == "running"


def test_a_case_that_cannot_reach_its_end_is_never_reported_completed(engine, monkeypatch):
    """Without compaction the tree passes depth 1000, where SpiffWorkflow's walk sees no open task."""
    monkeypatch.setattr(runtime, "_COMPACT_EVERY", 10**9)
    row = engine.run(start_instance, SYSTEM, _deploy(engine, script_loop("deep", "n &lt; 700")))
    assert row.status == "error"
    detail = engine.query(instance_detail, row.id)
    assert detail["error"]["message"] == ("the engine cannot reach this step: the case's history is deeper than "
                                          "SpiffWorkflow can walk (a loop taken too many times)")


def test_a_user_task_done_a_thousand_times_keeps_working_in_a_bounded_state(engine):
    row = engine.run(start_instance, SYSTEM, _deploy(engine, review_loop("reviewing")))
    sizes = {}
    for turn in range(1, 1001):
        [task] = engine.query(list_tasks, SYSTEM, instance_id=row.id)
        state = engine.run(complete_task, SYSTEM, task.id, {"more": turn < 1000, "turn": turn})
        if turn in (10, 999):
            sizes[turn] = _snapshot_bytes(engine, row.id)
    assert state.status == "completed"
    detail = engine.query(instance_detail, row.id)
    assert detail["data"]["turn"] == 1000
    assert sizes[999] <= sizes[10] + 64  # the stored state does not grow with the turns taken
    elements = engine.query(instance_detail, row.id, with_diagram=True)["elements"]
    assert (elements["review"]["done"], elements["again"]["done"]) == (1000, 1000)  # the case page still counts


@pytest.mark.parametrize("gateway", ["parallelGateway", "inclusiveGateway"])
def test_a_loop_through_a_split_and_join_taken_a_thousand_times_waits_for_both_branches_in_a_bounded_state(
        engine, gateway):
    """Before, such a loop kept its joins and their inputs every turn: 470 ms a turn at turn 200 and
    in error at turn 236 (parallel); the inclusive join fired at turn 2 on the first branch back."""
    from tests.reliability.diagrams import parallel_loop

    row = engine.run(start_instance, SYSTEM, _deploy(engine, parallel_loop("both", gateway)))
    sizes = {}
    for turn in range(1, 1001):
        tasks = {t.element_id: t for t in engine.query(list_tasks, SYSTEM, instance_id=row.id)}
        assert sorted(tasks) == ["a", "b"], turn
        # Either branch may finish first: an earlier turn's arrival at the join must not count.
        first, second = ("a", "b") if turn % 3 else ("b", "a")
        state = engine.run(complete_task, SYSTEM, tasks[first].id, {"more": turn < 1000, f"{first}_turn": turn})
        assert list(state.open_tasks.values()) == [second], turn  # the join waits for the other branch
        state = engine.run(complete_task, SYSTEM, tasks[second].id, {"more": turn < 1000, f"{second}_turn": turn})
        if turn in (10, 999):
            sizes[turn] = _snapshot_bytes(engine, row.id)
    assert state.status == "completed"
    assert sizes[999] <= sizes[10] + 64  # the stored state does not grow with the turns taken
    elements = engine.query(instance_detail, row.id, with_diagram=True)["elements"]
    assert (elements["a"]["done"], elements["b"]["done"], elements["join"]["done"]) == (1000, 1000, 1000)


@pytest.mark.parametrize("gateway", ["parallelGateway", "inclusiveGateway"])
def test_a_script_loop_through_a_split_and_join_runs_its_turns_in_one_command(engine, gateway):
    # Before, each turn walked every earlier one: stopped by the 10 s limit at turn 117 (parallel).
    from tests.reliability.diagrams import parallel_script_loop

    row = engine.run(start_instance, SYSTEM, _deploy(engine, parallel_script_loop("scripted", gateway, turns=200)))
    assert (row.status, list(row.open_tasks.values())) == ("running", ["after"])
    data = engine.query(instance_detail, row.id)["data"]
    assert (data["n"], data["b_runs"]) == (200, 200)


def _inclusive_loop_into(after_join: str) -> bytes:
    """An inclusive split into ``a`` and ``b`` (both taken), joined, then ``after_join`` (gateway
    elements between the join and ``again``, ids ``g0``, ``g1`` ...), taken again while ``more``."""
    from tests.reliability.diagrams import _every_branch

    gateways = after_join.split()
    elements = START + '<bpmn:inclusiveGateway id="split" />\n<bpmn:userTask id="a" />\n<bpmn:userTask id="b" />\n'
    elements += '<bpmn:inclusiveGateway id="join" />\n'
    elements += "".join(f'<bpmn:{kind} id="g{n}" />\n' for n, kind in enumerate(gateways))
    elements += '<bpmn:exclusiveGateway id="again" default="out" />\n' + END
    path = ["join", *(f"g{n}" for n in range(len(gateways))), "again"]
    xml = diagram("inclusive_into", elements, [("start", "split"), ("split", "a"), ("split", "b"), ("a", "join"),
                                               ("b", "join"), *chain(*path)])
    return _looping_back(_every_branch(xml.decode(), "inclusiveGateway").encode(), "split")


@pytest.mark.parametrize("after_join", ["parallelGateway", "parallelGateway exclusiveGateway", "inclusiveGateway"])
def test_an_inclusive_join_in_a_loop_leading_into_another_gateway_waits_for_both_branches(engine, after_join):
    """Found by a review: a join whose next element is a gateway was kept as that gateway's input,
    and the inclusive join then took its earlier turn for this one (at turn 2, `b` alone fired it)."""
    engine.run(deploy_definition, SYSTEM, _inclusive_loop_into(after_join), "loop.bpmn")
    row = engine.run(start_instance, SYSTEM, "inclusive_into")
    for turn in range(1, 21):
        tasks = {t.element_id: t for t in engine.query(list_tasks, SYSTEM, instance_id=row.id)}
        assert sorted(tasks) == ["a", "b"], turn
        first, second = ("a", "b") if turn % 2 else ("b", "a")
        state = engine.run(complete_task, SYSTEM, tasks[first].id, {"more": turn < 20, f"{first}{turn}": 1})
        assert list(state.open_tasks.values()) == [second], turn
        state = engine.run(complete_task, SYSTEM, tasks[second].id, {"more": turn < 20, f"{second}{turn}": 1})
    assert state.status == "completed"
    data = engine.query(instance_detail, row.id)["data"]
    assert all(data[f"{branch}{turn}"] == 1 for branch in "ab" for turn in range(1, 21))


def test_a_parallel_loop_after_an_inclusive_block_comes_back_to_its_split_every_turn(engine):
    # The split the loop comes back to has two inputs: the inclusive join before the loop, and the
    # way back. It walks up to a task of each, so the join's first task must stay.
    elements = (START + '<bpmn:inclusiveGateway id="isplit" />\n<bpmn:userTask id="a" />\n<bpmn:userTask id="b" />\n'
                '<bpmn:inclusiveGateway id="ijoin" />\n<bpmn:parallelGateway id="split" />\n<bpmn:userTask id="c" />\n'
                '<bpmn:userTask id="d" />\n<bpmn:parallelGateway id="join" />\n'
                '<bpmn:exclusiveGateway id="again" default="out" />\n' + END)
    xml = diagram("block_then_loop", elements, [("start", "isplit"), ("isplit", "a"), ("isplit", "b"), ("a", "ijoin"),
                                                ("b", "ijoin"), ("ijoin", "split"), ("split", "c"), ("split", "d"),
                                                ("c", "join"), ("d", "join"), ("join", "again")]).decode()
    xml = xml.replace('sourceRef="isplit" targetRef="a" />', 'sourceRef="isplit" targetRef="a"><bpmn:conditionExpression>'
                      "True</bpmn:conditionExpression></bpmn:sequenceFlow>")
    xml = xml.replace('sourceRef="isplit" targetRef="b" />', 'sourceRef="isplit" targetRef="b"><bpmn:conditionExpression>'
                      "True</bpmn:conditionExpression></bpmn:sequenceFlow>")
    engine.run(deploy_definition, SYSTEM, _looping_back(xml.encode(), "split"), "loop.bpmn")
    row = engine.run(start_instance, SYSTEM, "block_then_loop")
    for element in "ab":
        [task] = [t for t in engine.query(list_tasks, SYSTEM, instance_id=row.id) if t.element_id == element]
        engine.run(complete_task, SYSTEM, task.id, {"more": True})
    for turn in range(1, 21):
        tasks = {t.element_id: t for t in engine.query(list_tasks, SYSTEM, instance_id=row.id)}
        assert sorted(tasks) == ["c", "d"], turn
        engine.run(complete_task, SYSTEM, tasks["c"].id, {"more": turn < 20})
        state = engine.run(complete_task, SYSTEM, tasks["d"].id, {"more": turn < 20})
    assert state.status == "completed"


def _repeated(characteristics: str) -> str:
    return f'<bpmn:userTask id="review">{characteristics}</bpmn:userTask>\n'


@pytest.mark.parametrize("element, per_turn, called, counted", [
    (REVIEW_IN_SUBPROCESS, 1, False, "review"),
    ('<bpmn:callActivity id="sub" calledElement="child" />\n', 1, True, "c_task"),
    (_repeated('<bpmn:multiInstanceLoopCharacteristics isSequential="false"><bpmn:loopCardinality>2'
               "</bpmn:loopCardinality></bpmn:multiInstanceLoopCharacteristics>"), 2, False, None),
    (_repeated('<bpmn:multiInstanceLoopCharacteristics isSequential="true"><bpmn:loopCardinality>2'
               "</bpmn:loopCardinality></bpmn:multiInstanceLoopCharacteristics>"), 2, False, None),
    (_repeated('<bpmn:standardLoopCharacteristics loopMaximum="2" />'), 2, False, None),
], ids=["subprocess", "call-activity", "parallel-instances", "sequential-instances", "standard-loop"])
def test_a_loop_through_a_subprocess_or_a_repeated_task_keeps_a_bounded_state(engine, element, per_turn, called,
                                                                              counted):
    """Before, each turn kept its finished subprocess (with all its tasks) or its finished instances:
    about 300 bytes more stored state a turn, and each completion slower."""
    element_id = "sub" if "sub" in element else "review"
    xml = diagram("again_and_again", START + element + '<bpmn:exclusiveGateway id="again" default="out" />\n' + END,
                  chain("start", element_id, "again"))
    xml = _looping_back(xml, element_id)
    if called:
        xml = xml.replace(b"</bpmn:definitions>", _CHILD + b"</bpmn:definitions>")
    engine.run(deploy_definition, SYSTEM, xml, "loop.bpmn")
    row = engine.run(start_instance, SYSTEM, "again_and_again")
    turns, sizes = 300, {}
    for turn in range(1, turns + 1):
        for _ in range(per_turn):
            [task, *_others] = engine.query(list_tasks, SYSTEM, instance_id=row.id)
            state = engine.run(complete_task, SYSTEM, task.id, {"more": turn < turns, "turn": turn})
        if turn < turns:
            assert len(state.open_tasks) == (2 if "isSequential=\"false\"" in element else 1), turn
        if turn in (10, turns - 1):
            sizes[turn] = _snapshot_bytes(engine, row.id)
    assert state.status == "completed"
    assert engine.query(instance_detail, row.id)["data"]["turn"] == turns
    assert sizes[turns - 1] <= sizes[10] + 64  # the stored state does not grow with the turns taken
    elements = engine.query(instance_detail, row.id, with_diagram=True)["elements"]
    assert elements["again"]["done"] == turns
    if counted:
        assert elements[counted]["done"] == turns  # the case page still counts the tasks inside


def _looping_back(xml: bytes, target: str) -> bytes:
    loop = (f'<bpmn:sequenceFlow id="back" sourceRef="again" targetRef="{target}"><bpmn:conditionExpression>more'
            '</bpmn:conditionExpression></bpmn:sequenceFlow>\n'
            '<bpmn:sequenceFlow id="out" sourceRef="again" targetRef="end" />\n')
    return xml.replace(b"</bpmn:process>", loop.encode() + b"</bpmn:process>", 1)


def test_an_hourly_reminder_for_two_weeks_keeps_the_task_open_and_the_state_bounded(engine, clock):
    from tests.reliability.diagrams import waiting_task_with_reminder
    from tests.support.jobs import fire_due_timers

    row = engine.run(start_instance, SYSTEM, _deploy(engine, waiting_task_with_reminder("reminding", '"R/PT1H"')))
    for hour in range(1, 337):
        clock.advance(hours=1, seconds=1)
        fire_due_timers(engine)
        if hour == 10:
            tenth = _snapshot_bytes(engine, row.id)
    assert [t.element_id for t in engine.query(list_tasks, SYSTEM, instance_id=row.id)] == ["wait_for_member"]
    elements = engine.query(instance_detail, row.id, with_diagram=True)["elements"]
    assert elements["note_reminder"]["done"] == 336
    assert _snapshot_bytes(engine, row.id) <= tenth + 64  # the 336th reminder costs what the 10th did


# -- the time a command may spend on engine steps -------------------------------------------------


@pytest.fixture
def impatient(database_url, clock, settings):
    """An engine whose commands may run engine steps for one second."""
    engine = build(dict(settings, engine=dict(settings["engine"], max_seconds_per_command=1)),
                   database_url=database_url, clock=clock)
    yield engine
    engine.dispose()


def test_steps_too_costly_each_stop_the_case_at_the_time_limit_before_the_step_limit(impatient):
    # Each turn busy-loops ~50 ms inside its own time limit: 2,000 steps would hold the command 100 s.
    xml = script_loop("slow", "True").replace(b"n = n + 1", b"n = n + 1\nk = 0\nwhile k &lt; 150000:\n    k += 1")
    started = time.monotonic()
    row = impatient.run(start_instance, SYSTEM, _deploy(impatient, xml))
    held = time.monotonic() - started
    assert row.status == "error"
    error = impatient.query(instance_detail, row.id)["error"]
    # The slow turn is what passes the deadline (the gateway after it takes microseconds).
    assert error["element_id"] == "turn"
    assert error["message"].startswith("the case ran engine steps for over 1 seconds in one command (")
    assert held < 5, held  # stopped near its one second, not after 2,000 steps
    assert impatient.run(start_instance, SYSTEM, _deploy(impatient, script_loop("quick", "n &lt; 3"))).status == \
        "running"


def _fan_out(key: str, characteristics: str) -> bytes:
    """A user task ``enter``, then a parallel multi-instance script task ``each``, then the end."""
    return diagram(key, START + '<bpmn:userTask id="enter" />\n'
                   + f'<bpmn:scriptTask id="each"><bpmn:multiInstanceLoopCharacteristics>{characteristics}'
                   + "</bpmn:multiInstanceLoopCharacteristics><bpmn:script>x = 1</bpmn:script></bpmn:scriptTask>\n"
                   + END, chain("start", "enter", "each", "end"))


_FROM_THE_DATA = {
    "cardinality": ("<bpmn:loopCardinality>count</bpmn:loopCardinality>", lambda n: {"count": n},
                    "the cardinality is {n} items"),
    "collection": ('<bpmn:loopDataInputRef>people</bpmn:loopDataInputRef><bpmn:inputDataItem id="person" />',
                   lambda n: {"people": list(range(n))}, "the collection 'people' holds {n} items"),
}


@pytest.mark.parametrize("source", list(_FROM_THE_DATA))
def test_thousands_of_parallel_instances_from_the_data_are_refused_at_the_task(engine, source):
    # A count from the case's data is not known at deploy (a literal one past the limit is refused
    # there). Before, SpiffWorkflow created all 3,000 and walked every one at each step: 7.7 s to
    # reach the step limit.
    characteristics, data, wording = _FROM_THE_DATA[source]
    key = _deploy(engine, _fan_out(f"fan_out_{source}", characteristics))
    row = engine.run(start_instance, SYSTEM, key)
    [enter] = engine.query(list_tasks, SYSTEM, instance_id=row.id)
    started = time.monotonic()
    stopped = engine.run(complete_task, SYSTEM, enter.id, data(3000))
    held = time.monotonic() - started
    assert stopped.status == "error"
    assert engine.query(instance_detail, row.id)["error"] == {
        "element_id": "each",
        "message": wording.format(n=3000) + ": at most 100 instances of a multi-instance task may run in parallel "
                                            "(engine.max_branches)"}
    assert held < 1, held  # refused before any instance is made
    # Up to the limit, they run.
    row = engine.run(start_instance, SYSTEM, key)
    [enter] = engine.query(list_tasks, SYSTEM, instance_id=row.id)
    assert engine.run(complete_task, SYSTEM, enter.id, data(100)).status == "completed"


def test_thousands_of_parallel_instances_allowed_by_the_settings_stop_at_the_time_limit(database_url, clock,
                                                                                        settings):
    # With engine.max_branches raised, the command's time limit still bounds what they cost.
    impatient = build(dict(settings, engine=dict(settings["engine"], max_seconds_per_command=1, max_branches=5000)),
                      database_url=database_url, clock=clock)
    try:
        row = impatient.run(start_instance, SYSTEM, _deploy(impatient, _fan_out("fan_out", _FROM_THE_DATA[
            "cardinality"][0])))
        [enter] = impatient.query(list_tasks, SYSTEM, instance_id=row.id)
        started = time.monotonic()
        stopped = impatient.run(complete_task, SYSTEM, enter.id, {"count": 3000})
        held = time.monotonic() - started
        error = impatient.query(instance_detail, row.id)["error"]
        assert (stopped.status, error["element_id"]) == ("error", "each"), error
        assert "engine steps for over 1 seconds in one command" in error["message"]
        assert held < 5, held
    finally:
        impatient.dispose()


# -- compaction and joins -------------------------------------------------------------------------


def _split(key: str, gateway: str, branches: int) -> bytes:
    """A parallel split into ``branches`` user tasks, joined by a ``gateway``."""
    return diagram(key, START + '<bpmn:parallelGateway id="split" />\n'
                   + "".join(f'<bpmn:userTask id="part{n}" />\n' for n in range(branches))
                   + f'<bpmn:{gateway} id="join" />\n' + END,
                   [("start", "split"), *(("split", f"part{n}") for n in range(branches)),
                    *((f"part{n}", "join") for n in range(branches)), ("join", "end")])


@pytest.mark.parametrize("gateway", ["parallelGateway", "inclusiveGateway"])
@pytest.mark.parametrize("branches, order", [(3, "forward"), (3, "backward"), (10, "forward"), (10, "shuffled")])
def test_a_split_joined_again_reaches_its_end_whatever_order_its_branches_finish(engine, gateway, branches, order):
    # A parallel join counts the branches that reached it by their (cancelled) join tasks: taking
    # an earlier arrival out as a finished side branch left the join waiting for ever, the case
    # `running` with nothing open, from three branches up.
    row = engine.run(start_instance, SYSTEM, _deploy(engine, _split(f"split_{branches}", gateway, branches)))
    parts = {task.element_id: task.id for task in engine.query(list_tasks, SYSTEM, instance_id=row.id)}
    names = [f"part{n}" for n in range(branches)]
    names = {"forward": names, "backward": names[::-1], "shuffled": names[1::2] + names[::2]}[order]
    for done, name in enumerate(names, 1):
        row = engine.run(complete_task, SYSTEM, parts[name], {name: done})
        assert sorted(row.open_tasks.values()) == sorted(names[done:])
    detail = engine.query(instance_detail, row.id)
    assert (detail["status"], detail.get("error")) == ("completed", None)
    assert {key: detail["data"][key] for key in names} == {name: done for done, name in enumerate(names, 1)}


def test_a_join_waiting_for_a_branch_that_ended_elsewhere_puts_the_case_in_error(engine):
    # A modelling slip: one branch of a parallel split may leave for the end, so the join waits
    # for ever. SpiffWorkflow keeps the case running with nothing open; the engine says so.
    xml = diagram("deadlock", START + '<bpmn:parallelGateway id="split" />\n<bpmn:userTask id="a" />\n'
                  + '<bpmn:userTask id="b" />\n<bpmn:exclusiveGateway id="which" default="to_join" />\n'
                  + '<bpmn:parallelGateway id="join" />\n<bpmn:endEvent id="early_end" />\n' + END,
                  [("start", "split"), ("split", "a"), ("split", "b"), ("a", "join"), ("b", "which"),
                   ("join", "end")]).decode()
    flows = ('<bpmn:sequenceFlow id="to_join" sourceRef="which" targetRef="join" />\n'
             '<bpmn:sequenceFlow id="leave" sourceRef="which" targetRef="early_end">'
             "<bpmn:conditionExpression>leave</bpmn:conditionExpression></bpmn:sequenceFlow>\n")
    row = engine.run(start_instance, SYSTEM, _deploy(engine, xml.replace("</bpmn:process>", flows + "</bpmn:process>")
                                                     .encode()))
    tasks = {task.element_id: task.id for task in engine.query(list_tasks, SYSTEM, instance_id=row.id)}
    assert engine.run(complete_task, SYSTEM, tasks["a"], {}).status == "running"  # the join waits for b: fine
    stopped = engine.run(complete_task, SYSTEM, tasks["b"], {"leave": True})
    assert stopped.status == "error"
    assert engine.query(instance_detail, row.id)["error"] == {
        "element_id": "join",
        "message": "the case cannot go on: this join waits for a branch that can no longer reach it (it ended "
                   "elsewhere or was never taken), and nothing else is open or waits"}


def test_a_parallel_loop_past_what_the_engine_can_follow_stops_in_error_naming_an_element(engine, monkeypatch):
    # Without compaction the loop grows the tree a few levels a turn, and SpiffWorkflow's joins walk
    # it by recursion: with Python's recursion limit at 350 the case stops within a few dozen turns.
    from tests.reliability.diagrams import parallel_loop

    monkeypatch.setattr(runtime, "compact", lambda workflow, keep=(): [])
    row = engine.run(start_instance, SYSTEM, _deploy(engine, parallel_loop("deepening")))
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(350)
    try:
        for _turn in range(200):
            tasks = {t.element_id: t.id for t in engine.query(list_tasks, SYSTEM, instance_id=row.id)}
            if sorted(tasks) != ["a", "b"]:
                break
            engine.run(complete_task, SYSTEM, tasks["a"], {"more": True})
            state = engine.run(complete_task, SYSTEM, tasks["b"], {"more": True})
    finally:
        sys.setrecursionlimit(limit)
    assert state.status == "error"
    error = engine.query(instance_detail, row.id)["error"]
    assert error["message"] == ("the case's history is too deep for the engine to follow (a loop through a parallel "
                                "or inclusive gateway taken a few hundred times?); it was stopped here")
    assert error["element_id"] == "join", error  # where the engine last got to


def test_the_same_join_waiting_inside_a_subprocess_puts_the_case_in_error(engine):
    # The subprocess itself is under way while its join waits: it lives only through its tasks.
    inner = ('<bpmn:subProcess id="sub"><bpmn:startEvent id="sub_start" /><bpmn:parallelGateway id="split" />'
             '<bpmn:userTask id="a" /><bpmn:userTask id="b" /><bpmn:exclusiveGateway id="which" default="to_join" />'
             '<bpmn:parallelGateway id="join" /><bpmn:endEvent id="early_end" /><bpmn:endEvent id="sub_end" />'
             + "".join(f'<bpmn:sequenceFlow id="{i}" sourceRef="{a}" targetRef="{b}" />'
                       for i, a, b in [("s1", "sub_start", "split"), ("s2", "split", "a"), ("s3", "split", "b"),
                                       ("s4", "a", "join"), ("s5", "b", "which"), ("to_join", "which", "join"),
                                       ("s6", "join", "sub_end")])
             + '<bpmn:sequenceFlow id="leave" sourceRef="which" targetRef="early_end">'
             "<bpmn:conditionExpression>leave</bpmn:conditionExpression></bpmn:sequenceFlow></bpmn:subProcess>\n")
    row = engine.run(start_instance, SYSTEM, _deploy(engine, diagram("sub_deadlock", START + inner + END,
                                                                     chain("start", "sub", "end"))))
    tasks = {task.element_id: task.id for task in engine.query(list_tasks, SYSTEM, instance_id=row.id)}
    assert engine.run(complete_task, SYSTEM, tasks["a"], {}).status == "running"
    assert engine.run(complete_task, SYSTEM, tasks["b"], {"leave": True}).status == "error"
    assert engine.query(instance_detail, row.id)["error"]["element_id"] == "join"


def _join_beside(key: str, elements: str, ids: list[str], extra: bytes = b"") -> bytes:
    """A parallel split into ``ids`` (a chain) and two scripts, joined: the join waits while ``ids`` do."""
    flows = [("start", "split"), ("split", ids[0]), *chain(*ids), (ids[-1], "join"), ("join", "end")]
    scripts = ""
    for n in range(2):
        scripts += f'<bpmn:scriptTask id="s{n}"><bpmn:script>x{n} = 1</bpmn:script></bpmn:scriptTask>\n'
        flows += [("split", f"s{n}"), (f"s{n}", "join")]
    xml = diagram(key, START + '<bpmn:parallelGateway id="split" />\n<bpmn:parallelGateway id="join" />\n'
                  + elements + scripts + END, flows)
    return xml.replace(b"</bpmn:definitions>", extra + b"</bpmn:definitions>")


_HOUR = timer("timeDuration", '"PT1H"')
_SUB_TIMER = ('<bpmn:subProcess id="sub"><bpmn:startEvent id="sub_start" /><bpmn:intermediateCatchEvent id="pause">'
              + _HOUR + '</bpmn:intermediateCatchEvent><bpmn:endEvent id="sub_end" />'
              '<bpmn:sequenceFlow id="f1" sourceRef="sub_start" targetRef="pause" />'
              '<bpmn:sequenceFlow id="f2" sourceRef="pause" targetRef="sub_end" /></bpmn:subProcess>\n')
_CHILD = (b'<bpmn:process id="child" isExecutable="true"><bpmn:startEvent id="c_start" /><bpmn:userTask id="c_task" />'
          b'<bpmn:endEvent id="c_end" /><bpmn:sequenceFlow id="c1" sourceRef="c_start" targetRef="c_task" />'
          b'<bpmn:sequenceFlow id="c2" sourceRef="c_task" targetRef="c_end" /></bpmn:process>')


@pytest.mark.parametrize("elements, ids, extra, waiting", [
    ('<bpmn:intermediateCatchEvent id="pause">' + _HOUR + "</bpmn:intermediateCatchEvent>\n", ["pause"], b"",
     "timer"),
    ('<bpmn:intermediateCatchEvent id="pause"><bpmn:messageEventDefinition messageRef="m1" />'
     "</bpmn:intermediateCatchEvent>\n", ["pause"], b'<bpmn:message id="m1" name="m1" />', "message"),
    (_SUB_TIMER, ["sub"], b"", "timer"),
    ('<bpmn:callActivity id="call" calledElement="child" />\n', ["call"], _CHILD, "task"),
], ids=["timer", "message", "timer-in-subprocess", "call-activity"])
def test_a_join_waiting_beside_other_waiting_work_is_not_an_error(engine, elements, ids, extra, waiting):
    engine.run(deploy_definition, SYSTEM, _join_beside("beside", elements, ids, extra), "beside.bpmn")
    row = engine.run(start_instance, SYSTEM, "beside")
    detail = engine.query(instance_detail, row.id)
    assert (row.status, detail.get("error")) == ("running", None)
    if waiting == "task":
        assert [t.element_id for t in engine.query(list_tasks, SYSTEM, instance_id=row.id)] == ["c_task"]
