"""The web app: health check, deployed definitions, refusing a database at another schema revision."""

import pytest

from tests.conftest import BPMN_DIR
from web import create_app


@pytest.fixture
def client(engine):
    app = create_app({"TESTING": True}, engine=engine)
    return app.test_client()


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_healthz_reports_an_unreachable_database(settings, clock):
    from engine.bootstrap import build_engine

    broken = build_engine(settings, database_url="postgresql+psycopg://nobody@127.0.0.1:1/none", clock=clock)
    response = create_app({"TESTING": True}, engine=broken).test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["status"] == "error"
    broken.dispose()


def test_lists_deployed_definitions_in_arabic_and_json(client, deploy):
    empty = client.get("/definitions")
    assert "لا توجد تعريفات منشورة بعد" in empty.get_data(as_text=True)
    deploy("review")
    page = client.get("/definitions").get_data(as_text=True)
    assert '<html lang="ar" dir="rtl">' in page and "bootstrap.rtl.min.css" in page  # the app's layout
    assert "تعريفات العمليات المنشورة" in page and "Review a request" in page and "review" in page
    listed = [{"key": "review", "version": 1, "name": "Review a request", "deployed_at": "2026-12-01T08:00:00+00:00"}]
    assert client.get("/definitions?format=json").get_json() == listed
    # `/?format=json` was where the list lived: it goes on answering, by a redirect that keeps the method.
    moved = client.get("/?format=json")
    assert moved.status_code == 308 and moved.headers["Location"] == "/definitions?format=json"
    assert client.get("/?format=json", follow_redirects=True).get_json() == listed
    assert client.get("/", headers={"Accept": "application/json"}, follow_redirects=True).get_json() == listed
    assert BPMN_DIR.exists()
    english = client.get("/definitions?lang=en").get_data(as_text=True)
    assert '<html lang="en" dir="ltr">' in english and "Deployed process definitions" in english
    # The language chosen is remembered, on this page as on the others.
    assert '<html lang="en" dir="ltr">' in client.get("/definitions").get_data(as_text=True)
    assert '<html lang="en" dir="ltr">' in client.get("/definitions?lang=xx").get_data(as_text=True)


@pytest.fixture
def people(engine):
    from engine.actors import SYSTEM
    from web import auth
    from workflows import identity
    from workflows.operations.accounts import create_user
    from workflows.operations.members import register_member

    auth.throttle._failures.clear()
    member = engine.run(register_member, SYSTEM, name_ar="نورة العتيبي",
                        national_id=identity.with_check_digit("107777777"))
    for username, roles, member_id in (("rana", ["reception"], None), ("owner", ["process_owner"], None),
                                       ("boss", ["administrator", "supervisor"], None),
                                       ("noura", [], member.id)):
        engine.run(lambda e, s, u=username, r=roles, m=member_id: create_user(
            e, s, SYSTEM, u, "secret-pass", "نورة" if u == "noura" else u, r, member_id=m))


@pytest.mark.parametrize("username, home", [("rana", "/inbox"), ("boss", "/supervision"), ("owner", "/modeler"),
                                            ("noura", "/member")])
def test_everyone_lands_on_their_home_after_signing_in_and_from_slash(client, people, username, home):
    from tests.web.helpers import sign_in

    token = sign_in(client, "x-nobody", "wrong")  # a failed try first: the form's token
    landed = client.post("/login", data={"username": username, "password": "secret-pass", "csrf_token": token})
    assert landed.status_code == 302 and landed.headers["Location"] == home
    again = client.get("/")
    assert again.status_code == 302 and again.headers["Location"] == home
    assert client.get(home).status_code == 200


def test_signed_out_slash_goes_to_the_sign_in_page_which_offers_itself_and_the_icon(client):
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    page = client.get("/login").get_data(as_text=True)
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in page
    # Elsewhere, signed out, the bar offers the sign-in page; the sign-in page itself does not link to itself.
    assert 'href="/login"' not in page
    assert 'href="/login"' in client.get("/definitions").get_data(as_text=True)
    with client.get("/favicon.ico") as icon:
        assert icon.status_code == 200 and icon.mimetype == "image/svg+xml" and b"<svg" in icon.data
    with client.get("/static/favicon.svg") as icon:
        assert icon.status_code == 200
    assert client.get("/member").headers["Location"].startswith("/login")


def test_the_member_area_is_a_styled_page_in_both_languages(client, people):
    from tests.web.helpers import sign_in

    sign_in(client, "noura")
    page = client.get("/member").get_data(as_text=True)
    assert '<html lang="ar" dir="rtl">' in page and "bootstrap.rtl.min.css" in page
    assert "مرحبًا بك يا نورة" in page and "بوابة الأعضاء قادمة قريبًا" in page
    assert "Inbox" not in page and "صندوق المهام" not in page  # a member has no inbox to go to
    english = client.get("/member?lang=en").get_data(as_text=True)
    assert '<html lang="en" dir="ltr">' in english and "The member portal is on its way" in english
    assert "rate the service you received." in english
    # The language is remembered for the member: their next visit, after signing in again, is in English.
    from tests.web.helpers import csrf_token

    client.post("/logout", data={"csrf_token": csrf_token(english)})
    with client.session_transaction() as session:
        session.clear()
    sign_in(client, "noura")
    assert '<html lang="en" dir="ltr">' in client.get("/member").get_data(as_text=True)


def test_the_app_refuses_a_database_whose_schema_is_behind(settings, clock, tmp_path):
    from engine.errors import ConfigError
    from engine.schema import ENGINE, head_revision, upgrade_schema
    from workflows.bootstrap import build
    from workflows.schema import DOMAIN
    from workflows.schema import upgrade_schema as upgrade_everything

    engine = build(settings, database_url=f"sqlite:///{tmp_path / 'old.db'}", clock=clock)
    with pytest.raises(ConfigError, match=r"schema revision none \(empty\).*needs .*run `tawasul init`"):
        create_app({"TESTING": True}, engine=engine)
    assert upgrade_schema(engine.db) == head_revision(ENGINE)  # the engine's tables alone are not enough
    with pytest.raises(ConfigError, match=rf"schema revision none \(empty\) but .* needs {head_revision(DOMAIN)}"):
        create_app({"TESTING": True}, engine=engine)
    assert upgrade_everything(engine.db)["domain"] == head_revision(DOMAIN)
    assert create_app({"TESTING": True}, engine=engine).test_client().get("/healthz").status_code == 200
    engine.dispose()
