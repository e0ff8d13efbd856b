"""Every `tawasul` example in the README works as written, in order, on a fresh demo database.

The examples are the lines of the README's ``sh`` blocks that start with ``tawasul`` or
``.venv/bin/tawasul``. They run in a temporary folder that looks like the checkout (``bpmn/`` and
``docs/`` linked in), on the test's database and frozen clock (2026-12-01), through the same
`web.cli.main` the console script calls. The README's two placeholders are filled as it says:
``ID`` with the ``instance_id`` the ``start`` line printed, ``TASK_ID`` with the ``id`` of the first
task ``tasks --instance ID`` lists. The long-running ones (``worker``, ``serve``) are started as
real processes, checked to be up, and stopped; ``serve`` gets a free port instead of 5000.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PREFIXES = ("tawasul", ".venv/bin/tawasul")
LONG_RUNNING = {"worker", "serve"}


def readme_examples() -> list[str]:
    """The README's `tawasul` command lines, in order."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"^```sh\n(.*?)^```", text, re.M | re.S)
    return [line.strip() for block in blocks for line in block.splitlines()
            if line.strip().split(" ", 1)[0] in PREFIXES]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _run_long(argv: list[str], database_url: str) -> str:
    """Start a long-running command as a real process, see it come up, stop it; what it printed."""
    env = dict(os.environ, TAWASUL_DATABASE_URL=database_url)
    env.pop("TAWASUL_TEST_DATABASE_URL", None)
    port = None
    if argv[0] == "serve":
        port = _free_port()
        argv = [str(port) if a == "5000" else a for a in argv]
    process = subprocess.Popen([sys.executable, "-m", "web.cli", *argv], cwd=ROOT, env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, f"{argv} stopped: {process.communicate()[1]}"
            if port is None:
                line = process.stdout.readline()  # the worker announces itself in one JSON line
                return line
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                    return response.read().decode()
            except OSError:
                assert time.monotonic() < deadline, f"{argv} did not answer"
                time.sleep(0.2)
    finally:
        process.terminate()
        process.communicate(timeout=20)


def test_the_readme_examples_are_all_there():
    examples = readme_examples()
    words = {word for example in examples for word in shlex.split(example, comments=True)}
    assert len(examples) >= 20 and {"init", "deploy", "demo", "--reset", "start", "tasks", "claim", "complete",
                                    "run-due", "--simulate", "calendar", "import", "backup", "worker",
                                    "serve"} <= words


def test_every_readme_example_works_as_written_on_the_demo_database(run_cli, database_url, tmp_path, monkeypatch):
    for name in ("bpmn", "docs"):
        (tmp_path / name).symlink_to(ROOT / name)
    monkeypatch.chdir(tmp_path)
    values: dict[str, str] = {}
    outputs: dict[str, object] = {}
    for example in readme_examples():
        argv = shlex.split(example, comments=True)[1:]
        argv = [values.get(a, a) for a in argv]
        argv = [match for a in argv for match in (sorted(glob.glob(a)) if "*" in a else [a])]
        if argv[0] in LONG_RUNNING:
            printed = _run_long(argv, database_url)
            assert printed.strip().startswith("{"), (example, printed)
            continue
        code, out, err = run_cli(*argv)
        assert code == 0, f"{example}\n  exit {code}: {err}"
        result = json.loads(out) if out.strip() else None
        outputs[" ".join(argv[:2])] = result
        if argv[0] == "start":
            values["ID"] = str(result["instance_id"])
        if argv[:2] == ["tasks", "--instance"] and "TASK_ID" not in values:
            values["TASK_ID"] = result[0]["id"]
    # What the examples promise in their comments.
    assert outputs["demo --reset"]["reset"] is True
    assert outputs["calendar add"] == {"due": "2026-10-04"}
    simulated = [r for k, r in outputs.items() if k == "jobs run-due" and r.get("simulated")]
    assert simulated and simulated[0]["messages"], "the simulated run shows the messages it would have sent"
    assert (tmp_path / "tawasul-backup.tar").is_file()
    assert {"ID", "TASK_ID"} <= set(values)
