"""Running due work at a given time: never later than the clock, unless it is a simulation.

``tawasul jobs run-due --now T`` runs what is due at T. With T in the future that would fire
SLA warnings and "late" escalations, and send their messages, for tasks that are on time: a
message false in real time. So a T later than the clock is refused, unless the run is a
simulation: then the jobs run (the cases move on as if it were T: for a test or demo database
only, which is why a database holding real data refuses it), and every message they cause is
written to the outbox as ``simulated`` (never sent by anyone; see `engine.outbox`) and returned,
to be printed and logged instead. The outbox is not sent during a simulation at all: a pending
real message must not go out early at T either.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from engine import jobs
from engine.errors import Conflict, InvalidInput
from engine.models import OutboxMessage
from engine.outbox import SIMULATED_STATUS, simulation
from workflows.notifications import message_text
from workflows.read.demo import demo_state

if TYPE_CHECKING:
    from engine.context import CaseEngine

log = logging.getLogger("tawasul.simulation")


def run_due_work(engine: CaseEngine, now: datetime | None = None, simulate: bool = False) -> dict[str, Any]:
    """Run every job due at ``now`` (default: the clock), then send the outbox; or simulate it.

    Not run inside a unit of work: it opens one per job, as a worker does.

    Raises:
        InvalidInput: ``now`` is later than the clock and this is not a simulation.
        Conflict: a simulation on a database that holds real (not demo) data.
    """
    clock_now = engine.clock.now()
    if not simulate:
        if now is not None and now > clock_now:
            raise InvalidInput(
                f"--now {now.isoformat()} is later than the clock ({clock_now.isoformat(timespec='seconds')}): "
                "running due work as if it were then would send members and staff messages that are not true "
                "yet (tasks on time called late). Add --simulate to run it with every message written to the "
                "log instead of sent (on a test or demo database)")
        report = jobs.run_due_jobs(engine, now)
        return _counts(report)
    state = engine.query(demo_state)
    if state["state"] == "other":
        raise Conflict("--simulate moves cases on as if it were --now, and this database holds real data ("
                       + "; ".join(state["reasons"]) + "): simulate on a copy (tawasul backup, then restore "
                       "into a test database)")
    before = engine.query(lambda e, s: s.scalar(select(func.max(OutboxMessage.id))) or 0)
    with simulation(engine):
        report = jobs.run_due_jobs(engine, now or clock_now)
    messages = engine.query(_simulated_since, before)
    for message in messages:
        log.warning("simulated, not sent: %(kind)s to %(recipient)s by %(channel)s: %(subject)s", message)
    return {**_counts(report), "simulated": True, "at": (now or clock_now).isoformat(), "messages": messages}


def _counts(report: Any) -> dict[str, Any]:
    return {"fired": report.fired, "ran": report.ran, "failed": report.failed, "incidents": report.incidents}


def _simulated_since(engine: CaseEngine, session: Any, after_id: int) -> list[dict[str, Any]]:
    rows = session.scalars(select(OutboxMessage).where(OutboxMessage.id > after_id,
                                                       OutboxMessage.status == SIMULATED_STATUS)
                           .order_by(OutboxMessage.id))
    messages = []
    for row in rows:
        try:
            channel, subject, body = message_text(row)
        except KeyError as exc:
            channel, subject, body = (row.payload or {}).get("channel", "email"), row.kind, str(exc)
        messages.append({"id": row.id, "kind": row.kind, "recipient": row.recipient, "channel": channel,
                         "subject": subject, "body": body})
    return messages
