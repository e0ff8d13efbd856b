"""Child processes of the tests (workers, servers): stopped the same way everywhere."""

from __future__ import annotations

import subprocess


def stop(process: subprocess.Popen, seconds: float = 30) -> None:
    """Ask ``process`` to stop (SIGTERM), then kill it if it has not within ``seconds``."""
    if process.poll() is None:
        process.terminate()
        try:
            process.communicate(timeout=seconds)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
