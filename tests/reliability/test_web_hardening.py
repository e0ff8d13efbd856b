"""Web hardening: security headers on every response, sessions that end for good, the Secure
cookie rule, sign-in without a timing oracle, a bounded throttle, and no replaced file kept.

Each test names one outcome and fails on the code before the hardening.
"""

from __future__ import annotations

import argparse
import io
import re
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from flask import Flask

from engine.actors import SYSTEM, Actor
from tests.support.desk import RECEPTION, Desk
from tests.web.helpers import csrf_token, sign_in, sign_out
from web import auth, create_app
from web.security import SECURITY_HEADERS, secure_cookies
from workflows.documents import Upload
from workflows.models import RequestDocument
from workflows.operations.accounts import create_user, update_user
from workflows.operations.documents import mark_checklist_item
from workflows.read.accounts import user_named

WEB = Path(__file__).resolve().parents[2] / "web"
ADMIN = Actor.user("admin1", [], roles=["administrator"])
PDF = b"%PDF-1.7\n" + b"0" * 100


@pytest.fixture
def app(engine):
    auth.throttle._failures.clear()
    for username, roles in (("rana", ["reception"]), ("admin1", ["administrator"])):
        engine.run(lambda e, s, u=username, r=roles: create_user(e, s, SYSTEM, u, "secret-pass", u, r))
    engine.settings["api"] = {"token": "api-token"}
    app = create_app({"TESTING": True, "PROPAGATE_EXCEPTIONS": False, "SECRET_KEY": "hardening"}, engine=engine)

    @app.get("/boom")
    def boom():
        raise RuntimeError("a bug")

    return app


@pytest.fixture
def client(app):
    return app.test_client()


def _headers(response) -> dict[str, str | None]:
    with response:
        return {name: response.headers.get(name) for name in SECURITY_HEADERS}


# -- Security headers ---------------------------------------------------------------------------

@pytest.mark.parametrize(("path", "status"), [
    ("/login", 200),                                   # a page
    ("/no/such/page", 404),                            # an error page
    ("/boom", 500),                                    # an unhandled error
    ("/static/tawasul.js", 200),                       # the app's own static file
    ("/vendor/htmx.org/dist/htmx.min.js", 200),        # a front-end package
    ("/healthz", 200),                                 # the health check
    ("/api/v1/tasks", 401),                            # the API, refused
])
def test_every_kind_of_response_carries_the_security_headers(client, path, status):
    response = client.get(path)
    assert (response.status_code, _headers(response)) == (status, SECURITY_HEADERS)


def test_the_api_answer_carries_the_security_headers(client):
    response = client.get("/api/v1/tasks", headers={"Authorization": "Bearer api-token"})
    assert (response.status_code, _headers(response)) == (200, SECURITY_HEADERS)


def test_the_policy_forbids_framing_and_runs_no_inline_or_foreign_script():
    directives = dict(d.split(" ", 1) for d in SECURITY_HEADERS["Content-Security-Policy"].split("; "))
    assert (directives["script-src"], directives["style-src"], directives["frame-ancestors"],
            directives["object-src"], SECURITY_HEADERS["X-Frame-Options"]) == (
        "'self'", "'self'", "'none'", "'none'", "DENY")


def test_no_template_holds_an_inline_script_handler_or_style():
    sources = {p.name: p.read_text(encoding="utf-8") for p in (WEB / "templates").glob("*.html")}
    sources["home.py"] = (WEB / "staff" / "home.py").read_text(encoding="utf-8")
    inline = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>|<style\b|\sstyle=|\son[a-z]+=|javascript:|hx-on|"
                        r"hx-trigger=\"[^\"]*\[", re.IGNORECASE)
    assert {name: inline.findall(text) for name, text in sources.items() if inline.search(text)} == {}


# -- Sessions end on the server -----------------------------------------------------------------

def _copy_of_session(client, app) -> object:
    """A second browser holding a copy of ``client``'s session cookie."""
    copy = app.test_client()
    copy.set_cookie(app.config["SESSION_COOKIE_NAME"], client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value)
    return copy


def test_a_copied_session_cookie_no_longer_signs_in_after_sign_out(client, app):
    sign_in(client, "rana")
    stolen = _copy_of_session(client, app)
    assert stolen.get("/inbox").status_code == 200  # the copy works while the session lives
    sign_out(client)
    response = stolen.get("/inbox")
    assert (response.status_code, response.headers["Location"].split("?")[0]) == (302, "/login")


def test_a_new_password_ends_the_sessions_signed_in_with_the_old_one(client, app, engine):
    sign_in(client, "rana")
    rana = engine.query(user_named, "rana")
    engine.run(update_user, ADMIN, rana.id, password="a-new-password")
    assert client.get("/inbox").status_code == 302


def test_a_stopped_account_started_again_does_not_bring_its_old_sessions_back(client, app, engine):
    sign_in(client, "rana")
    rana = engine.query(user_named, "rana")
    engine.run(update_user, ADMIN, rana.id, is_active=False)
    engine.run(update_user, ADMIN, rana.id, is_active=True)
    assert client.get("/inbox").status_code == 302


def test_signing_in_again_after_sign_out_works(client):
    sign_in(client, "rana")
    sign_out(client)
    sign_in(client, "rana")
    assert client.get("/inbox").status_code == 200


# -- The Secure cookie --------------------------------------------------------------------------

def test_the_session_cookie_is_secure_by_default(client, app):
    response = client.post("/login", data={"username": "rana", "password": "secret-pass",
                                           "csrf_token": csrf_token(client.get("/login").get_data(as_text=True))})
    [cookie] = [c for c in response.headers.getlist("Set-Cookie") if c.startswith(app.config["SESSION_COOKIE_NAME"])]
    assert "; Secure" in cookie


@pytest.mark.parametrize(("host", "secure"), [("127.0.0.1", False), ("localhost", False), ("::1", False),
                                              ("0.0.0.0", True), ("192.168.1.20", True), ("tawasul.example", True)])
def test_tawasul_serve_drops_the_secure_flag_on_plain_localhost_only(engine, monkeypatch, host, secure):
    from web.cli.serve import _serve

    engine.settings["worker"] = {"embedded": False}
    served: list[bool] = []
    monkeypatch.setattr(Flask, "run", lambda self, **kw: served.append(
        self.config["SESSION_COOKIE_SECURE"] and self.config["REMEMBER_COOKIE_SECURE"]))
    _serve(engine, SYSTEM, argparse.Namespace(host=host, port=5000))
    assert served == [secure]


def test_the_setting_decides_when_it_is_given():
    assert (secure_cookies({"secure_cookies": False}), secure_cookies({"secure_cookies": True}, "127.0.0.1")) == (
        False, True)


# -- Sign-in costs the same for every name ------------------------------------------------------

@pytest.fixture
def verifications(monkeypatch):
    """The argon2 verifications made, as a list of the hashes checked."""
    checked: list[str] = []
    real = PasswordHasher.verify

    def counting(self, password_hash, password):
        checked.append(password_hash)
        return real(self, password_hash, password)

    monkeypatch.setattr(PasswordHasher, "verify", counting)
    return checked


@pytest.mark.parametrize("who", ["nobody", "stopped", "rana"])
def test_a_failed_sign_in_checks_one_argon2_hash_whoever_is_named(client, engine, verifications, who):
    engine.run(lambda e, s: create_user(e, s, SYSTEM, "stopped", "secret-pass", "Stopped", ["reception"]))
    engine.run(update_user, ADMIN, engine.query(user_named, "stopped").id, is_active=False)
    token = csrf_token(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"username": who, "password": "wrong-pass" if who == "rana" else "secret-pass",
                                           "csrf_token": token})
    assert (response.status_code, len(verifications)) == (401, 1)


# -- The throttle is bounded --------------------------------------------------------------------

def test_the_throttle_remembers_no_more_than_its_bound():
    throttle = auth._Throttle()
    for n in range(auth.MAX_TRACKED + 100):
        throttle.fail((f"name{n}", "10.0.0.1"))
    assert len(throttle) == auth.MAX_TRACKED


def test_asking_about_a_name_never_tried_remembers_nothing():
    throttle = auth._Throttle()
    for n in range(100):
        throttle.blocked((f"name{n}", "10.0.0.1"))
    assert len(throttle) == 0


def test_a_name_under_attack_stays_blocked_while_other_names_fill_the_throttle():
    throttle = auth._Throttle(max_tracked=50)
    for _ in range(auth.MAX_FAILURES):
        throttle.fail(("rana", "10.0.0.1"))
    for n in range(49):
        throttle.fail((f"name{n}", "10.0.0.2"))
    assert throttle.blocked(("rana", "10.0.0.1"))


def test_sign_in_attempts_with_new_names_stay_within_the_bound(client, monkeypatch):
    monkeypatch.setattr(auth, "throttle", auth._Throttle(max_tracked=3))
    token = csrf_token(client.get("/login").get_data(as_text=True))
    for n in range(3 + 2):
        client.post("/login", data={"username": f"guess{n}", "password": "x", "csrf_token": token})
    assert len(auth.throttle) == 3


# -- A replaced checklist file is deleted, after the commit ---------------------------------------

@pytest.fixture
def checklist(engine, tmp_path):
    """The verification task of a request, its uploads folder, and the first file of its income proof."""
    folder = tmp_path / "uploads"
    engine.settings["documents"] = {"dir": str(folder), "max_mb": 1, "types": ["pdf"]}
    desk = Desk(engine)
    request = desk.open("financial_support")
    desk.complete(RECEPTION, request, "intake", {"visit_summary": "حضر", "inquiries_answered": True})
    task = desk.task(request, "check_data")
    first = engine.run(mark_checklist_item, RECEPTION, task.id, "income_proof", "received", "",
                       Upload("first.pdf", io.BytesIO(PDF))).file_name
    return task, folder, first


def _stored(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def test_a_replaced_file_is_deleted_once_the_replacement_is_committed(engine, checklist):
    task, folder, first = checklist
    second = engine.run(mark_checklist_item, RECEPTION, task.id, "income_proof", "received", "",
                        Upload("second.pdf", io.BytesIO(PDF))).file_name
    assert _stored(folder) == [second] and second != first


def test_a_replacement_that_is_not_saved_keeps_the_old_file(engine, checklist):
    task, folder, first = checklist

    def replace_then_fail(e, s):
        mark_checklist_item(e, s, RECEPTION, task.id, "income_proof", "received", "", Upload("second.pdf",
                                                                                            io.BytesIO(PDF)))
        raise RuntimeError("the transaction fails after the replacement")

    with pytest.raises(RuntimeError):
        engine.run(replace_then_fail)
    kept = engine.query(lambda e, s: s.query(RequestDocument).filter_by(kind="income_proof").one().file_name)
    assert (_stored(folder), kept) == ([first], first)


def test_the_old_file_is_still_there_until_the_commit(engine, checklist):
    task, folder, first = checklist
    seen: list[list[str]] = []

    def replace_and_look(e, s):
        mark_checklist_item(e, s, RECEPTION, task.id, "income_proof", "received", "", Upload("second.pdf",
                                                                                            io.BytesIO(PDF)))
        seen.append([name for name in _stored(folder) if name == first])

    engine.run(replace_and_look)
    assert (seen, first in _stored(folder)) == ([[first]], False)
