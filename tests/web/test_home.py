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
    empty = client.get("/")
    assert "لا توجد تعريفات منشورة بعد" in empty.get_data(as_text=True)
    deploy("review")
    page = client.get("/").get_data(as_text=True)
    assert '<html lang="ar" dir="rtl">' in page
    assert "Review a request" in page and "review" in page
    assert client.get("/?format=json").get_json() == [
        {"key": "review", "version": 1, "name": "Review a request", "deployed_at": "2026-12-01T08:00:00+00:00"}
    ]
    assert BPMN_DIR.exists()
    english = client.get("/?lang=en").get_data(as_text=True)
    assert '<html lang="en" dir="ltr">' in english and "Deployed process definitions" in english
    assert '<html lang="ar" dir="rtl">' in client.get("/?lang=xx").get_data(as_text=True)


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
