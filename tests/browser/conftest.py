"""Browser tests: Playwright driving Debian's Chromium (never a downloaded browser), headless."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from werkzeug.serving import make_server

from web import create_app

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
#: axe-core, as the app serves it (the Content-Security-Policy runs no inline script, so it is
#: loaded from the page's own site rather than injected as text).
AXE = "/vendor/axe-core/axe.min.js"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
]


@pytest.fixture
def live_server(engine) -> Iterator[str]:
    """The app on 127.0.0.1 in a thread; yields its base URL."""
    from web import auth

    auth.throttle._failures.clear()
    app = create_app({"TESTING": True, "SECRET_KEY": "browser-tests"}, engine=engine)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="ar-SA")
    page = context.new_page()
    yield page
    context.close()


def sign_in(page, live_server: str, username: str) -> None:
    """Sign ``username`` (password ``secret-pass``) in through the Arabic sign-in page; wait for their home."""
    page.goto(live_server + "/login?lang=ar")
    page.get_by_label("اسم المستخدم").fill(username)
    page.get_by_label("كلمة المرور").fill("secret-pass")
    page.get_by_role("button", name="تسجيل الدخول").click()
    page.wait_for_url(lambda url: "/login" not in url)  # the inbox, or a supervisor's board


def serious_violations(page) -> list[dict]:
    """The serious and critical axe-core violations of the page as it stands."""
    address = urlsplit(page.url)
    page.add_script_tag(url=f"{address.scheme}://{address.netloc}{AXE}")
    violations = json.loads(page.evaluate("async () => JSON.stringify((await axe.run()).violations)"))
    return [v for v in violations if v["impact"] in ("serious", "critical")]
