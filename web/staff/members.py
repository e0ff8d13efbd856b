"""Members: search, a member's page (contacts on every channel, requests), log a contact, open a request."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import login_required

from engine.actors import Actor
from engine.errors import EngineError, NotFound
from web.current import current_engine as _engine
from web.current import staff_actor as _staff
from web.i18n import isolate
from web.refusals import refusal
from workflows.models import CHANNELS
from workflows.operations.cases import open_request
from workflows.operations.members import log_contact
from workflows.read.members import find_members, member_page
from workflows.requests import status_label

bp = Blueprint("members", __name__)


@bp.get("/members")
@login_required
def search():
    actor = _staff()
    text = (request.args.get("q") or "").strip()
    found = _engine().query(find_members, actor, text) if text else []
    return render_template("members.html", q=text, members=found)


@bp.get("/members/<int:member_id>")
@login_required
def member(member_id: int):
    return _member_page(_staff(), member_id)


def _member_page(actor: Actor, member_id: int, error: str = "", status: int = 200):
    lang = str(get_locale() or "ar")
    try:
        page = _engine().query(member_page, actor, member_id)
    except NotFound:
        abort(404)
    return render_template("member.html", member=page.member, contacts=page.contacts, requests=page.requests,
                           channels=CHANNELS, services=[(s.key, s.label(lang)) for s in page.services], error=error,
                           status_label=lambda s: status_label(s, lang)), status


@bp.post("/members/<int:member_id>/contacts")
@login_required
def add_contact(member_id: int):
    actor = _staff()
    try:
        _engine().run(log_contact, actor, member_id, request.form.get("channel", ""),
                      request.form.get("direction", ""), request.form.get("summary", ""))
    except NotFound:
        abort(404)
    except EngineError as exc:
        return _member_page(actor, member_id, refusal(exc), 422)
    flash(_("The contact is recorded."), "success")
    return redirect(url_for("members.member", member_id=member_id))


@bp.post("/members/<int:member_id>/requests")
@login_required
def add_request(member_id: int):
    actor = _staff()
    try:
        opened = _engine().run(open_request, actor, member_id, request.form.get("service_type", ""),
                               request.form.get("channel", ""), request.form.get("summary", ""))
    except NotFound:
        abort(404)
    except EngineError as exc:
        return _member_page(actor, member_id, refusal(exc), 422)
    flash(_("Request %(reference)s is opened.", reference=isolate(opened.reference)), "success")
    return redirect(url_for("cases.case", instance_id=opened.instance_id))
