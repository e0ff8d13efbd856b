"""Letters: those waiting in the outbox, a printable page for each, and marking one posted."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_login import login_required

from engine.errors import Conflict, Forbidden, InvalidInput, NotFound
from web.current import current_engine as _engine
from web.current import staff_actor
from web.deadlines import hijri
from web.i18n import isolate
from web.refusals import refusal
from workflows.operations.letters import mark_letter_sent
from workflows.read.letters import letter, letters_waiting

bp = Blueprint("letters", __name__)


@bp.get("/letters")
@login_required
def waiting():
    actor = staff_actor()
    try:
        letters = _engine().query(letters_waiting, actor)
    except Forbidden:
        abort(403)
    return render_template("letters.html", letters=letters)


@bp.get("/letters/<int:message_id>")
@login_required
def printable(message_id: int):
    actor = staff_actor()
    try:
        found = _engine().query(letter, actor, message_id)
    except Forbidden:
        abort(403)
    except (NotFound, InvalidInput):
        abort(404)
    day = found.created_at.astimezone(_engine().calendars.get().tz).date()
    promise = None
    if found.promised_on:
        # In the letter's language (the member's), not the page's.
        with force_locale(found.language):
            promise = {"words": _("We undertook to answer your request by:"), "day": found.promised_on.isoformat(),
                       "hijri": hijri(found.promised_on), "ah": _("AH")}
    return render_template("letter.html", letter=found, day=day, hijri_day=hijri(day), promise=promise)


@bp.post("/letters/<int:message_id>/sent")
@login_required
def sent(message_id: int):
    actor = staff_actor()
    try:
        done = _engine().run(mark_letter_sent, actor, message_id)
    except Forbidden:
        abort(403)
    except (NotFound, InvalidInput):
        abort(404)
    except Conflict as exc:
        flash(refusal(exc), "warning")
        return redirect(url_for("letters.waiting"))
    flash(_("The letter to %(name)s is marked as sent.", name=isolate(done.addressee)), "success")
    return redirect(url_for("letters.waiting"))
