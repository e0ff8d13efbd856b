"""Who acts: a user name and the BPMN lanes they may work in."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Actor:
    """Someone (or something) issuing a command.

    Attributes:
        name: the user name recorded in the audit log and used as assignee.
        lanes: the BPMN lanes (candidate groups) the actor may work in.
        all_lanes: True for the built-in ``system`` user, who may act on every lane.
        may_assign: True for supervisors: may assign, reassign and unclaim others' tasks.
        oversees_all: True for supervisors: may see every lane's open tasks and claim any of them,
            but work on one only once it is theirs (claimed or assigned).
        roles: the roles of the person, as the layer above the engine names them (the engine
            itself goes by lanes; the domain checks roles for what is not a task).
    """

    name: str
    lanes: frozenset[str] = field(default_factory=frozenset)
    all_lanes: bool = False
    may_assign: bool = False
    roles: frozenset[str] = field(default_factory=frozenset)
    oversees_all: bool = False

    @classmethod
    def user(cls, name: str, lanes: Iterable[str] = (), may_assign: bool = False, roles: Iterable[str] = (),
             oversees_all: bool = False) -> Actor:
        """A staff member holding ``lanes``."""
        return cls(name=name, lanes=frozenset(lanes), may_assign=may_assign, roles=frozenset(roles),
                   oversees_all=oversees_all)

    def holds(self, lane: str | None) -> bool:
        """True when the actor may work on a task of ``lane`` (tasks with no lane are open to all)."""
        return self.all_lanes or lane is None or lane in self.lanes

    def has_role(self, *roles: str) -> bool:
        """True when the actor has one of ``roles``; the built-in system user has them all."""
        return self.all_lanes or bool(self.roles.intersection(roles))


#: The built-in user the CLI and the job runner act as: every lane, may assign.
SYSTEM = Actor(name="system", all_lanes=True, may_assign=True)
