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

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from engine.actors import Actor
from engine.errors import ScriptError
from engine.spiff import ServiceDispatcher

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


def dispatcher(scope: ServiceScope) -> ServiceDispatcher:
    """What runs the service tasks a command reaches: each handler inside a savepoint.

    A handler that fails (a unique constraint, say) undoes only its own writes and leaves the
    command's transaction usable, so the instance can go to error cleanly.
    """

    def dispatch(name: str, element_id: str, data: dict[str, Any], params: dict[str, Any]) -> Any:
        handler = scope.engine.service_handlers.get(name)
        if handler is None:
            raise ScriptError(f"no service handler named {name!r} is registered")
        with scope.session.begin_nested():
            return handler(ServiceCall(scope=scope, element_id=element_id, data=data, params=params))

    return dispatch
