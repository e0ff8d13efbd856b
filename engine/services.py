"""Service tasks: named Python handlers that diagrams call, inside the command's transaction.

A diagram names a handler with SpiffWorkflow's service-task operator::

    <spiffworkflow:serviceTaskOperator id="notify_member" resultVariable="notice">
      <spiffworkflow:parameters>
        <spiffworkflow:parameter id="template" type="str" value="'request_received'" />
      </spiffworkflow:parameters>
    </spiffworkflow:serviceTaskOperator>

The domain registers handlers (`CaseEngine.register_service`); each receives a `ServiceCall`
with the session of the running command, so what it writes (an outbox message, a membership
number) commits or rolls back with the step that caused it. Handlers must be idempotent: a
retried instance runs its failed service task again.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from engine.actors import Actor

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from engine.context import CaseEngine


@dataclass
class ServiceScope:
    """What a handler may use of the command that runs it."""

    engine: CaseEngine
    session: Session
    actor: Actor
    instance_id: int
    now: datetime


@dataclass
class ServiceCall:
    """One call of a handler: the scope, the calling element, its data and parameters."""

    scope: ServiceScope
    element_id: str
    data: dict[str, Any]
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def session(self) -> Session:
        """The running command's session (write with it; never commit)."""
        return self.scope.session

    @property
    def instance_id(self) -> int:
        """The instance the service task belongs to."""
        return self.scope.instance_id

    @property
    def now(self) -> datetime:
        """The time of the running command."""
        return self.scope.now


_scope: contextvars.ContextVar[ServiceScope | None] = contextvars.ContextVar("tawasul_service_scope", default=None)


@contextmanager
def service_scope(scope: ServiceScope) -> Iterator[None]:
    """Make ``scope`` the one service tasks run in, for the duration of the block."""
    token = _scope.set(scope)
    try:
        yield
    finally:
        _scope.reset(token)


def current_scope() -> ServiceScope | None:
    """The scope of the running command, if any."""
    return _scope.get()
