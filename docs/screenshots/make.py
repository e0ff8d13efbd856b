"""Take the README's screenshots: demo data in a scratch database, the main pages in Chromium.

.venv/bin/python docs/screenshots/make.py      # writes docs/screenshots/*.png
"""

from __future__ import annotations

import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from engine.actors import SYSTEM  # noqa: E402
from engine.db import make_engine  # noqa: E402
from engine.definitions import deploy_definition  # noqa: E402
from engine.jobs import run_due_jobs  # noqa: E402
from engine.settings import load_settings  # noqa: E402
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from web import create_app  # noqa: E402
from workflows.bootstrap import build  # noqa: E402
from workflows.demo import load_demo  # noqa: E402
from workflows.schema import upgrade_schema  # noqa: E402

OUT = Path(__file__).parent


def main() -> None:
    """Render every page in Arabic and English into PNG files beside this script."""
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/shots.db"
        upgrade_schema(make_engine(url))
        settings = load_settings(**{"notifications.sms": {"backend": "log", "path": f"{tmp}/sms.log"},
                                    "notifications.email": {"backend": "log", "path": f"{tmp}/email.log"}})
        engine = build(settings, database_url=url)
        for path in sorted((ROOT / "bpmn").glob("*.bpmn")):
            engine.run(deploy_definition, SYSTEM, path.read_bytes(), path.name)
        load_demo(engine)
        run_due_jobs(engine)  # overdue SLA warnings and escalations, as the worker would
        server = make_server("127.0.0.1", 0, create_app({"SECRET_KEY": "screenshots"}, engine=engine), threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_port}"
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 800}, locale="ar-SA")
            page.goto(base + "/login")
            page.screenshot(path=OUT / "login-ar.png")
            page.fill("#username", "committee1")
            page.fill("#password", "demo-pass")
            page.click("button[type=submit]")
            page.wait_for_url("**/inbox")
            page.goto(base + "/inbox?sort=due")
            page.screenshot(path=OUT / "inbox-ar.png", full_page=True)
            case_link = page.locator("td a[href^='/cases/']").first
            case_link.click()
            page.locator('#diagram[data-ready="true"]').wait_for()
            page.screenshot(path=OUT / "case-ar.png", full_page=True)
            page.goto(base + "/inbox?sort=due")
            page.locator("td a[href^='/tasks/']").first.click()
            page.screenshot(path=OUT / "task-ar.png", full_page=True)
            page.goto(base + "/members?q=نوره")
            page.locator("td a").first.click()
            page.screenshot(path=OUT / "member-ar.png", full_page=True)
            page.goto(base + "/inbox?lang=en")
            page.screenshot(path=OUT / "inbox-en.png", full_page=True)
            page.goto(base + "/inbox?lang=ar")
            page.set_viewport_size({"width": 390, "height": 844})
            page.screenshot(path=OUT / "inbox-phone-ar.png", full_page=True)
            # The supervisors' pages, as supervisor1.
            page = browser.new_page(viewport={"width": 1280, "height": 800}, locale="ar-SA")
            page.goto(base + "/login?lang=ar")
            page.fill("#username", "supervisor1")
            page.fill("#password", "demo-pass")
            page.click("button[type=submit]")
            page.wait_for_url("**/supervision")
            page.screenshot(path=OUT / "board-ar.png", full_page=True)
            page.goto(base + "/supervision/reports?period=last_month")
            page.wait_for_load_state("networkidle")
            page.screenshot(path=OUT / "reports-ar.png", full_page=True)
            page.goto(base + "/supervision/processes/member_request")
            page.locator("#heatmap .djs-container").wait_for()
            page.wait_for_load_state("networkidle")
            page.screenshot(path=OUT / "heatmap-ar.png", full_page=True)
            # The process owner's pages, as owner1: the modeler, the demo's draft, its deploy, the diff, a move.
            page = browser.new_page(viewport={"width": 1280, "height": 860}, locale="ar-SA")
            page.goto(base + "/login?lang=ar")
            page.fill("#username", "owner1")
            page.fill("#password", "demo-pass")
            page.click("button[type=submit]")
            page.wait_for_url("**/modeler")
            page.screenshot(path=OUT / "modeler-ar.png", full_page=True)
            draft = page.locator("[data-draft]").first.get_attribute("data-draft")
            page.goto(f"{base}/modeler/drafts/{draft}")
            page.locator("#modeler-app[data-ready='true']").wait_for(timeout=30000)
            page.screenshot(path=OUT / "modeler-edit-ar.png")
            page.goto(f"{base}/modeler/drafts/{draft}/forms/inquiry_answer.json")
            page.wait_for_load_state("networkidle")
            page.screenshot(path=OUT / "modeler-form-ar.png", full_page=True)
            page.goto(f"{base}/modeler/drafts/{draft}")
            page.locator("#modeler-app[data-ready='true']").wait_for(timeout=30000)
            page.evaluate("""async () => {
                const app = document.getElementById("modeler-app");
                await fetch(app.dataset.deployUrl, { method: "POST", headers: { "Content-Type": "application/json",
                    "X-CSRFToken": document.querySelector('meta[name="csrf-token"]').content },
                    body: JSON.stringify({ revision: Number(app.dataset.revision), note: "اسم أوضح لمهمة الرد" }) });
            }""")
            page.goto(base + "/modeler/inquiry/diff?from=1&to=2")
            page.locator("#diff-app[data-ready='true']").wait_for(timeout=30000)
            page.screenshot(path=OUT / "modeler-diff-ar.png", full_page=True)
            page.goto(base + "/modeler/inquiry/migrate?from=1&to=2")
            page.wait_for_load_state("networkidle")
            page.screenshot(path=OUT / "modeler-migrate-ar.png", full_page=True)
            browser.close()
        server.shutdown()
        engine.dispose()
    print("written:", ", ".join(sorted(p.name for p in OUT.glob("*.png"))))


if __name__ == "__main__":
    main()
