"""The heat map and the incidents pages: for supervisors and administrators only; 404s; retry,
dismiss (with a reason) and a failed notification sent again; the badge in the navigation."""

from __future__ import annotations

import html
from datetime import timedelta

import pytest
from sqlalchemy import select

from engine.actors import SYSTEM
from engine.jobs import run_due_jobs
from engine.models import AuditEvent, Job, OutboxMessage, TaskRecord
from tests.conftest import T0
from tests.support.desk import Desk
from tests.web.helpers import csrf_token, sign_in
from web import auth, create_app
from workflows.operations.accounts import create_user


@pytest.fixture
def site(engine):
    """The project's diagrams, Noura's request open at «intake», a history there, and staff of each kind."""
    auth.throttle._failures.clear()
    desk = Desk(engine)
    request = desk.open("financial_support")
    with engine.unit_of_work() as uow:
        for hours, met in ((2, True), (4, False)):
            uow.session.add(TaskRecord(
                task_id=f"old-{hours}", instance_id=request.instance_id, process_key="member_request",
                process_version=1, element_id="intake", name="intake", lane="reception", candidate_group=None,
                opened_at=T0 - timedelta(days=9), first_claimed_at=T0 - timedelta(days=9, hours=-hours),
                first_claimed_by="x", assignee="x", closed_at=T0 - timedelta(days=8), closed_by="x",
                outcome="completed", due_at=None, warn_at=None, deadline_met=met, escalation_level=0))
        uow.commit()
    for username, roles in (("sara", ["supervisor"]), ("adel", ["administrator"]), ("rana", ["reception"]),
                            ("member1", [])):
        engine.run(create_user, SYSTEM, username, "secret-pass", username, roles,
                   member_id=desk.member.id if not roles else None)
    app = create_app({"TESTING": True, "SECRET_KEY": "heatmap"}, engine=engine)
    return app, desk, request


def _client(app, username=None):
    client = app.test_client()
    if username:
        sign_in(client, username)
    return client


def _page(client, path):
    response = client.get(path)
    return response.status_code, html.unescape(response.get_data(as_text=True))


def _incident(engine, instance_id):
    with engine.unit_of_work() as uow:
        job = Job(kind="mystery", instance_id=instance_id, task_id="x", element_id="intake", due_at=T0,
                  status="pending", attempts=0, max_attempts=1, payload={}, created_at=T0)
        uow.session.add(job)
        uow.commit()
        job_id = job.id
    assert run_due_jobs(engine, T0).incidents == 1
    return job_id


def _failed_message(engine, instance_id):
    with engine.unit_of_work() as uow:
        message = OutboxMessage(created_at=T0, kind="task_warning", recipient="group:reception",
                                instance_id=instance_id, payload={"channel": "email"}, status="failed", attempts=5,
                                last_error="SMTPError: refused")
        uow.session.add(message)
        uow.commit()
        return message.id


PAGES = ("/supervision/processes", "/supervision/processes/member_request",
         "/supervision/processes/member_request/diagram.bpmn", "/supervision/incidents")


@pytest.mark.parametrize("username", ["sara", "adel"])
def test_supervisors_and_administrators_open_every_page(site, username):
    app, _, _ = site
    client = _client(app, username)
    for path in PAGES:
        assert client.get(path).status_code == 200, path


def test_others_are_refused_and_anonymous_visitors_sent_to_sign_in(site, engine):
    app, _, request = site
    job_id = _incident(engine, request.instance_id)
    message_id = _failed_message(engine, request.instance_id)
    posts = (f"/supervision/incidents/jobs/{job_id}/retry", f"/supervision/incidents/jobs/{job_id}/dismiss",
             f"/supervision/incidents/messages/{message_id}/retry")
    for username in ("rana", "member1"):
        client = _client(app, username)
        token = csrf_token(client.get("/login").get_data(as_text=True)) if username == "member1" else \
            csrf_token(client.get("/inbox").get_data(as_text=True))
        for path in PAGES:
            assert client.get(path).status_code == 403, (username, path)
        for path in posts:
            assert client.post(path, data={"csrf_token": token, "reason": "r"}).status_code == 403, (username, path)
        if username == "rana":
            assert "/supervision/incidents" not in client.get("/inbox").get_data(as_text=True)  # no badge
    anonymous = _client(app)
    for path in PAGES:
        response = anonymous.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"], path
    token = csrf_token(anonymous.get("/login").get_data(as_text=True))
    for path in posts:
        response = anonymous.post(path, data={"csrf_token": token, "reason": "r"})
        assert response.status_code == 302 and "/login" in response.headers["Location"], path
    assert engine.query(lambda e, s: s.get(Job, job_id).status) == "incident"  # nothing was done by them


def test_the_heat_map_gives_each_user_task_its_figures_in_words(site):
    app, desk, request = site
    client = _client(app, "sara")
    status, page = _page(client, "/supervision/processes/member_request?lang=ar")
    assert status == 200
    assert 'id="heatmap"' in page and "bpmn-navigated-viewer.production.min.js" in page and "/static/heatmap.js" in page
    row = page[page.index('<tr data-element="intake">'):]
    row = row[:row.index("</tr>")]
    assert "مهمة مفتوحة واحدة" in row and "واحدة غير مستلمة" in row
    assert "50% فائتة (1 من 2)" in row  # one of the two deadlines missed
    assert "3.0 ساعة" in row  # median wait of 2 h and 4 h
    assert "25% أو أكثر من المواعيد فائتة" in row  # the band in words, not colour alone
    # the open case at «intake»: a link, the request's reference and the member's name
    cases = page[page.index('data-open-cases="intake"'):]
    cases = cases[:cases.index("</div>")]
    assert f'href="/cases/{request.instance_id}"' in cases and request.reference in cases and "نورة العتيبي" in cases
    assert 'data-open-cases="intake" hidden' in page
    chosen = _page(client, "/supervision/processes/member_request?element=intake")[1]
    assert 'data-open-cases="intake" hidden' not in chosen  # without script, the table's link shows them
    english = _page(client, "/supervision/processes/member_request?lang=en")[1]
    assert "50% missed (1 of 2)" in english and "Noura Alotaibi" in english
    assert "/supervision/processes/member_request" in _page(client, "/supervision/processes")[1]


def test_an_unknown_process_or_version_is_not_found(site):
    app, _, _ = site
    client = _client(app, "sara")
    for path in ("/supervision/processes/nothing", "/supervision/processes/member_request?version=2",
                 "/supervision/processes/member_request?version=abc", "/supervision/processes/nothing/diagram.bpmn",
                 "/supervision/processes/member_request?version=99999999999999"):
        assert client.get(path).status_code == 404, path
    assert client.get("/supervision/processes/member_request?version=1").status_code == 200


def test_an_incident_is_retried_once_and_the_badge_counts_what_waits(site, engine):
    app, _, request = site
    client = _client(app, "sara")
    assert 'id="nav-incidents"' not in client.get("/inbox").get_data(as_text=True)  # nothing waits: no badge
    job_id = _incident(engine, request.instance_id)
    _failed_message(engine, request.instance_id)
    inbox = html.unescape(client.get("/inbox?lang=ar").get_data(as_text=True))
    assert 'id="nav-incidents"' in inbox and '<span class="badge text-bg-danger" aria-hidden="true">2</span>' in inbox
    status, page = _page(client, "/supervision/incidents?lang=ar")
    assert status == 200 and "no handler for job kind 'mystery'" in page and request.reference in page
    assert "SMTPError: refused" in page
    token = csrf_token(page)
    done = client.post(f"/supervision/incidents/jobs/{job_id}/retry", data={"csrf_token": token},
                       follow_redirects=True)
    assert f"سيُعاد تشغيل المهمة الآلية {job_id} الآن" in html.unescape(done.get_data(as_text=True))
    again = client.post(f"/supervision/incidents/jobs/{job_id}/retry", data={"csrf_token": token},
                        follow_redirects=True)
    assert again.status_code == 200 and f"لم تتعثّر المهمة الآلية {job_id}؛ لا شيء تعاد محاولته." in html.unescape(again.get_data(as_text=True))
    unknown = client.post("/supervision/incidents/jobs/9999/retry", data={"csrf_token": token}, follow_redirects=True)
    assert unknown.status_code == 200 and "لم يُعثر على المهمة الآلية «9999»." in html.unescape(
        unknown.get_data(as_text=True))
    case = html.unescape(client.get(f"/cases/{request.instance_id}?lang=ar").get_data(as_text=True))
    assert "أُعيدت محاولة خطوة آلية" in case


def test_dismissing_needs_a_reason_and_is_in_the_case_history(site, engine):
    app, _, request = site
    client = _client(app, "adel")
    job_id = _incident(engine, request.instance_id)
    token = csrf_token(client.get("/supervision/incidents").get_data(as_text=True))
    refused = client.post(f"/supervision/incidents/jobs/{job_id}/dismiss", data={"csrf_token": token, "reason": " "},
                          follow_redirects=True)
    assert "حقل «السبب» مطلوب." in html.unescape(refused.get_data(as_text=True))
    assert engine.query(lambda e, s: s.get(Job, job_id).status) == "incident"
    done = client.post(f"/supervision/incidents/jobs/{job_id}/dismiss?lang=en",
                       data={"csrf_token": token, "reason": "done by hand"}, follow_redirects=True)
    assert f"Job {job_id} is dismissed" in html.unescape(done.get_data(as_text=True))
    assert engine.query(lambda e, s: s.get(Job, job_id).status) == "dismissed"
    case = html.unescape(client.get(f"/cases/{request.instance_id}?lang=en").get_data(as_text=True))
    assert "Automatic step dismissed" in case


def test_a_failed_notification_is_sent_again_from_the_page(site, engine, clock):
    app, _, request = site
    client = _client(app, "sara")
    message_id = _failed_message(engine, request.instance_id)
    token = csrf_token(client.get("/supervision/incidents").get_data(as_text=True))
    done = client.post(f"/supervision/incidents/messages/{message_id}/retry?lang=en", data={"csrf_token": token},
                       follow_redirects=True)
    assert f"Notification {message_id} will be sent again." in html.unescape(done.get_data(as_text=True))
    message = engine.query(lambda e, s: s.get(OutboxMessage, message_id))
    assert (message.status, message.attempts) == ("pending", 0)
    again = client.post(f"/supervision/incidents/messages/{message_id}/retry?lang=en", data={"csrf_token": token},
                        follow_redirects=True)
    assert f"Notification {message_id} has not failed; there is nothing to send again." in html.unescape(
        again.get_data(as_text=True))
    actions = engine.query(lambda e, s: s.scalars(select(AuditEvent.action).where(
        AuditEvent.action == "message_retried")).all())
    assert actions == ["message_retried"]
    unknown = client.post("/supervision/incidents/messages/9999/retry?lang=ar", data={"csrf_token": token},
                          follow_redirects=True)
    assert "لم يُعثر على الإشعار «9999»." in html.unescape(unknown.get_data(as_text=True))
    unknown_job = client.post("/supervision/incidents/jobs/9999/dismiss?lang=ar",
                              data={"csrf_token": token, "reason": "r"}, follow_redirects=True)
    assert "لم يُعثر على المهمة الآلية «9999»." in html.unescape(unknown_job.get_data(as_text=True))
