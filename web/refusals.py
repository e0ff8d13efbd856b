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
    "form_not_json": lambda p: _("The form is not valid JSON: look at line %(line)s, column %(column)s.",
                                 line=p.get("line"), column=p.get("column")),
    "form_not_schema": lambda p: _("The form is not a valid JSON Schema at %(path)s: %(detail)s",
                                   path=p.get("path"), detail=p.get("detail")),
    "form_too_large": lambda p: _("The form is %(size)s KB; a form may be at most %(limit)s KB.",
                                  size=p.get("size_kb"), limit=p.get("limit_kb")),
    "form_too_deep": lambda p: _("The form nests more than %(limit)s levels deep; a task form needs only a few.",
                                 limit=p.get("limit")),
    "form_bad_character": lambda p: _("The form holds a character that no text may hold (a null character or "
                                      "half of a character pair); remove it."),
    "form_no_fields": lambda p: _("The form must be an object whose “properties” are its fields."),
    "form_field_name": lambda p: _("The field name %(name)s must start with a Latin letter and hold only Latin "
                                   "letters, digits and “_”.", name=isolate(str(p.get("field")))),
    "form_no_label": lambda p: _("The field %(name)s needs a label in Arabic: “x-label”: {“ar”: …, “en”: …}.",
                                 name=isolate(str(p.get("field")))),
    "form_field_type": lambda p: _("The field %(name)s has the type %(value)s; a task page draws these types: "
                                   "%(allowed)s.", name=isolate(str(p.get("field"))), value=p.get("value"),
                                   allowed=_(", ").join(isolate(str(a)) for a in p.get("allowed") or [])),
    "form_required_unknown": lambda p: _("“required” names %(name)s, which is not a field of the form.",
                                         name=isolate(str(p.get("field")))),
    "form_widget": lambda p: _("The field %(name)s asks for the widget %(value)s; a task page knows: %(allowed)s.",
                               name=isolate(str(p.get("field"))), value=p.get("value"),
                               allowed=_(", ").join(isolate(str(a)) for a in p.get("allowed") or [])),
    "form_choice_label": lambda p: _("The choice %(value)s of the field %(name)s needs a label in Arabic in "
                                     "“x-enum-labels”.", value=p.get("value"), name=isolate(str(p.get("field")))),
    "form_people": lambda p: _("The field %(name)s offers the people of a role (“x-people-of-lane”): it must be a "
                               "list (“type”: “array”) and name the role.", name=isolate(str(p.get("field")))),
    "form_remote_ref": lambda p: _("The form refers to %(value)s; a form may refer only to its own parts (“#/…”).",
                                   value=p.get("value")),
    # the modeler
    "draft_changed": lambda p: (_("%(by)s saved this draft on %(at)s, after you opened it. Your change is not "
                                  "saved: reload the draft to see theirs, then make yours again.",
                                  by=p["by"], at=_when(p.get("at"))) if p.get("by") else
                                _("Someone saved this draft after you opened it. Your change is not saved: reload "
                                  "the draft to see theirs, then make yours again.")),
    "note_required": lambda p: ngettext("Say what this version changes, in %(num)s character at most.",
                                        "Say what this version changes, in %(num)s characters at most.",
                                        int(p.get("limit") or 0)),
    "bad_process_key": lambda p: _("The key %(key)s must start with a Latin letter and hold only Latin letters, "
                                   "digits, “-” and “_”.", key=p.get("process_key")),
    "process_key_taken": lambda p: _("A process with the key %(key)s is deployed; edit its latest version instead.",
                                     key=p.get("process_key")),
    "process_name_characters": lambda p: _("“%(field)s” holds a character that cannot be part of a name (a control "
                                           "character); type the name again.", field=_field(p)),
    "process_name_required": lambda p: ngettext("Give the process a name of at most %(num)s character.",
                                                "Give the process a name of at most %(num)s characters.",
                                                int(p.get("limit") or 0)),
}


# -- problems of a BPMN file (engine.bpmn_problems) ------------------------------------------------


def _raw(value: Any) -> str:
    """A parameter without the bidi isolation `_shown` gave it (to choose words by its value)."""
    return str(value or "").strip("\u2068\u2069")


def _listed(values: Any) -> str:
    """Names or numbers as a list in the page's language, each isolated."""
    return _(", ").join(str(isolate(str(v))) for v in values or []) or _("none")


def _which(p: Params) -> str:
    return {
        "script": _("the script"), "pre-script": _("the script run before"), "post-script": _("the script run after"),
        "condition": _("the condition"), "number of instances": _("the number of instances"),
        "completion condition": _("the completion condition"), "deadline": _("the deadline"),
        "warning time": _("the warning time"), "escalation": _("the escalation"),
    }.get(_raw(p.get("which")), _("an expression"))


def _timer_kind(p: Params) -> tuple[str, str]:
    kind = _raw(p.get("kind"))
    example = {"cycle": "R3/PT1H", "date": "2026-12-01T08:00:00+03:00"}.get(kind, "P10D")
    words = {"cycle": _("cycle"), "date": _("date and time")}.get(kind, _("duration"))
    return words, str(isolate(example))


def _end(p: Params) -> str:
    return _("its start") if _raw(p.get("end")) == "source" else _("its end")


def _element(p: Params) -> Any:
    return p.get("element") or "?"


#: Each code of a BPMN problem as a sentence the process owner can act on.
PROBLEM_WORDS: dict[str, Callable[[Params], str]] = {
    "bpmn_problem": lambda p: _("The diagram has a problem: %(detail)s", detail=p.get("detail")),
    "bpmn_too_large": lambda p: _("The file is %(kb)s KB; at most %(limit)s KB is allowed.", kb=p.get("kb"),
                                  limit=p.get("limit")),
    "bpmn_not_utf8": lambda p: _("The file is not %(encoding)s text (%(detail)s); save it as %(encoding)s.",
                                 detail=p.get("detail"), encoding=isolate("UTF-8")),
    "bpmn_dtd": lambda p: _("The file declares a document type or entities, which are not allowed: remove its "
                            "%(doctype)s.", doctype=isolate("DOCTYPE")),
    "bpmn_malformed": lambda p: _("The file is not well-formed %(xml)s at line %(line)s: %(detail)s",
                                  line=p.get("line"), detail=p.get("detail"), xml=isolate("XML")),
    "bpmn_not_bpmn": lambda p: _("The file is not a %(standard)s diagram (its root element is %(tag)s).",
                                 tag=p.get("tag"), standard=isolate("BPMN 2.0")),
    "bpmn_xsd": lambda p: _("«%(element)s» does not follow the %(standard)s standard: %(detail)s", element=_element(p),
                            detail=p.get("detail"), standard=isolate("BPMN 2.0")),
    "bpmn_duplicate_id": lambda p: _("The id %(ident)s is given to %(count)s elements (lines %(lines)s); each id must "
                                     "be unique.", ident=p.get("ident"), count=p.get("count"),
                                     lines=_listed(p.get("lines"))),
    "bpmn_no_id": lambda p: _("The element %(kind)s on line %(line)s has no id: give it one.", kind=p.get("kind"),
                              line=p.get("line")),
    "bpmn_flow_no_end": lambda p: _("The flow «%(element)s» is not connected at %(end)s: connect both of its ends.",
                                    element=_element(p), end=_end(p)),
    "bpmn_flow_dangling": lambda p: _("The flow «%(element)s» is connected at %(end)s to %(ref)s, which is not in the "
                                      "same process or subprocess: reconnect it.", element=_element(p), end=_end(p),
                                      ref=p.get("ref")),
    "bpmn_too_many_elements": lambda p: _("The process «%(element)s» has %(count)s elements; at most %(limit)s are "
                                          "allowed: split it into smaller processes.", element=_element(p),
                                          count=p.get("count"), limit=p.get("limit")),
    "bpmn_too_many_branches": lambda p: _("Too many flows leave «%(element)s»: %(count)s, where at most %(limit)s "
                                          "may leave one element.", element=_element(p), count=p.get("count"),
                                          limit=p.get("limit")),
    "bpmn_endless_loop": lambda p: _("The flows from «%(element)s» lead back to it with nothing deciding whether to go "
                                     "round again (a gateway or a condition): the case would loop for ever.",
                                     element=_element(p)),
    "bpmn_path_too_long": lambda p: _("A path of %(count)s elements one after another starts at «%(element)s»; at most "
                                      "%(limit)s may follow one another: shorten it or use subprocesses.",
                                      element=_element(p), count=p.get("count"), limit=p.get("limit")),
    "bpmn_too_many_instances": lambda p: _("«%(element)s» repeats %(count)s times; at most %(limit)s instances are "
                                           "allowed.", element=_element(p), count=p.get("count"), limit=p.get("limit")),
    "bpmn_too_deep": lambda p: _("The diagram is too deep to read (a path of several hundred elements): split it into "
                                 "subprocesses."),
    "bpmn_id_clash": lambda p: _("The id %(ident)s names both an element and a service task's handler: give the "
                                 "element another id.", ident=p.get("ident")),
    "bpmn_not_executable": lambda p: _("No process in this file is marked executable: tick “executable” on the process "
                                       "%(processes)s.", processes=_listed(p.get("processes"))),
    "bpmn_no_process": lambda p: _("The file holds no process to run: draw one (a pool with a start event)."),
    "bpmn_key_too_long": lambda p: _("The process id %(ident)s has %(count)s characters; a process id may have at most "
                                     "%(limit)s: give it a shorter one.", ident=p.get("ident"), count=p.get("count"),
                                     limit=p.get("limit")),
    "bpmn_duplicate_process": lambda p: _("Two processes have the id %(ident)s: give one of them another id.",
                                          ident=p.get("ident")),
    "bpmn_no_start": lambda p: _("The process «%(element)s» has no start event: add one.", element=_element(p)),
    "bpmn_subprocess_starts": lambda p: _("The subprocess «%(element)s» must begin with exactly one start event; it "
                                          "has %(count)s.", element=_element(p), count=p.get("count")),
    "bpmn_subprocess_no_end": lambda p: _("The subprocess «%(element)s» has no end event: add one.",
                                          element=_element(p)),
    "bpmn_service_no_handler": lambda p: _("The service task «%(element)s» calls no handler: choose one of "
                                           "%(handlers)s.", element=_element(p), handlers=_listed(p.get("handlers"))),
    "bpmn_unknown_handler": lambda p: _("The service task «%(element)s» calls %(handler)s, which is not a handler: "
                                        "choose one of %(handlers)s.", element=_element(p), handler=p.get("handler"),
                                        handlers=_listed(p.get("handlers"))),
    "bpmn_call_no_target": lambda p: _("The call activity «%(element)s» calls no process: choose the process it calls.",
                                       element=_element(p)),
    "bpmn_call_unknown": lambda p: _("«%(element)s» calls the process %(ident)s, which is not in this file.",
                                     element=_element(p), ident=p.get("ident")),
    "bpmn_data_unresolved": lambda p: _("«%(element)s» reads or writes the data %(ref)s, which is not drawn in this "
                                        "process: connect it to a data object of the process.", element=_element(p),
                                        ref=p.get("ref")),
    "bpmn_data_store": lambda p: _("The data store «%(element)s» is not one the system keeps: remove it, or keep the "
                                   "data in the case.", element=_element(p)),
    "bpmn_unsupported": lambda p: _("«%(element)s» is an element of the kind %(kind)s, which cases cannot run: use "
                                    "another kind of element.", element=_element(p), kind=p.get("kind")),
    "bpmn_flow_no_condition": lambda p: _("The flow «%(element)s» leaves a gateway that chooses one way, but has no "
                                          "condition: give it a condition or make it the default flow.",
                                          element=_element(p)),
    "bpmn_many_outgoing": lambda p: _("More than one flow leaves «%(element)s»: let one flow leave it and choose "
                                      "between the ways with a gateway after it.", element=_element(p)),
    "bpmn_event_ref": lambda p: _("The event «%(element)s» refers to a message, signal, error or escalation the file "
                                  "does not define: choose one of the file's.", element=_element(p)),
    "bpmn_catch_nothing": lambda p: _("The event «%(element)s» on a task's border waits for nothing: say what it waits "
                                      "for (a timer, a message, an error…).", element=_element(p)),
    "bpmn_no_decision": lambda p: _("The business rule task «%(element)s» uses a decision table (%(ident)s) the system "
                                    "does not have: decide with a script task or a gateway instead.",
                                    element=_element(p), ident=p.get("ident")),
    "bpmn_instances_unsaid": lambda p: _("The repeated task «%(element)s» must say either how many times it repeats "
                                         "or the list it repeats over, not both or neither.", element=_element(p)),
    "bpmn_loop_no_limit": lambda p: _("The looping task «%(element)s» must say when it stops (a maximum or a "
                                      "condition).", element=_element(p)),
    "bpmn_cancel_outside": lambda p: _("The cancel event «%(element)s» may only be used in a transaction subprocess.",
                                       element=_element(p)),
    "bpmn_script_missing": lambda p: _("The script task «%(element)s» has no script: write one.", element=_element(p)),
    "bpmn_timer_unknown": lambda p: _("The timer «%(element)s» says neither when, after how long, nor how often it "
                                      "fires: give it a date, a duration or a cycle.", element=_element(p)),
    "bpmn_timer_spec": lambda p: _("The timer «%(element)s» cannot be read: %(detail)s", element=_element(p),
                                   detail=p.get("detail")),
    "bpmn_message_ref": lambda p: _("The message event «%(element)s» names no message: choose one.",
                                    element=_element(p)),
    "bpmn_missing_identifier": lambda p: _("An element of the file (%(kind)s) has no id: give it one.",
                                           kind=p.get("kind")),
    "bpmn_conditional_empty": lambda p: _("The conditional event «%(element)s» has no condition: write one.",
                                          element=_element(p)),
    "bpmn_adhoc_sequential": lambda p: _("The ad hoc subprocess «%(element)s» is ordered one after another, which "
                                         "cases cannot run: make it parallel.", element=_element(p)),
    "bpmn_adhoc_start_end": lambda p: _("The ad hoc subprocess «%(element)s» may hold neither a start nor an end "
                                        "event: remove them.", element=_element(p)),
    "bpmn_user_task_no_lane": lambda p: _("The user task «%(element)s» is in no lane, so every member of staff will "
                                          "see it: put it in the lane of the team that does it.", element=_element(p)),
    "bpmn_refused": lambda p: _("«%(element)s» cannot be run as drawn: %(detail)s", element=_element(p),
                                detail=p.get("detail")),
    "bpmn_unexpected": lambda p: _("The file could not be checked: %(detail)s", detail=p.get("detail")),
    "bpmn_script_refused": lambda p: _("In «%(element)s», %(which)s is refused: %(detail)s", which=_which(p),
                                       element=_element(p), detail=p.get("detail")),
    "bpmn_condition_refused": lambda p: _("The condition of the flow from «%(element)s» to «%(target)s» is refused: "
                                          "%(detail)s", element=_element(p), target=p.get("target"),
                                          detail=p.get("detail")),
    "bpmn_expression_refused": lambda p: _("In «%(element)s», %(which)s is refused: %(detail)s", which=_which(p),
                                           element=_element(p), detail=p.get("detail")),
    "bpmn_parameter_refused": lambda p: _("The parameter %(name)s of «%(element)s» is refused: %(detail)s",
                                          name=p.get("name"), element=_element(p), detail=p.get("detail")),
    "bpmn_cycle_here": lambda p: _("The timer «%(element)s» repeats, which only a start event or a timer on a task's "
                                   "border may do: give it a duration or a date.", element=_element(p)),
    "bpmn_timer_empty": lambda p: _("The timer «%(element)s» has no value: give it a date, a duration or a cycle.",
                                    element=_element(p)),
    "bpmn_timer_refused": lambda p: _("The timer of «%(element)s» is refused: %(detail)s", element=_element(p),
                                      detail=p.get("detail")),
    "bpmn_timer_not_text": lambda p: _("The timer of «%(element)s» gives %(value)s, not a date, a duration or a cycle.",
                                       element=_element(p), value=p.get("value")),
    "bpmn_timer_value": lambda p: _("The timer of «%(element)s» has %(value)s, which is not a %(kind)s (write it like "
                                    "%(example)s).", element=_element(p), value=p.get("value"),
                                    kind=_timer_kind(p)[0], example=_timer_kind(p)[1]),
    "bpmn_timer_too_far": lambda p: _("The timer of «%(element)s» has %(value)s: it would fire after the year 9999.",
                                      element=_element(p), value=p.get("value")),
    "bpmn_cycle_too_short": lambda p: _("The timer of «%(element)s» repeats every %(count)s seconds; it may repeat at "
                                        "most once a minute.", element=_element(p), count=p.get("count")),
    "bpmn_start_timer": lambda p: _("The timer start event «%(element)s» cannot be planned: %(detail)s",
                                    element=_element(p), detail=p.get("detail")),
    "bpmn_sla_refused": lambda p: _("In «%(element)s», %(which)s is refused: %(detail)s", which=_which(p),
                                    element=_element(p), detail=p.get("detail")),
    "bpmn_sla_escalation": lambda p: _("The escalation of «%(element)s» must read “expression => team”, not "
                                       "%(value)s.", element=_element(p), value=p.get("value")),
    "bpmn_sla_value": lambda p: _("In «%(element)s», %(which)s is %(value)s, which is not a duration or a date.",
                                  which=_which(p), element=_element(p), value=p.get("value")),
    "bpmn_form_missing": lambda p: _("The form %(form)s of «%(element)s» cannot be used: %(detail)s",
                                     form=p.get("form"), element=_element(p), detail=p.get("detail")),
    "bpmn_property": lambda p: _("A property of «%(element)s» is refused: %(detail)s", element=_element(p),
                                 detail=p.get("detail")),
}
WORDS.update(PROBLEM_WORDS)


# -- moving running cases to another version (engine.migration) ----------------------------------


def _migration_removed(p: Params) -> str:
    element = isolate(str(p.get("element") or ""))
    if p.get("state") == "completed":
        return _("The case has completed «%(element)s», which the new version removed: map it to an element of the "
                 "same type.", element=element)
    return _("The case is at «%(element)s», which the new version removed: map it to an element of the same type.",
             element=element)


def _migration_changed(p: Params) -> str:
    element = isolate(str(p.get("element") or ""))
    if p.get("state") == "completed":
        return _("The case has completed «%(element)s», which the new version changed: accept the change by mapping "
                 "it to itself.", element=element)
    return _("The case is at «%(element)s», which the new version changed: accept the change by mapping it to "
             "itself.", element=element)


def _migration_renamed(p: Params) -> str:
    element = isolate(str(p.get("element") or ""))
    if not p.get("new_element"):
        return _("The new version has no element «%(element)s», which the case reached: map it to an element of the "
                 "same type.", element=element)
    return _("The case reached «%(element)s», which the new version calls «%(new)s»: confirm it with a mapping.",
             element=element, new=isolate(str(p["new_element"])))


def _migration_bad_mapping(p: Params) -> str:
    element, new = isolate(str(p.get("element") or "")), isolate(str(p.get("new_element") or ""))
    return {
        "old_missing": _("The mapping of «%(element)s» cannot be used: the old version has no such element.",
                         element=element),
        "new_missing": _("The mapping of «%(element)s» cannot be used: the new version has no element «%(new)s».",
                         element=element, new=new),
        "place": _("«%(element)s» cannot become «%(new)s»: «%(new)s» is not where «%(element)s» was in the flow "
                   "(neither what comes before it nor what comes after it is the same), so the case could be stuck "
                   "later. Choose the element in its place.", element=element, new=new),
        "occupied": _("«%(element)s» cannot become «%(new)s»: another open task of the case is already there.",
                      element=element, new=new),
    }.get(str(p.get("why")), _("«%(element)s» and «%(new)s» are not elements of the same type.", element=element,
                                new=new))


MIGRATION_WORDS: dict[str, Callable[[Params], str]] = {
    "migration_element_removed": _migration_removed,
    "migration_element_changed": _migration_changed,
    "migration_element_renamed": _migration_renamed,
    "migration_bad_mapping": _migration_bad_mapping,
    "migration_timer_choice": lambda p: _("The timer «%(element)s» is waiting: choose to keep its due time or to "
                                          "recompute it from the new version.",
                                          element=isolate(str(p.get("element") or ""))),
    "migration_boundary_added": lambda p: _("The new version attaches an event to «%(element)s», where the case is: "
                                            "a case already there cannot move.",
                                            element=isolate(str(p.get("element") or ""))),
    "migration_subprocess_removed": lambda p: _("The subprocess «%(element)s» under way is not in the new version.",
                                                element=isolate(str(p.get("element") or ""))),
    "migration_engine_refused": lambda p: _("The engine could not move this case to the new version; it stays on "
                                            "its version."),
    "migration_wrong_version": lambda p: _("Case %(instance)s is not a running case of version %(expected)s.",
                                           instance=p.get("instance"), expected=p.get("expected")),
    "migration_same_version": lambda p: (_("A case cannot move from version %(version)s to itself.",
                                           version=p["version"]) if p.get("version") is not None
                                         else _("A case cannot move from a version to itself.")),
    "migration_no_snapshot": lambda p: _("Case %(instance)s has no move to another version to undo.",
                                         instance=p.get("instance")),
    "migration_revert_expired": lambda p: _("The time to undo this move has passed (days allowed: %(days)s).",
                                            days=p.get("days")),
    "migration_moved_on": lambda p: _("Case %(instance)s changed after its move; the move can no longer be undone.",
                                      instance=p.get("instance")),
}
WORDS.update(MIGRATION_WORDS)


def definition_problem_message(problem: Any) -> str:
    """A problem of a BPMN file (a `DefinitionProblem` or its ``as_dict()``) in the page's language."""
    if isinstance(problem, Mapping):
        code, params = problem.get("code"), problem.get("params") or {}
    else:
        code, params = problem.code, problem.params
    if code in WORDS:
        return wording(code, params)
    return wording("bpmn_problem", {"detail": (params or {}).get("detail") or ""})


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
                     "problems", "at", "saving", "limit", "minimum", "mb", "which", "end", "lines", "processes",
                     "handlers", "kb", "count", "line"})


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

