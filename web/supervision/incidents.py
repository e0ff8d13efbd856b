"""Incidents: jobs whose retries ran out (retry, or dismiss with a reason) and notifications that could
not be sent (retry), from `workflows.read.incidents`; and the count for the navigation's badge."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required

from engine.errors import Conflict, Forbidden, InvalidInput, NotFound
from web.current import SUPERVISING_ROLES, supervisor_actor
from web.current import current_engine as _engine
from web.refusals import refusal
from workflows.operations.incidents import dismiss_job, retry_job, retry_message
from workflows.read.incidents import incident_count, incidents

bp = Blueprint("incidents", __name__)
_BADGE = "tawasul_incident_badge"


def badge_count() -> int:
    """Incidents and failed messages, for the navigation: counted once per request, for supervisors only."""
    if not (current_user.is_authenticated and current_user.is_staff
            and SUPERVISING_ROLES & set(current_user.roles or ())):
        return 0
    if _BADGE not in g:
        try:
            g.setdefault(_BADGE, _engine().query(incident_count, current_user.actor()))
        except Forbidden:
            g.setdefault(_BADGE, 0)
    return g.get(_BADGE, 0)


@bp.app_context_processor
def _badge() -> dict:
    # A function, not a number: the count is read only when a page for a supervisor calls it.
    return {"incident_badge": badge_count}


def recipient_words(kind: str) -> str:
    """Who a message was for, in words."""
    return {"member": _("A member"), "user": _("A staff member"), "group": _("A lane's staff")}.get(kind, kind)


def channel_words(channel: str) -> str:
    return {"sms": _("SMS"), "email": _("E-mail"), "letter": _("Letter")}.get(channel, channel)


@bp.get("/supervision/incidents")
@login_required
def index():
    actor = supervisor_actor()
    try:
        found = _engine().query(incidents, actor)
    except Forbidden:
        abort(403)
    lang = "ar" if str(get_locale() or "ar") == "ar" else "en"
    return render_template("supervision_incidents.html", jobs=found["jobs"], messages=found["messages"], lang_key=lang,
                           recipient_words=recipient_words, channel_words=channel_words)


def _done(action, *args) -> bool:
    """Run an operation; a refusal is flashed in words. True when it was done."""
    actor = supervisor_actor()
    try:
        _engine().run(action, actor, *args)
    except Forbidden:
        abort(403)
    except (NotFound, Conflict, InvalidInput) as exc:
        flash(refusal(exc), "warning")
        return False
    return True


@bp.post("/supervision/incidents/jobs/<int:job_id>/retry")
@login_required
def retry(job_id: int):
    if _done(retry_job, job_id):
        flash(_("Job %(job)s will run again now, with a fresh set of attempts.", job=job_id), "success")
    return redirect(url_for("incidents.index"))


@bp.post("/supervision/incidents/jobs/<int:job_id>/dismiss")
@login_required
def dismiss(job_id: int):
    if _done(dismiss_job, job_id, request.form.get("reason", "")):
        flash(_("Job %(job)s is dismissed; it will not run again.", job=job_id), "success")
    return redirect(url_for("incidents.index"))


@bp.post("/supervision/incidents/messages/<int:message_id>/retry")
@login_required
def retry_notification(message_id: int):
    if _done(retry_message, message_id):
        flash(_("Notification %(message)s will be sent again.", message=message_id), "success")
    return redirect(url_for("incidents.index"))
