"""Small BPMN diagrams built in code, for the hostile corpus: one process, the elements given."""

from __future__ import annotations

_HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n'
         '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
         'id="Definitions_{key}" targetNamespace="http://tawasul.example/bpmn">\n'
         '<bpmn:process id="{key}" name="{key}" isExecutable="true">\n')
_TAIL = "</bpmn:process>\n</bpmn:definitions>\n"


def diagram(key: str, elements: str, flows: list[tuple[str, str]]) -> bytes:
    """A process ``key`` of ``elements`` (XML) joined by sequence flows ``(source, target)``."""
    joined = "".join(f'<bpmn:sequenceFlow id="flow_{n}" sourceRef="{a}" targetRef="{b}" />\n'
                     for n, (a, b) in enumerate(flows))
    return (_HEAD.format(key=key) + elements + joined + _TAIL).encode()


def timer(kind: str, expression: str) -> str:
    """A timer event definition: ``kind`` is timeCycle, timeDuration or timeDate."""
    return f"<bpmn:timerEventDefinition><bpmn:{kind}>{expression}</bpmn:{kind}></bpmn:timerEventDefinition>"


def chain(*ids: str) -> list[tuple[str, str]]:
    """Flows from each element to the next."""
    return list(zip(ids, ids[1:], strict=False))


START = '<bpmn:startEvent id="start" />\n'
END = '<bpmn:endEvent id="end" />\n'


def waiting_task_with_reminder(key: str, cycle_expression: str) -> bytes:
    """A user task with a non-interrupting boundary timer cycle that sends a reminder."""
    return diagram(key, START
                   + '<bpmn:userTask id="wait_for_member" name="Wait for the member" />\n'
                   + '<bpmn:boundaryEvent id="remind" attachedToRef="wait_for_member" cancelActivity="false">'
                   + timer("timeCycle", cycle_expression) + "</bpmn:boundaryEvent>\n"
                   + '<bpmn:scriptTask id="note_reminder"><bpmn:script>reminded = True</bpmn:script></bpmn:scriptTask>\n'
                   + '<bpmn:endEvent id="reminder_sent" />\n' + END,
                   [*chain("start", "wait_for_member", "end"), *chain("remind", "note_reminder", "reminder_sent")])


def _looping(key: str, elements: str, flows: list[tuple[str, str]], back: tuple[str, str], condition: str,
             out: tuple[str, str]) -> bytes:
    """``elements`` with a gateway ``back[0]`` that goes back to ``back[1]`` while ``condition``."""
    xml = diagram(key, elements, flows).decode()
    loop = (f'<bpmn:sequenceFlow id="back" sourceRef="{back[0]}" targetRef="{back[1]}">'
            f"<bpmn:conditionExpression>{condition}</bpmn:conditionExpression></bpmn:sequenceFlow>\n"
            f'<bpmn:sequenceFlow id="out" sourceRef="{out[0]}" targetRef="{out[1]}" />\n')
    return xml.replace("</bpmn:process>", loop + "</bpmn:process>").encode()


def script_loop(key: str, condition: str) -> bytes:
    """A script that counts ``n`` up while ``condition`` holds, then a user task ``after``."""
    return _looping(key, START + '<bpmn:scriptTask id="init"><bpmn:script>n = 0</bpmn:script></bpmn:scriptTask>\n'
                    + '<bpmn:scriptTask id="turn"><bpmn:script>n = n + 1</bpmn:script></bpmn:scriptTask>\n'
                    + '<bpmn:exclusiveGateway id="again" default="out" />\n<bpmn:userTask id="after" />\n' + END,
                    [*chain("start", "init", "turn", "again"), ("after", "end")], ("again", "turn"), condition,
                    ("again", "after"))


def review_loop(key: str) -> bytes:
    """A user task ``review`` done again while its data says ``more``."""
    return _looping(key, START + '<bpmn:userTask id="review" />\n<bpmn:exclusiveGateway id="again" default="out" />\n'
                    + END, chain("start", "review", "again"), ("again", "review"), "more", ("again", "end"))


def parallel_loop(key: str, gateway: str = "parallelGateway") -> bytes:
    """Two user tasks in parallel (``a``, ``b``) between a split and a join of kind ``gateway``,
    taken again while the data says ``more``: the split is where the loop comes back to."""
    xml = _looping(key, START + f'<bpmn:{gateway} id="split" />\n<bpmn:userTask id="a" />\n'
                   + f'<bpmn:userTask id="b" />\n<bpmn:{gateway} id="join" />\n'
                   + '<bpmn:exclusiveGateway id="again" default="out" />\n' + END,
                   [("start", "split"), ("split", "a"), ("split", "b"), ("a", "join"), ("b", "join"),
                    ("join", "again")], ("again", "split"), "more", ("again", "end")).decode()
    return _every_branch(xml, gateway).encode()


#: An embedded subprocess ``sub`` holding a user task ``review``.
REVIEW_IN_SUBPROCESS = ('<bpmn:subProcess id="sub"><bpmn:startEvent id="sub_start" /><bpmn:userTask id="review" />'
                        '<bpmn:endEvent id="sub_end" /><bpmn:sequenceFlow id="s1" sourceRef="sub_start" '
                        'targetRef="review" /><bpmn:sequenceFlow id="s2" sourceRef="review" targetRef="sub_end" />'
                        '</bpmn:subProcess>\n')


def subprocess_loop(key: str) -> bytes:
    """The subprocess ``sub`` (`REVIEW_IN_SUBPROCESS`), taken again while the data says ``more``."""
    return _looping(key, START + REVIEW_IN_SUBPROCESS + '<bpmn:exclusiveGateway id="again" default="out" />\n' + END,
                    chain("start", "sub", "again"), ("again", "sub"), "more", ("again", "end"))


def parallel_script_loop(key: str, gateway: str, turns: int) -> bytes:
    """Two scripts between a split and a join of kind ``gateway``, ``turns`` times in one command,
    then a user task ``after``; ``b`` counts its runs in ``b_runs``."""
    xml = _looping(key, START + '<bpmn:scriptTask id="init"><bpmn:script>n = 0\nb_runs = 0</bpmn:script>'
                   + f'</bpmn:scriptTask>\n<bpmn:{gateway} id="split" />\n'
                   + '<bpmn:scriptTask id="a"><bpmn:script>a_ran = True</bpmn:script></bpmn:scriptTask>\n'
                   + '<bpmn:scriptTask id="b"><bpmn:script>b_runs = b_runs + 1</bpmn:script></bpmn:scriptTask>\n'
                   + f'<bpmn:{gateway} id="join" />\n'
                   + '<bpmn:scriptTask id="turn"><bpmn:script>n = n + 1</bpmn:script></bpmn:scriptTask>\n'
                   + '<bpmn:exclusiveGateway id="again" default="out" />\n<bpmn:userTask id="after" />\n' + END,
                   [("start", "init"), ("init", "split"), ("split", "a"), ("split", "b"), ("a", "join"),
                    ("b", "join"), ("join", "turn"), ("turn", "again"), ("after", "end")],
                   ("again", "split"), f"n &lt; {turns}", ("again", "after")).decode()
    return _every_branch(xml, gateway).encode()


def _every_branch(xml: str, gateway: str) -> str:
    """An inclusive split's flows to ``a`` and ``b`` given the condition ``True``: both are taken."""
    if gateway == "inclusiveGateway":
        for branch in "ab":
            xml = xml.replace(f'sourceRef="split" targetRef="{branch}" />',
                              f'sourceRef="split" targetRef="{branch}"><bpmn:conditionExpression>True'
                              "</bpmn:conditionExpression></bpmn:sequenceFlow>")
    return xml


def script_chain(key: str, length: int) -> bytes:
    """``length`` script tasks one after another (``s0`` ... ), each setting ``n`` to its number."""
    ids = [f"s{i}" for i in range(length)]
    return diagram(key, START + "".join(f'<bpmn:scriptTask id="{each}"><bpmn:script>n = {i}</bpmn:script>'
                                        "</bpmn:scriptTask>\n" for i, each in enumerate(ids)) + END,
                   chain("start", *ids, "end"))


def parallel_split(key: str, branches: int, splits: int = 1) -> bytes:
    """``splits`` parallel splits one after another, each of ``branches`` script tasks joined again;
    the task ``b<split>_<branch>`` sets ``seen_<split>_<branch>``."""
    elements, flows, previous = START, [], "start"
    for s in range(splits):
        elements += f'<bpmn:parallelGateway id="split_{s}" />\n<bpmn:parallelGateway id="join_{s}" />\n'
        flows.append((previous, f"split_{s}"))
        for b in range(branches):
            elements += (f'<bpmn:scriptTask id="b{s}_{b}"><bpmn:script>seen_{s}_{b} = True</bpmn:script>'
                         "</bpmn:scriptTask>\n")
            flows += [(f"split_{s}", f"b{s}_{b}"), (f"b{s}_{b}", f"join_{s}")]
        previous = f"join_{s}"
    flows.append((previous, "end"))
    return diagram(key, elements + END, flows)


def with_doctype(xml: bytes, doctype: str) -> bytes:
    """``xml`` with ``doctype`` (a DOCTYPE declaration) after its XML declaration."""
    head, _, rest = xml.partition(b"\n")
    return head + b"\n" + doctype.encode() + b"\n" + rest


def user_task_process(key: str) -> bytes:
    """The smallest process that waits: start, a user task ``task``, end."""
    return diagram(key, START + '<bpmn:userTask id="task" name="Task" />\n' + END, chain("start", "task", "end"))
