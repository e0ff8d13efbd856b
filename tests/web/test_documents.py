"""The checklist on a verification task: marking items, attaching files within the type and
size limits, downloading them; and the error pages."""

import html
import io

import pytest

from engine.actors import SYSTEM
from tests.support.desk import RECEPTION, Desk
from tests.web.helpers import csrf_token as _token
from tests.web.helpers import sign_in as _login
from web import auth, create_app
from workflows.operations.accounts import create_user
from workflows.requests import documents

PDF = b"%PDF-1.7\n" + b"0" * 200


@pytest.fixture
def setup(engine, tmp_path):
    auth.throttle._failures.clear()
    engine.settings["documents"] = {"dir": str(tmp_path / "uploads"), "max_mb": 1, "types": ["pdf", "png"]}
    desk = Desk(engine)
    request = desk.open("financial_support")
    desk.complete(RECEPTION, request, "intake", {"visit_summary": "حضر", "inquiries_answered": True})
    check = desk.task(request, "check_data")
    for username, roles in (("rana", ["reception"]), ("ali", ["committee"])):
        engine.run(lambda e, s, u=username, r=roles: create_user(e, s, SYSTEM, u, "secret-pass", u, r))
    client = create_app({"TESTING": True, "SECRET_KEY": "t"}, engine=engine).test_client()
    return client, check, request, tmp_path / "uploads"


def _items(engine, request):
    return {d.kind: d for d in engine.query(lambda e, s: documents(s, request.id))}


def _files(folder):
    return sorted(p.name for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def test_a_verification_task_marks_the_checklist(setup, engine):
    client, check, request, _ = setup
    _login(client, "rana")
    page = client.get(f"/tasks/{check.id}").get_data(as_text=True)
    assert f'action="/tasks/{check.id}/documents/national_id"' in page
    assert 'type="file" id="u-income_proof"' in page and 'id="u-national_id"' not in page  # PDPL: ID not stored
    assert "الملف (pdf, png، حتى 1 ميغابايت)" in page
    response = client.post(f"/tasks/{check.id}/documents/national_id",
                           data={"csrf_token": _token(page), "state": "verified"}, follow_redirects=True)
    assert "حُدّثت قائمة المستندات" in response.get_data(as_text=True)
    item = _items(engine, request)["national_id"]
    assert (item.state, item.verified_by) == ("verified", "rana")
    client.post(f"/tasks/{check.id}/documents/iban_certificate",
                data={"csrf_token": _token(page), "state": "received"})
    response = client.post(f"/tasks/{check.id}/documents/iban_certificate",
                           data={"csrf_token": _token(page), "state": "missing", "note": ""}, follow_redirects=True)
    assert "حقل «ملاحظة» مطلوب." in response.get_data(as_text=True)
    assert _items(engine, request)["iban_certificate"].state == "received"  # unchanged


def test_a_file_is_checked_stored_and_downloaded(setup, engine):
    client, check, request, folder = setup
    _login(client, "rana")
    token = _token(client.get(f"/tasks/{check.id}").get_data(as_text=True))
    url = f"/tasks/{check.id}/documents/income_proof"

    def send(name, content, kind="income_proof"):
        body = client.post(f"/tasks/{check.id}/documents/{kind}", data={
            "csrf_token": token, "state": "received", "file": (io.BytesIO(content), name)},
            content_type="multipart/form-data", follow_redirects=True).get_data(as_text=True)
        return html.unescape(body)

    # In the page's language (Arabic by default; tests/reliability/test_uploads.py walks both).
    assert "الملف «\u2068tool.exe\u2069» ليس من الأنواع المقبولة (\u2068pdf, png\u2069)." in send("tool.exe", b"MZ..")
    assert "الملف «\u2068fake.pdf\u2069» ليس ملف \u2068PDF\u2069 حقيقيًا." in send("fake.pdf", b"<html>not a pdf</html>")
    assert "حجم الملف «\u2068big.pdf\u2069» أكبر من 1 ميغابايت." in send("big.pdf", b"%PDF-" + b"0" * (1024 * 1024 + 10))
    assert "هذا المستند يُتحقق منه ولا يُحفظ" in send("id.pdf", PDF, kind="national_id")
    assert client.post(f"/tasks/{check.id}/documents/not_a_kind", data={
        "csrf_token": token, "state": "received", "file": (io.BytesIO(PDF), "a.pdf")},
        content_type="multipart/form-data").status_code == 404  # not an item of this checklist
    assert _files(folder) == []  # nothing half-written
    assert _items(engine, request)["income_proof"].file_name is None
    assert "حُدّثت قائمة المستندات" in send("دخل.pdf", PDF)
    stored = _items(engine, request)["income_proof"].file_name
    assert stored and stored.startswith(f"{request.id}/income_proof-") and stored.endswith(".pdf")
    assert len(_files(folder)) == 1
    with client.get(f"/requests/{request.id}/documents/income_proof") as response:
        assert response.status_code == 200 and response.data == PDF
    assert client.get(f"/requests/{request.id}/documents/iban_certificate").status_code == 404
    # A body past the request limit gets the bilingual 413 page, not a traceback.
    boundary = "b0undary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"huge.pdf\"\r\n\r\n"
            .encode() + b"%PDF-" + b"0" * (3 * 1024 * 1024) + f"\r\n--{boundary}--\r\n".encode())
    response = client.post(url, data=body, content_type=f"multipart/form-data; boundary={boundary}")
    assert response.status_code == 413 and "حجم الملف أكبر من 1 ميغابايت" in response.get_data(as_text=True)


def test_a_role_without_the_lane_cannot_mark_or_upload(setup, engine):
    client, check, request, folder = setup
    _login(client, "ali")
    token = _token(client.get("/inbox").get_data(as_text=True))
    response = client.post(f"/tasks/{check.id}/documents/income_proof", data={
        "csrf_token": token, "state": "verified", "file": (io.BytesIO(PDF), "a.pdf")},
        content_type="multipart/form-data")
    assert response.status_code == 403
    assert _items(engine, request)["income_proof"].state != "verified" and _files(folder) == []


def test_error_pages_are_bilingual_pages_or_json(setup):
    client, *_ = setup
    response = client.get("/no-such-page")
    body = response.get_data(as_text=True)
    assert response.status_code == 404 and 'dir="rtl"' in body and "لا يوجد شيء على هذا العنوان" in body
    body = client.get("/no-such-page?lang=en").get_data(as_text=True)
    assert 'dir="ltr"' in body and "There is nothing at this address." in body
    response = client.get("/api/v1/nothing")
    assert response.status_code == 404 and response.is_json
    app = create_app({"SECRET_KEY": "t"}, engine=client.application.extensions["tawasul.engine"])
    response = app.test_client().post("/login", data={"username": "rana", "password": "x"})
    assert response.status_code == 400 and "أعد تحميل الصفحة" in response.get_data(as_text=True)
