"""Refusals raised below ``web/`` worded in the page's language: one place for every error code.

The engine and the domain raise errors with a code and parameters (``engine.errors.CODES`` lists
every code and the parameters it carries) and a technical English ``message`` for the API and the
CLI. A page shows `refusal(exc)`: the code's sentence from the Flask-Babel catalogue, the field named
by its label, a time in the society's zone with its Hijri date. A code with no wording here fails
``tests/web/test_refusals.py``; an error without a code gets its kind's general sentence, never the
English message.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from flask_babel import gettext as _
from flask_babel import ngettext

from engine.errors import EngineError
from web.current import current_engine
from web.deadlines import hijri
from web.i18n import isolate, local_time
from web.labels import action_label

Params = Mapping[str, Any]


def field_label(field: str) -> str:
    """A field named as the page labels it (the name itself for a field no page shows)."""
    labels = {
        "national_id": _("National ID"), "name_ar": _("Name in Arabic"), "name_en": _("Name in English"),
        "mobile": _("Mobile"), "email": _("E-mail"), "membership_no": _("Membership number"),
        "status": _("Status"), "joined_on": _("Joined on"), "language": _("Language"),
        "summary": _("Summary"), "channel": _("Channel"), "direction": _("Direction"), "note": _("Note"),
        "state": _("State"), "reason": _("Reason"), "committee_members": _("Members present"),
        "outcome": _("Decision"), "service_type": _("Service"), "view_name": _("View name"),
        "username": _("User name"), "display_name": _("Display name"), "password": _("Password"),
        "roles": _("Roles"), "file": _("File"),
    }
    return labels.get(field, field)


def _what(what: str) -> str:
    return {
        "task": _("the task"), "instance": _("the case"), "request": _("the request"), "member": _("the member"),
        "user": _("the user"), "job": _("the job"), "job_kind": _("the job kind"), "definition": _("the process"),
        "letter": _("the letter"), "view": _("the saved view"), "form": _("the form"),
        "message": _("the notification"),
    }.get(what, what)


def _when(moment: Any) -> str:
    """A stored UTC time in the society's zone, with its Umm al-Qura date."""
    if not moment:
        return ""
    day = hijri(moment.astimezone(current_engine().calendars.get().tz))
    # Each isolated: inside an Arabic sentence "2026-12-02 00:05" would read "00:05 2026-12-02".
    shown = isolate(local_time(moment))
    return _("%(day)s (%(hijri)s AH)", day=shown, hijri=isolate(day)) if day else shown


def _role(role: str) -> str:
    """A role or lane as the admin page names it (the catalogue's ``role_*`` words)."""
    return {
        "reception": _("role_reception"), "social_researcher": _("role_social_researcher"),
        "committee": _("role_committee"), "service_delivery": _("role_service_delivery"),
        "supervisor": _("role_supervisor"), "process_owner": _("role_process_owner"),
        "administrator": _("role_administrator"),
    }.get(role, role)


def _roles(roles: Any) -> str:
    return _(", ").join(_role(str(r)) for r in roles or []) if roles else ""


def _task_closed(p: Params) -> str:
    if p.get("by"):
        return _("%(by)s already completed this task on %(at)s.", by=p["by"], at=_when(p.get("at")))
    return {
        "cancelled": _("This task is no longer open: the case was cancelled."),
        "migrated": _("This task is no longer open: the case moved to a new version of its process."),
        "overtaken": _("This task is no longer open: the case moved on before your change (its deadline may "
                       "have passed). Reload the case."),
    }.get(str(p.get("reason")), _("This task is no longer open: the case moved on."))


def _not_allowed(p: Params) -> str:
    return {
        "assign": _("Only a supervisor can assign tasks."),
        "cancel": _("Only a supervisor can cancel cases."),
        "retry": _("Only an administrator or a supervisor can retry cases."),
        "retry_incident": _("Only a supervisor can retry failed jobs."),
        "staff": _("Only the society's staff can do this."),
    }.get(str(p.get("action")), _("You may not do this; it needs the role: %(roles)s.", roles=_roles(p.get("roles"))))


def _case_not_running(p: Params) -> str:
    return {
        "error": _("The case stopped on an error at step %(element)s; an administrator must fix it and retry it "
                   "first.", element=p.get("element") or ""),
        "completed": _("The case is finished."),
        "cancelled": _("The case was cancelled."),
    }.get(str(p.get("status")), _("The case is not running."))


def _case_changed(p: Params) -> str:
    if not p.get("by"):
        return _("Someone else changed the case first. Reload and try again.")
    return _("%(by)s changed the case first (%(action)s, %(at)s). Reload and try again.", by=p["by"],
             action=action_label(str(p.get("action") or "")), at=_when(p.get("at")))


def _several(p: Params) -> str:
    return " ".join(wording(code, params) for code, params in p.get("problems") or [])


def _field(p: Params) -> str:
    return field_label(str(p.get("field") or ""))


#: Each code's sentence in the page's language, from the error's parameters.
WORDS: dict[str, Callable[[Params], str]] = {
    # engine
    "required": lambda p: _("“%(field)s” is required.", field=_field(p)),
    "not_a_choice": lambda p: _("“%(value)s” is not one of the choices for “%(field)s”.", value=p.get("value"),
                                field=_field(p)),
    "too_long": lambda p: _("“%(field)s”: %(rule)s", field=_field(p), rule=ngettext(
        "Write at most %(num)s character.", "Write at most %(num)s characters.", int(p.get("limit") or 0))),
    "several": _several,
    "not_allowed": _not_allowed,
    "no_such": lambda p: _("%(what)s “%(ident)s” was not found.", what=_what(str(p.get("what"))),
                           ident=p.get("ident")),
    "task_closed": _task_closed,
    "claimed_by_other": lambda p: _("%(assignee)s is working on this task; ask a supervisor to reassign it.",
                                    assignee=p.get("assignee")),
    "case_changed": _case_changed,
    "case_not_running": _case_not_running,
    "database_lost": lambda p: (_("The connection to the database was lost while saving. Reload to see whether "
                                  "the change was saved.") if p.get("saving") else
                                _("The connection to the database was lost; nothing was saved. Try again.")),
    "database_busy": lambda p: _("The database is busy with another change. Try again in a moment."),
    "saved_concurrently": lambda p: _("Another change was saved at the same moment. Reload and try again."),
    "invalid_data": lambda p: (_("The data “%(key)s” cannot be saved with the case.", key=p["key"]) if p.get("key")
                               else _("The data cannot be saved with the case.")),
    "lane_not_held": lambda p: _("This task belongs to the “%(lane)s” team, which you are not part of.",
                                 lane=_role(str(p.get("lane")))),
    "assignee_missing": lambda p: _("Choose who to assign the task to."),
    "assignee_not_in_lane": lambda p: _("%(assignee)s is not in the “%(lane)s” team; choose someone who is.",
                                        assignee=p.get("assignee"), lane=_role(str(p.get("lane")))),
    "job_not_incident": lambda p: _("Job %(job)s has not failed; there is nothing to retry.", job=p.get("job")),
    "no_definition": lambda p: (_("The process “%(process)s” has no version %(version)s.", process=p.get("process"),
                                  version=p["version"]) if p.get("version") is not None else
                                _("The process “%(process)s” is not deployed.", process=p.get("process"))),
    # accounts and views
    "password_short": lambda p: _("“%(field)s”: %(rule)s", field=_("Password"), rule=ngettext(
        "Write at least %(num)s character.", "Write at least %(num)s characters.", int(p.get("minimum") or 8))),
    "unknown_roles": lambda p: _("Unknown roles: %(roles)s.",
                                 roles=isolate(", ".join(map(str, p.get("unknown") or [])))),
    "username_characters": lambda p: _("The user name may hold only letters, digits, “.” and “_”."),
    "username_taken": lambda p: _("The user name %(username)s is taken.", username=p.get("username")),
    "own_administrator_role": lambda p: _("You cannot remove your own administrator role."),
    "own_account_stopped": lambda p: _("You cannot stop your own account."),
    "role_not_held": lambda p: _("You can share a view only with a role of your own."),
    "not_view_owner": lambda p: _("Only %(owner)s, who saved this view, can delete it.", owner=p.get("owner")),
    # members and identity
    "unknown_field": lambda p: _("“%(field)s” is not a member field.", field=isolate(p.get("field"))),
    "nul_in_field": lambda p: _("“%(field)s” holds a character that cannot be stored.", field=_field(p)),
    "not_a_date": lambda p: _("“%(field)s”: %(value)s is not a date.", field=_field(p), value=p.get("value")),
    "already_registered": lambda p: _("%(field)s %(value)s is already registered to member %(member)s.",
                                      field=_field(p), value=p.get("value"), member=p.get("member")),
    "national_id_length": lambda p: _("“%(field)s”: a national ID or iqama number has 10 digits.", field=_field(p)),
    "national_id_start": lambda p: _("“%(field)s”: a national ID starts with 1 (citizen) or 2 (resident).",
                                     field=_field(p)),
    "national_id_check": lambda p: _("“%(field)s”: %(value)s is not a valid number (its check digit is wrong); "
                                     "check it again.", field=_field(p), value=p.get("value")),
    "not_a_phone": lambda p: _("“%(field)s”: %(value)s is not a phone number (write it like %(example)s).",
                               field=_field(p), value=p.get("value"), example=isolate("05XXXXXXXX")),
    "not_a_mobile": lambda p: _("“%(field)s”: %(value)s is not a mobile number.", field=_field(p),
                                value=p.get("value")),
    "not_an_email": lambda p: _("“%(field)s”: %(value)s is not an e-mail address.", field=_field(p),
                                value=p.get("value")),
    "not_a_whole_number": lambda p: _("“%(field)s”: enter a whole number.", field=_field(p)),
    # requests, documents, letters
    "request_data_missing": lambda p: _("Starting this process opens a member request: give the member, the "
                                        "service and the channel."),
    "decision_exists": lambda p: _("Request %(reference)s already has a decision.", reference=p.get("reference")),
    "no_document": lambda p: _("Request %(reference)s has no document “%(kind)s”.", reference=p.get("reference"),
                               kind=p.get("kind")),
    "no_checklist": lambda p: _("This task keeps no checklist of documents."),
    "not_a_request_case": lambda p: _("This case was not opened as a member request."),
    "not_acknowledged": lambda p: _("The applicant has not acknowledged responsibility for the data."),
    "file_missing": lambda p: _("Choose a file to attach."),
    "file_name": lambda p: _("The file name “%(name)s” names a folder or holds a control character; "
                             "send the file itself.", name=p.get("name")),
    "file_type": lambda p: _("“%(name)s” is not an accepted type (%(types)s).", name=p.get("name"),
                             types=isolate(", ".join(p.get("types") or []))),
    "file_size": lambda p: _("“%(name)s” is larger than %(mb)d MB.", name=p.get("name"), mb=int(p.get("mb") or 0)),
    "file_empty": lambda p: _("“%(name)s” is empty.", name=p.get("name")),
    "file_content": lambda p: _("“%(name)s” is not a real %(type)s file.", name=p.get("name"), type=p.get("type")),
    "file_not_kept": lambda p: _("This document is verified, not stored: do not attach the file."),
    "file_gone": lambda p: _("The document's file is not available."),
    "letter_already_sent": lambda p: _("This letter was already marked as sent."),
    "not_a_letter": lambda p: _("Message %(message)s is not a letter.", message=p.get("message")),
    "message_not_failed": lambda p: _("Notification %(message)s has not failed; there is nothing to send again.",
                                      message=p.get("message")),
    # the working calendar
    "calendar_unknown_change": lambda p: _("Choose a change: close a day, reopen a day, or move a holiday."),
    "calendar_reason_missing": lambda p: _("Give the reason for the change."),
    "calendar_reason_long": lambda p: ngettext("Write the reason in %(num)s character at most.",
                                               "Write the reason in %(num)s characters at most.",
                                               int(p.get("limit") or 0)),
    "calendar_not_a_date": lambda p: (_("«%(text)s» is not a date: write the year, the month and the day, e.g. "
                                        "%(example)s.", text=p["text"], example=isolate("2026-12-09"))
                                      if p.get("text") else
                                      _("Give the day: the year, the month and the day, e.g. %(example)s.",
                                        example=isolate("2026-12-09"))),
    "calendar_out_of_range": lambda p: _("%(day)s is outside the years whose calendar may be changed (%(first)s to "
                                         "%(last)s).", day=p.get("day"), first=p.get("first"), last=p.get("last")),
    "calendar_already_closed": lambda p: _("%(day)s is already closed.", day=p.get("day")),
    "calendar_not_closed": lambda p: _("%(day)s is not closed: only a closed day can be reopened.", day=p.get("day")),
    "calendar_same_day": lambda p: _("The holiday must move to another day."),
    "calendar_no_day": lambda p: _("Name the day of the calendar that changes."),
    # forms
    "form_errors": lambda p: _("Some fields of the form need correcting."),
    "form_file_invalid": lambda p: _("The form %(form)s cannot be read; tell the process owner.", form=p.get("form")),
}


def _general(kind: str) -> str:
    """The sentence for an error without a code: what kind of refusal it is."""
    return {
        "invalid": _("The data given is not accepted."),
        "not_found": _("What you asked for was not found."),
        "forbidden": _("You may not do this."),
        "conflict": _("Someone else changed this first. Reload and try again."),
    }.get(kind, _("Something went wrong on our side. The error was recorded; try again shortly."))


#: Parameters the wording turns into words of its own (a field's label, a role, an action, a time
#: isolated by `_when`) or uses as a number. Every other text parameter is what a person typed or
#: named (a user name, a file name, a reference, a value): shown as given, isolated for bidi so that
#: "reception1" or "0501234567" inside an Arabic sentence keeps its place and its order.
_WORDED = frozenset({"field", "what", "action", "status", "reason", "lane", "roles", "unknown", "known", "types",
                     "problems", "at", "saving", "limit", "minimum", "mb"})


def _shown(params: Params) -> dict[str, Any]:
    return {key: value if key in _WORDED else isolate(value) for key, value in params.items()}


def wording(code: str | None, params: Params) -> str:
    """The sentence for ``code`` with ``params`` in the page's language."""
    words = WORDS.get(code or "")
    return words(_shown(params)) if words is not None else _general("")


def refusal(exc: EngineError) -> str:
    """``exc`` as a sentence in the page's language (its kind's general sentence when it has no code)."""
    if exc.code in WORDS:
        return wording(exc.code, exc.params)
    return _general(exc.kind)
