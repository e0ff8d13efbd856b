"""Members: search, a member's page (contacts on every channel, requests), log a contact, open a request."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import login_required
from sqlalchemy import select

from engine.errors import EngineError, NotFound
from web.common import current_engine as _engine
from web.common import staff_actor as _staff
from workflows.letters import status_label
from workflows.members import get_member, log_contact, member_contacts, search_members
from workflows.models import CHANNELS, ServiceRequest
from workflows.requests import open_request

bp = Blueprint("members", __name__)


@bp.get("/members")
@login_required
def search():
    _staff()
    text = (request.args.get("q") or "").strip()
    found = _engine().query(lambda e, s: search_members(s, text)) if text else []
    return render_template("members.html", q=text, members=found)


@bp.get("/members/<int:member_id>")
@login_required
def member(member_id: int):
    _staff()
    return _member_page(member_id)


def _member_page(member_id: int, error: str = "", status: int = 200):
    lang = str(get_locale() or "ar")

    def load(engine, session):
        found = get_member(session, member_id)
        requests = session.scalars(select(ServiceRequest).where(ServiceRequest.member_id == member_id)
                                   .order_by(ServiceRequest.opened_at.desc())).all()
        return found, member_contacts(session, member_id), requests

    try:
        found, contacts, requests = _engine().query(load)
    except NotFound:
        abort(404)
    services = _engine().extensions["workflows"].catalogue.services
    return render_template("member.html", member=found, contacts=contacts, requests=requests, channels=CHANNELS,
                           services=[(k, s.label(lang)) for k, s in services.items()], error=error,
                           status_label=lambda s: status_label(s, lang)), status


@bp.post("/members/<int:member_id>/contacts")
@login_required
def add_contact(member_id: int):
    actor = _staff()
    try:
        _engine().run(lambda e, s: log_contact(s, actor, e.clock.now(), member_id, request.form.get("channel", ""),
                                               request.form.get("direction", ""), request.form.get("summary", "")))
    except NotFound:
        abort(404)
    except EngineError as exc:
        return _member_page(member_id, exc.message, 422)
    flash(_("The contact is recorded."), "success")
    return redirect(url_for("members.member", member_id=member_id))


@bp.post("/members/<int:member_id>/requests")
@login_required
def add_request(member_id: int):
    actor = _staff()
    try:
        opened = _engine().run(lambda e, s: open_request(e, s, actor, member_id, request.form.get("service_type", ""),
                                                         request.form.get("channel", ""),
                                                         request.form.get("summary", "")))
    except NotFound:
        abort(404)
    except EngineError as exc:
        return _member_page(member_id, exc.message, 422)
    flash(_("Request %(reference)s is opened.", reference=opened.reference), "success")
    return redirect(url_for("cases.case", instance_id=opened.instance_id))
