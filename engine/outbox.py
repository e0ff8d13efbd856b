"""Simulated runs: due work run "as if it were" a later time, whose messages are kept, never sent.

A message caused by running due work at a time that has not come yet (an SLA warning, a "late"
escalation, a reminder) is false in real time, so it must never reach a member's or staff's
channel. Inside `simulation`, the engine's sessions carry `SIMULATED` in their ``info``; every
writer of outbox rows takes its status from `new_message_status`, which is ``"simulated"`` there
(senders only take ``"pending"`` rows, so such a row is written, kept as a record, and never
sent), and the drain hooks (the senders) do not run.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session, sessionmaker

if TYPE_CHECKING:
    from engine.context import CaseEngine

#: The key in a session's ``info`` that marks it as part of a simulated run.
SIMULATED = "tawasul.simulated"
#: The status of an outbox row written by a simulated run.
SIMULATED_STATUS = "simulated"


def new_message_status(session: Session) -> str:
    """The status a new outbox row gets: ``"pending"`` (to be sent), or ``"simulated"`` (never sent)."""
    return SIMULATED_STATUS if session.info.get(SIMULATED) else "pending"


@contextmanager
def simulation(engine: CaseEngine) -> Iterator[None]:
    """Within it, ``engine``'s units of work write messages as simulated, and no drain hook sends.

    Meant for an engine of its own (the ``tawasul`` command builds one per run): a web process's
    engine would simulate its requests' messages too while it lasts.
    """
    real_sessions, real_hooks = engine.sessions, engine.drain_hooks
    engine.sessions = sessionmaker(class_=real_sessions.class_,
                                   **{**real_sessions.kw, "info": {**(real_sessions.kw.get("info") or {}),
                                                                   SIMULATED: True}})
    engine.drain_hooks = []
    try:
        yield
    finally:
        engine.sessions, engine.drain_hooks = real_sessions, real_hooks
