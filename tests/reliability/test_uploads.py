"""Uploads that must be refused: too large, of the wrong type, or named like a path.

The only upload of the app is a checklist item's file on a verification task
(``POST /tasks/<task>/documents/<kind>``; the API and the admin pages take no file). Each bad
file below is sent through the real form, as a browser (or curl) encodes it, by the reception
user in Arabic and by another in English. Each answer is a page (never a 500) holding the exact
refusal in that language, naming the file and the rule; afterwards not one database row has
changed, the uploads folder holds the same files as before, and no file was written anywhere
else under the test's temporary folder. A body past the request limit gets the 413 page in both
languages. A path in the URL (``..`` as the item) is a 404. Last, a good file on the same item
is accepted: the refusals were about the files, not about the form.
"""

from __future__ import annotations

import html
import re

import pytest

from engine.actors import SYSTEM
from tests.reliability.test_web_authorization import PASSWORD, PDF, World, build_world
from tests.reliability.test_web_escaping import multipart
from tests.web.helpers import csrf_token
from web import auth
from workflows.operations.accounts import create_user
from workflows.read.tasks import document_file

PNG = b"\x89PNG\r\n\x1a\n" + b"0" * 100
ONE_MB = 1024 * 1024  # the world's documents.max_mb; the request limit is one MB more

#: (what it is, file name, content, checklist item, the refusal in Arabic, in English)
BAD_FILES = [
    ("a program", "tool.exe", b"MZ\x90\x00",
     "income_proof", "الملف «\u2068tool.exe\u2069» ليس من الأنواع المقبولة (\u2068pdf, png\u2069).",
     "“\u2068tool.exe\u2069” is not an accepted type (\u2068pdf, png\u2069)."),
    ("a double extension", "scan.pdf.exe", PDF,
     "income_proof", "الملف «\u2068scan.pdf.exe\u2069» ليس من الأنواع المقبولة (\u2068pdf, png\u2069).",
     "“\u2068scan.pdf.exe\u2069” is not an accepted type (\u2068pdf, png\u2069)."),
    ("no extension", "scan", PDF,
     "income_proof", "الملف «\u2068scan\u2069» ليس من الأنواع المقبولة (\u2068pdf, png\u2069).",
     "“\u2068scan\u2069” is not an accepted type (\u2068pdf, png\u2069)."),
    ("a page called PDF", "fake.pdf", b"<html><script>alert(1)</script></html>",
     "income_proof", "الملف «\u2068fake.pdf\u2069» ليس ملف \u2068PDF\u2069 حقيقيًا.", "“\u2068fake.pdf\u2069” is not a real \u2068PDF\u2069 file."),
    ("a PDF called PNG", "photo.png", PDF,
     "income_proof", "الملف «\u2068photo.png\u2069» ليس ملف \u2068PNG\u2069 حقيقيًا.", "“\u2068photo.png\u2069” is not a real \u2068PNG\u2069 file."),
    ("an empty file", "empty.pdf", b"",
     "income_proof", "الملف «\u2068empty.pdf\u2069» فارغ.", "“\u2068empty.pdf\u2069” is empty."),
    ("over the size limit", "big.pdf", b"%PDF-" + b"0" * ONE_MB,
     "income_proof", "حجم الملف «\u2068big.pdf\u2069» أكبر من 1 ميغابايت.", "“\u2068big.pdf\u2069” is larger than 1 MB."),
    ("up two folders", "../../evil.pdf", PDF, "income_proof",
     "اسم الملف «\u2068../../evil.pdf\u2069» يذكر مجلدًا أو يحوي حرف تحكم؛ أرسل الملف نفسه.",
     "The file name “\u2068../../evil.pdf\u2069” names a folder or holds a control character; send the file itself."),
    ("up two Windows folders", "..\\..\\evil.pdf", PDF, "income_proof",
     "اسم الملف «\u2068..\\..\\evil.pdf\u2069» يذكر مجلدًا أو يحوي حرف تحكم؛ أرسل الملف نفسه.",
     "The file name “\u2068..\\..\\evil.pdf\u2069” names a folder or holds a control character; send the file itself."),
    ("an absolute path", "/tmp/evil.pdf", PDF, "income_proof",
     "اسم الملف «\u2068/tmp/evil.pdf\u2069» يذكر مجلدًا أو يحوي حرف تحكم؛ أرسل الملف نفسه.",
     "The file name “\u2068/tmp/evil.pdf\u2069” names a folder or holds a control character; send the file itself."),
    ("a drive path", "C:\\evil.png", PNG, "income_proof",
     "اسم الملف «\u2068C:\\evil.png\u2069» يذكر مجلدًا أو يحوي حرف تحكم؛ أرسل الملف نفسه.",
     "The file name “\u2068C:\\evil.png\u2069” names a folder or holds a control character; send the file itself."),
    ("the parent folder itself", "..", PDF, "income_proof",
     "اسم الملف «..» يذكر مجلدًا أو يحوي حرف تحكم؛ أرسل الملف نفسه.",
     "The file name “..” names a folder or holds a control character; send the file itself."),
    ("a control character", "evil\x1b.pdf", PDF, "income_proof",
     "اسم الملف «\u2068evil\x1b.pdf\u2069» يذكر مجلدًا أو يحوي حرف تحكم؛ أرسل الملف نفسه.",
     "The file name “\u2068evil\x1b.pdf\u2069” names a folder or holds a control character; send the file itself."),
    ("an ID, which is verified, never stored", "id.pdf", PDF,
     "national_id", "هذا المستند يُتحقق منه ولا يُحفظ: لا ترفق الملف.",
     "This document is verified, not stored: do not attach the file."),
]


@pytest.fixture(scope="module")
def world(tmp_path_factory, postgres_run_database):
    built = build_world(tmp_path_factory, postgres_run_database)
    yield built
    built.engine.dispose()


@pytest.fixture(scope="module")
def clients(world: World):
    """The reception user in Arabic (the default) and a second reception user in English."""
    world.engine.run(create_user, SYSTEM, "reception_en", PASSWORD, "reception in English", ["reception"])
    english = world.fresh_client("reception_en")
    assert english.get("/inbox?lang=en").status_code == 200  # remembered for the account
    return {"ar": world.client("reception"), "en": english}


def _files_under(folder) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def _send(client, task: str, kind: str, name: str, content: bytes):
    token = csrf_token(client.get(f"/tasks/{task}").get_data(as_text=True))
    body, content_type = multipart({"csrf_token": token, "state": "received"}, name, content)
    return client.post(f"/tasks/{task}/documents/{kind}", data=body, content_type=content_type,
                       follow_redirects=True)


def _alerts(page: str) -> list[str]:
    return [html.unescape(a).strip() for a in re.findall(r'<div class="alert[^"]*" role="alert">(.*?)</div>', page,
                                                             re.S)]


def test_every_bad_file_is_refused_in_the_users_language_and_nothing_is_stored(world, clients, tmp_path_factory):
    task = world.ids["check_task"]
    everywhere = tmp_path_factory.getbasetemp()
    stored_before = _files_under(world.uploads)
    assert len(stored_before) == 1  # the world's proof of income, which a refused file must not replace
    files_before = _files_under(everywhere)
    before = world.dump()
    wrong = []
    for what, name, content, kind, arabic, english in BAD_FILES:
        for lang, refusal in (("ar", arabic), ("en", english)):
            response = _send(clients[lang], task, kind, name, content)
            page = response.get_data(as_text=True)
            alerts = _alerts(page)
            if response.status_code != 200 or alerts != [refusal] or f'lang="{lang}"' not in page:
                wrong.append((what, lang, response.status_code, alerts))
    assert wrong == [], "\n".join(map(str, wrong))
    assert world.dump() == before
    assert _files_under(world.uploads) == stored_before
    assert _files_under(everywhere) == files_before


def test_a_body_past_the_request_limit_gets_the_413_page_in_both_languages(world, clients):
    task = world.ids["check_task"]
    stored_before, before = _files_under(world.uploads), world.dump()
    for lang, refusal in (("ar", "حجم الملف أكبر من 1 ميغابايت."), ("en", "The file is larger than 1 MB.")):
        token = csrf_token(clients[lang].get(f"/tasks/{task}").get_data(as_text=True))
        body, content_type = multipart({"csrf_token": token, "state": "received"}, "huge.pdf",
                                       b"%PDF-" + b"0" * (3 * ONE_MB))
        response = clients[lang].post(f"/tasks/{task}/documents/income_proof", data=body, content_type=content_type)
        page = html.unescape(response.get_data(as_text=True))
        assert response.status_code == 413 and refusal in page and f'lang="{lang}"' in page, lang
    assert world.dump() == before and _files_under(world.uploads) == stored_before


def test_a_path_in_the_url_is_not_found(world, clients):
    task, request_id = world.ids["check_task"], world.ids["checking_request"]
    client = clients["ar"]
    token = csrf_token(client.get(f"/tasks/{task}").get_data(as_text=True))
    before = world.dump()
    for kind in ("..", "%2e%2e", "..%2F..%2Fetc%2Fpasswd", "%2E%2E%5C%2E%2E%5Cwin.ini"):
        body, content_type = multipart({"csrf_token": token, "state": "received"}, "a.pdf", PDF)
        response = client.post(f"/tasks/{task}/documents/{kind}", data=body, content_type=content_type)
        assert response.status_code == 404 and 'dir="rtl"' in response.get_data(as_text=True), kind
        assert client.get(f"/requests/{request_id}/documents/{kind}").status_code == 404, kind
    assert world.dump() == before


def test_a_nul_in_the_file_name_or_the_url_gets_the_400_page_in_both_languages(world, clients):
    # A NUL is refused before any route runs (PostgreSQL cannot hold it): the page says so.
    task = world.ids["check_task"]
    stored_before, before = _files_under(world.uploads), world.dump()
    refusals = {"ar": "يحتوي الطلب على محرف NUL (\\0)، ولا يجوز أن يحتويه أي حقل.",
                "en": "The request holds a NUL character (\\0), which no field may contain."}
    for lang, refusal in refusals.items():
        token = csrf_token(clients[lang].get(f"/tasks/{task}").get_data(as_text=True))
        for kind, name in (("income_proof", "evil.pdf\x00.png"), ("income_proof%00", "a.pdf")):
            body, content_type = multipart({"csrf_token": token, "state": "received"}, name, PDF)
            response = clients[lang].post(f"/tasks/{task}/documents/{kind}", data=body, content_type=content_type)
            page = html.unescape(response.get_data(as_text=True))
            assert response.status_code == 400 and refusal in page and f'lang="{lang}"' in page, (lang, kind)
    assert world.dump() == before and _files_under(world.uploads) == stored_before


def test_a_good_file_on_the_same_item_is_accepted_and_replaces_the_old_one(world, clients):
    # The control for the tests above: the same form with a good file is stored.
    task, request_id = world.ids["check_task"], world.ids["checking_request"]
    [old] = _files_under(world.uploads)
    auth.throttle._failures.clear()
    response = _send(clients["en"], task, "income_proof", "كشف الدخل.pdf", PDF)
    assert response.status_code == 200 and _alerts(response.get_data(as_text=True)) == ["The checklist is updated."]
    [new] = _files_under(world.uploads)
    assert new != old and new.startswith(f"{request_id}/income_proof-") and new.endswith(".pdf")
    assert world.engine.query(document_file, SYSTEM, request_id, "income_proof").read_bytes() == PDF
