"""Scripts a process owner could deploy to escape the sandbox are refused at deploy, naming the
element; scripts that run away are stopped at their element while the server goes on answering
other requests (a real server on 127.0.0.1, /healthz polled during the attack)."""

import hashlib
import json
import threading
import time
import urllib.request
from xml.sax.saxutils import escape

import pytest
from werkzeug.serving import make_server

from engine.actors import SYSTEM
from engine.commands import complete_task, start_instance
from engine.definitions import deploy_definition
from engine.errors import InvalidDefinition
from engine.models import ProcessDefinition
from engine.queries import instance_detail, list_tasks
from tests.reliability.diagrams import END, START, chain, diagram
from web import create_app
from workflows.bootstrap import build


def _script_diagram(key: str, script: str, before: str = "") -> bytes:
    elements = START + before + f'<bpmn:scriptTask id="hostile"><bpmn:script>{escape(script)}</bpmn:script>' \
        "</bpmn:scriptTask>\n" + END
    ids = ["start", *(["enter"] if before else []), "hostile", "end"]
    return diagram(key, elements, chain(*ids))


ESCAPES = [
    ("x = ().__class__.__base__.__subclasses__()", '"__class__" is an invalid attribute name'),
    ("x = [c for c in ().__class__.__mro__]", '"__class__" is an invalid attribute name'),
    ("import os", "import is not allowed in scripts"),
    ("from subprocess import run", "import is not allowed in scripts"),
    ("x = open('/etc/passwd').read()", "open() is not available in scripts"),
    ("x = getattr(1, '__class__')", "getattr() is not available in scripts"),
    ("x = type(1).__subclasses__", "type() is not available in scripts"),
    ("x = __builtins__", '"__builtins__" is an invalid variable name'),
    ("x = __import__('os')", '"__import__" is an invalid variable name'),
    ("def f():\n    yield 1\nx = f().gi_frame.f_globals", '"gi_frame" is a restricted name'),
    ("x = (lambda: 0).__globals__", '"__globals__" is an invalid attribute name'),
    ("x = eval('1')", "Eval calls are not allowed"),
    ("x = vars()", "vars() is not available in scripts"),
    ("class Escape:\n    pass", "class definitions are not allowed in scripts"),
    ("try:\n    pass\nexcept:\n    pass", "a bare 'except:' (or except BaseException) is not allowed"),
    ("datetime = 'poison'", "'datetime' is a name the sandbox provides"),
    ("x = f'{1:>{9}}'", "an f-string format spec must be fixed text"),
]


@pytest.mark.parametrize("script, message", ESCAPES, ids=[f"escape-{n}" for n in range(len(ESCAPES))])
def test_an_escape_is_refused_at_deploy_naming_the_element(engine, script, message):
    with pytest.raises(InvalidDefinition) as refused:
        engine.run(deploy_definition, SYSTEM, _script_diagram("escape", script), "escape.bpmn")
    [problem] = refused.value.problems
    assert (problem.element_id, message in problem.message) == ("hostile", True), problem.message


def test_a_format_string_walk_stops_the_case_at_the_script(engine):
    # Not visible when compiled: the format string is text. Refused when it runs.
    engine.run(deploy_definition, SYSTEM, _script_diagram("walk", "x = '{0.__class__}'.format(1)"), "walk.bpmn")
    row = engine.run(start_instance, SYSTEM, "walk")
    assert row.status == "error"
    error = engine.query(instance_detail, row.id)["error"]
    assert error["element_id"] == "hostile" and "format" in error["message"], error


TOKEN = "reliability-token"
RUNAWAYS = [
    pytest.param("while True:\n    pass", "script ran longer than its time limit of 1000 ms", id="endless"),
    pytest.param("b = 1 << 99000\nfor i in range(60):\n    b = b << 100000\nc = math.isqrt(b)",
                 "<< would make an integer of", id="isqrt-of-a-grown-integer"),
    pytest.param("s = 'x' * 100000\nc = ''.join([s] * 100000)", "join() of 10000000000", id="join"),
    pytest.param("c = '%.1000000000d' % 1", "%-format precision over 10000", id="percent-precision"),
    pytest.param("s = 'x' * 100000\ns = s + s + s + s + s + s + s + s + s + s\nl = []\nwhile True:\n    l.append(s + str(len(l)))", "memory limit of 64 MB",
                 id="memory"),
]


@pytest.fixture
def server(database_url, clock, settings):
    settings = dict(settings, api={"token": TOKEN}, sandbox=dict(settings["sandbox"], time_limit_ms=1000, max_memory_mb=64))
    engine = build(settings, database_url=database_url, clock=clock)
    app = create_app({"TESTING": True, "SECRET_KEY": "reliability"}, engine=engine)
    http = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield engine, f"http://127.0.0.1:{http.server_port}"
    http.shutdown()
    thread.join(timeout=10)
    engine.dispose()


def _call(url, method="GET", body=None):
    request = urllib.request.Request(url, method=method, data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as answer:  # noqa: S310 - 127.0.0.1 only
        return answer.status, json.loads(answer.read() or b"null")


@pytest.mark.parametrize("script, message", RUNAWAYS)
def test_a_runaway_script_stops_at_its_element_while_the_server_answers(server, script, message):
    engine, base = server
    engine.run(deploy_definition, SYSTEM, _script_diagram("runaway", script, '<bpmn:userTask id="enter" />\n'),
               "runaway.bpmn")
    status, started = _call(base + "/api/v1/instances", "POST", {"key": "runaway"})
    assert status == 201
    [task] = _call(base + f"/api/v1/tasks?instance={started['instance_id']}")[1]
    outcome, waits, done = {}, [], threading.Event()

    def complete():
        outcome["answer"] = _call(base + f"/api/v1/tasks/{task['id']}/complete", "POST", {"data": {}})
        done.set()

    attacker = threading.Thread(target=complete)
    attacker.start()
    while not done.is_set():
        asked = time.perf_counter()
        assert _call(base + "/healthz")[0] == 200
        waits.append(time.perf_counter() - asked)
        time.sleep(0.02)
    attacker.join()
    assert outcome["answer"][0] == 200
    error = engine.query(instance_detail, started["instance_id"])["error"]
    assert (error["element_id"], message in error["message"]) == ("hostile", True), error
    # /healthz answered throughout; before the guards the isqrt attack froze every thread for 7.5 s.
    assert waits and max(waits) < 1.0, max(waits)


def test_a_version_deployed_before_a_rule_was_added_still_runs_and_stops_only_at_its_script(engine, clock):
    # `max = 3` was allowed before names the sandbox provides were refused. A version stored then
    # must still load (its cases go on); the script is refused when it runs, at its element.
    xml = _script_diagram("older", "max = 3", '<bpmn:userTask id="enter" />\n')
    with pytest.raises(InvalidDefinition):  # today's deploy refuses it
        engine.run(deploy_definition, SYSTEM, xml, "older.bpmn")
    engine.run(lambda e, s: s.add(ProcessDefinition(
        key="older", version=1, name="older", sha256=hashlib.sha256(xml).hexdigest(), xml=xml.decode(),
        deployed_at=clock.now(), deployed_by="admin")))
    row = engine.run(start_instance, SYSTEM, "older")
    assert row.status == "running"  # it loads: the deploy's rules are not applied again
    [enter] = engine.query(list_tasks, SYSTEM, instance_id=row.id)
    stopped = engine.run(complete_task, SYSTEM, enter.id, {})
    error = engine.query(instance_detail, row.id)["error"]
    assert (stopped.status, error["element_id"]) == ("error", "hostile")
    assert "'max' is a name the sandbox provides" in error["message"]
