"""HTML, script and template syntax typed into every text field come back as text, on every page.

Four payloads go into every field a person can write, through the real forms: a user's display
name (administration), a request's summary and a contact's summary (the member's page), a task
form's textarea as a draft and as completed data, a saved view's name and its search, a
checklist note, an uploaded file's name, the sign-in name and the page to go to after it, the
search boxes of the inbox and the members' list, and the name on a letter to post. Members are registered by the operations layer (the web has no form for
it yet), with the payloads in their Arabic and English names.

Each page that shows a field is fetched and must hold the field's value escaped; no page may
hold a payload's markup raw, evaluate ``{{7*7}}``, or put ``javascript:`` into a link.
"""

from __future__ import annotations

import re

import pytest
from markupsafe import escape
from sqlalchemy import func, select

from engine.models import HumanTask, OutboxMessage
from tests.reliability.test_web_authorization import ANONYMOUS, PASSWORD, World, build_world
from tests.support.desk import RECEPTION
from workflows import identity
from workflows.models import ServiceRequest
from workflows.notifications import dispatch_outbox
from workflows.operations.cases import open_request
from workflows.operations.members import register_member

PAYLOADS = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "{{7*7}}", "javascript:alert(1)"]
RAW = {0: ["<script>alert(1)</script>"], 1: ["<img src=x onerror=alert(1)>", '"><img']}
LINK_ATTRIBUTE = re.compile(r"""(?:href|src|action|formaction|xlink:href|data-xml)\s*=\s*["']?\s*javascript:""", re.I)
FIELDS = ("display_name", "member_ar", "member_en", "request_summary", "contact_summary", "draft", "completed",
          "view_name", "view_search", "note", "file_name", "sign_in_name", "inbox_search", "members_search",
          "letter_name")


@pytest.fixture(scope="module")
def world(tmp_path_factory, postgres_run_database):
    built = build_world(tmp_path_factory, postgres_run_database)
    yield built
    built.engine.dispose()


def _value(number: int, field: str) -> str:
    """The payload with a plain tag after it: where each field shows is told apart, and a value put
    into a link would start with the payload itself."""
    return f"{PAYLOADS[number]} t{number}-{field}"


def _html(value: str) -> str:
    return str(escape(value))


class Pages:
    """Pages fetched for one payload: each checked for the fields it must show, all for raw markup."""

    def __init__(self, number: int) -> None:
        self.number = number
        self.bodies: dict[str, str] = {}
        self.missing: list[tuple[str, str]] = []

    def check(self, name: str, response, shows: dict[str, str], status: int = 200) -> None:
        assert response.status_code == status, (name, response.status_code)
        body = response.get_data(as_text=True)
        self.bodies[name] = body
        self.missing += [(name, field) for field, form in shows.items() if form not in body]

    def assert_safe(self) -> None:
        assert self.missing == [], self.missing
        for name, body in self.bodies.items():
            for raw in RAW.get(self.number, []):
                assert raw not in body, (name, raw)
            assert LINK_ATTRIBUTE.search(body) is None, name
            assert re.search(rf"49[ /]t{self.number}-", body) is None, name  # {{7*7}} evaluated


def multipart(fields: dict[str, str], file_name: str, content: bytes) -> tuple[bytes, str]:
    """A form with one file, encoded as a browser or curl sends it: the name's quotes escaped.

    (Werkzeug's test client writes the name between quotes as it is, so a ``"`` in it ends the
    name early and the server sees none: the payload would never reach the page.)
    """
    boundary = "reliability-boundary"
    quoted = file_name.replace("\\", "\\\\").replace('"', '\\"')
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
             for k, v in fields.items()]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{quoted}"\r\n'
                 f"Content-Type: application/octet-stream\r\n\r\n".encode() + content + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def _post(client, path: str, token: str, **form):
    return client.post(path, data={"csrf_token": token, **form})


@pytest.mark.parametrize("number", range(len(PAYLOADS)), ids=["script", "attribute", "template", "js-url"])
def test_a_payload_in_every_field_is_shown_escaped_on_every_page(world: World, number: int):
    v = {field: _value(number, field) for field in FIELDS}
    pages = Pages(number)
    admin, reception = world.client("administrator"), world.client("reception")
    admin_token, token = world.token("administrator"), world.token("reception")
    engine = world.engine

    # A user whose display name is the payload, signing in.
    username = f"escaping{number}"
    assert _post(admin, "/admin/users", admin_token, username=username, password=PASSWORD,
                 display_name=v["display_name"], roles="reception").status_code == 302
    # A member named with it, a request and a contact with it as summary, through the member's page.
    member = engine.run(register_member, RECEPTION, name_ar=v["member_ar"], name_en=v["member_en"],
                        national_id=identity.with_check_digit(f"1090000{number:02d}"), mobile=f"05500000{number:02d}")
    opened = _post(reception, f"/members/{member.id}/requests", token, service_type="financial_support",
                   channel="phone", summary=v["request_summary"])
    assert opened.status_code == 302
    request = engine.query(lambda e, s: s.scalars(select(ServiceRequest).where(ServiceRequest.member_id == member.id))
                           .one())
    intake = engine.query(lambda e, s: s.scalar(select(HumanTask.id).where(HumanTask.instance_id
                                                                            == request.instance_id)))
    assert _post(reception, f"/members/{member.id}/contacts", token, channel="phone", direction="inbound",
                 summary=v["contact_summary"]).status_code == 302
    # A draft of the intake form, a saved view, a checklist note.
    assert _post(reception, f"/tasks/{intake}", token, action="draft",
                 visit_summary=v["draft"]).status_code == 302
    assert _post(reception, "/inbox/filters", token, name=v["view_name"], q=v["view_search"]).status_code == 302
    check = world.ids["check_task"]
    assert _post(reception, f"/tasks/{check}/documents/iban_certificate", token, state="missing",
                 note=v["note"]).status_code == 302

    names = {"display_name": _html(v["display_name"])}
    pages.check("admin users", admin.get("/admin/users"), names)
    newcomer = world.fresh_client(username)
    pages.check("the newcomer's inbox", newcomer.get("/inbox"), names)
    member_shows = {f: _html(v[f]) for f in ("member_ar", "request_summary", "contact_summary")}
    pages.check("member page", reception.get(f"/members/{member.id}"), member_shows)
    english = world.fresh_client("committee")
    pages.check("member page in English", english.get(f"/members/{member.id}?lang=en"),
                {"member_en": _html(v["member_en"])})
    pages.check("task page", reception.get(f"/tasks/{intake}"),
                {f: _html(v[f]) for f in ("member_ar", "draft", "request_summary", "contact_summary")})
    pages.check("inbox", reception.get("/inbox"), {f: _html(v[f]) for f in ("member_ar", "view_name")})
    pages.check("inbox, the saved view", reception.get("/inbox", query_string={"q": v["view_search"]}),
                {"view_search": _html(v["view_search"])})
    pages.check("inbox search", reception.get("/inbox", query_string={"q": v["inbox_search"]}),
                {"inbox_search": _html(v["inbox_search"])})
    pages.check("members search", reception.get("/members", query_string={"q": v["members_search"]}),
                {"members_search": _html(v["members_search"])})
    pages.check("members found", reception.get("/members", query_string={"q": f"t{number}-member_ar"}),
                {"member_ar": _html(v["member_ar"])})
    pages.check("checklist", reception.get(f"/tasks/{check}"), {"note": _html(v["note"])})
    body, content_type = multipart({"csrf_token": token, "state": "received"}, v["file_name"] + ".exe", b"MZ\x90\x00")
    upload = reception.post(f"/tasks/{check}/documents/income_proof", data=body, content_type=content_type,
                            follow_redirects=True)
    pages.check("refused upload", upload, {"file_name": _html(v["file_name"])})
    anonymous = world.client(ANONYMOUS)
    # The page to go to after signing in, kept in the sign-in form (a path has no spaces: "/" instead).
    going = f"/inbox?q={PAYLOADS[number].replace(' ', '/')}/t{number}-next"
    pages.check("sign-in, then a page", anonymous.get("/login", query_string={"next": going}),
                {"next": f'name="next" value="{_html(going)}"'})
    pages.check("sign-in refused", anonymous.post("/login", data={
        "csrf_token": world.token(ANONYMOUS), "username": v["sign_in_name"], "password": "wrong-pass"}),
        {"sign_in_name": _html(v["sign_in_name"])}, status=401)
    # The intake completed with the payload: the case page shows its data.
    assert _post(reception, f"/tasks/{intake}", token, action="complete", visit_summary=v["completed"],
                 inquiries_answered="on").status_code == 302
    # (The request's summary is the request's, not the case data's: the member and task pages show it.)
    pages.check("case page", reception.get(f"/cases/{request.instance_id}"),
                {"completed": _html(v["completed"])})  # a labelled field of the case's data
    # A member with neither mobile nor e-mail is written to: the letters list and the letter name her.
    writer = engine.run(register_member, RECEPTION, name_ar=v["letter_name"], name_en=f"letter {number}",
                        national_id=identity.with_check_digit(f"1091000{number:02d}"))
    engine.run(open_request, RECEPTION, writer.id, "financial_support", "letter", "")
    dispatch_outbox(engine)
    letter = engine.query(lambda e, s: s.scalar(select(func.max(OutboxMessage.id))
                                                .where(OutboxMessage.status == "printable")))
    supervisor = world.client("supervisor")
    pages.check("letters", supervisor.get("/letters"), {"letter_name": _html(v["letter_name"])})
    pages.check("letter", supervisor.get(f"/letters/{letter}"), {"letter_name": _html(v["letter_name"])})
    pages.assert_safe()
    assert len(pages.bodies) == 17
