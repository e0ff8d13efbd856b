"""Words for the codes the engine records: audit actions, task outcomes, case states, the diagram legend.

One mapping each, so a page never shows ``task_opened`` or ``running``; a test checks every action
the engine and the domain record (found in their code) has a label here in both languages.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from flask_babel import gettext as _
from flask_babel import pgettext

#: Each audit action as the case history names it.
ACTIONS: dict[str, Callable[[], str]] = {
    "started": lambda: _("Case started"),
    "task_opened": lambda: _("Task opened"),
    "claimed": lambda: _("Task claimed"),
    "unclaimed": lambda: _("Task given back to its lane"),
    "assigned": lambda: _("Task assigned"),
    "completed": lambda: _("Task completed"),
    "task_closed": lambda: _("Task closed"),
    "timer_fired": lambda: _("Timer fired"),
    "instance_completed": lambda: _("Case completed"),
    "cancelled": lambda: _("Case cancelled"),
    "failed": lambda: _("Case stopped on an error"),
    "retried": lambda: _("Case retried"),
    "deployed": lambda: _("Process deployed"),
    "escalated": lambda: _("Task escalated"),
    "sla_warning": lambda: _("Deadline warning"),
    "sla_invalid": lambda: _("Deadline settings refused"),
    "deadline_moved": lambda: _("Deadline moved: the working calendar changed"),
    "calendar_changed": lambda: _("Working calendar changed"),
    "promise_moved": lambda: _("Promised answer date moved: the working calendar changed"),
    "incident": lambda: _("Automatic step failed"),
    "incident_retried": lambda: _("Automatic step retried"),
    "incident_dismissed": lambda: _("Automatic step dismissed"),
    "message_retried": lambda: _("Notification sent again"),
    "letter_sent": lambda: _("Letter sent"),
    "clock_paused": lambda: _("The clock is paused: waiting for the member"),
    "clock_resumed": lambda: _("The clock runs again: the member answered"),
    "demo_loaded": lambda: _("Demo data loaded"),
    "migrated": lambda: _("Case moved to another version of its process"),
    "migration_reverted": lambda: _("Case moved back to the version it was on"),
    "draft_created": lambda: _("Draft of a diagram opened"),
    "draft_deleted": lambda: _("Draft of a diagram deleted"),
    "draft_form_saved": lambda: _("Form of a draft saved"),
    "draft_form_discarded": lambda: _("Form of a draft set back to its file"),
}

#: How a task ended (``engine.history.OUTCOMES``).
OUTCOMES: dict[str, Callable[[], str]] = {
    "completed": lambda: pgettext("task outcome", "Completed"),
    "cancelled": lambda: pgettext("task outcome", "Cancelled"),
    "interrupted": lambda: pgettext("task outcome", "Interrupted"),
    "migrated": lambda: pgettext("task outcome", "Moved to a new version"),
}

#: A case's state (``engine`` instance statuses).
CASE_STATES: dict[str, Callable[[], str]] = {
    "running": lambda: pgettext("case state", "Running"),
    "completed": lambda: pgettext("case state", "Completed"),
    "cancelled": lambda: pgettext("case state", "Cancelled"),
    "error": lambda: pgettext("case state", "Stopped on an error"),
}


def action_label(action: str) -> str:
    """An audit action in the page's language (the code itself only for one this mapping lacks)."""
    label = ACTIONS.get(action)
    return label() if label is not None else action


def outcome_label(outcome: str) -> str:
    """A task's outcome in the page's language."""
    label = OUTCOMES.get(outcome)
    return label() if label is not None else outcome


def case_state_label(status: str) -> str:
    """A case's state in the page's language."""
    label = CASE_STATES.get(status)
    return label() if label is not None else status


def process_name(names: Mapping[str, Mapping[str, str]], key: str, language: str) -> str:
    """A process's display name in ``language`` (`workflows.read.definitions.process_names`), else its key."""
    found = names.get(key) or {}
    return found.get(language) or found.get("ar") or key


def legend() -> dict[str, str]:
    """The diagram legend's three marks, one language."""
    return {"done": pgettext("diagram legend", "Done"), "active": pgettext("diagram legend", "In progress"),
            "cancelled": pgettext("diagram legend", "Cancelled")}
