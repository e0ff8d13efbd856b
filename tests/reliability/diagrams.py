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
