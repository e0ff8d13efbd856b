"""Every staff page in Chromium, in Arabic and English, on a desktop and a phone-sized screen.

For each page: the language and direction of the document, no script error, no asset or
request that failed, the Content-Security-Policy sent and nothing on the page refused by it, no
serious or critical axe-core violation, nothing wider than the screen, and no English chrome
left on an Arabic page.
"""

from __future__ import annotations

import pytest

from engine.actors import SYSTEM, Actor
from tests.browser.conftest import serious_violations, sign_in
from tests.support.desk import RECEPTION, Desk
from workflows import identity
from workflows.notifications import dispatch_outbox
from workflows.operations.accounts import create_user
from workflows.operations.drafts import deploy_draft, edit_version
from workflows.operations.members import register_member
from workflows.read.drafts import draft_xml
from workflows.read.letters import letters_waiting

# Words of the English interface that must never show on an Arabic page (data may be English).
ENGLISH_CHROME = ("Inbox", "Members", "Sign out", "Save", "Search", "Claim", "Release", "Users and roles",
                  "History", "Contacts", "Page not found", "Not allowed", "Task", "Due", "Letters", "Print",
                  "Mark as sent", "Letters to post", "Supervision", "Reports", "Incidents", "Working calendar",
                  "Export", "Period", "Modeler", "Problems", "Deploy", "Save draft", "Version", "Drafts")


@pytest.fixture
def pages(engine):
    """A society with a request waiting at data checking and one past intake; the URL of each page."""
    desk = Desk(engine)
    waiting = desk.open("financial_support")
    moved = desk.open("financial_support")
    desk.complete(Actor.user("r", ["reception"]), moved, "intake", {"visit_summary": "تم", "inquiries_answered": True})
    for username, roles in (("sara", ["supervisor", "reception"]), ("rana", ["reception"]),
                            ("admin1", ["administrator"]), ("ali", ["committee"])):
        engine.run(lambda e, s, u=username, r=roles: create_user(e, s, SYSTEM, u, "secret-pass", u, r))
    task = desk.task(moved, "check_data")
    noura = desk.member
    desk.member = engine.run(register_member, RECEPTION, name_ar="سالم الدوسري",
                             national_id=identity.with_check_digit("104444444"))  # no mobile, no e-mail: a letter
    # Salem's request goes to the committee: its notice (a letter) carries the date promised to him.
    promised = desk.open("in_kind_support")
    desk.complete(RECEPTION, promised, "intake", {"visit_summary": "تم", "inquiries_answered": True})
    desk.verify_all(promised)
    desk.complete(RECEPTION, promised, "check_data", {"complete": True, "needs_referral": False})
    desk.complete(RECEPTION, promised, "acknowledgement", {"acknowledged": True, "ack_channel": "in_person"})
    dispatch_outbox(engine)
    letters = engine.query(letters_waiting, SYSTEM)
    [letter] = [one for one in letters if one.kind == "sent_to_committee"]
    desk.member = noura
    # The process owner's pages: a draft of member_request, deployed as version 2 with a task renamed,
    # while the cases above run on version 1.
    owner = Actor.user("admin1", roles=["administrator"])
    draft_id = engine.run(edit_version, owner, "member_request")
    xml = engine.query(draft_xml, owner, draft_id).replace('name="استقبال العضو', 'name="استقبال العضو وتوثيق', 1)
    engine.run(deploy_draft, owner, draft_id, 1, "اسم أوضح للاستقبال", xml.encode("utf-8"))
    return {
        "letters": "/letters",
        "letter": f"/letters/{letter.id}",
        "inbox": "/inbox",
        "task": f"/tasks/{task.id}",
        "case": f"/cases/{moved.instance_id}",
        "members": "/members?q=نورة",
        "member": f"/members/{desk.member.id}",
        "users": "/admin/users",
        "definitions": "/definitions",
        "not found": "/cases/999999",
        "waiting": f"/cases/{waiting.instance_id}",
        "promised case": f"/cases/{promised.instance_id}",
        "promised task": f"/tasks/{desk.task(promised, 'committee_review').id}",
        "board": "/supervision",
        "reports": "/supervision/reports",
        "processes": "/supervision/processes",
        "heat map": "/supervision/processes/member_request",
        "incidents": "/supervision/incidents",
        "calendar": "/admin/calendar",
        "modeler": "/modeler",
        "draft": f"/modeler/drafts/{draft_id}",
        "diff": "/modeler/member_request/diff?from=1&to=2",
        "draft forms": f"/modeler/drafts/{draft_id}/forms",
        "form editor": f"/modeler/drafts/{draft_id}/forms/intake.json",
        "migrate": "/modeler/member_request/migrate?from=1&to=2",
    }


#: The pages that show the date promised to the member (Gregorian and Hijri).
PROMISED = ("letter", "promised case", "promised task")


def _check(page, url, lang, problems, width, promised=False):
    """Open ``url`` in ``lang`` and add what is wrong with it to ``problems``.

    With ``promised``, the page must show the date promised to the member, Gregorian and Hijri.
    """
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(f"script error: {error}"))
    # A failed resource is reported by the response listener (a 403 or 404 page itself is expected).
    page.on("console", lambda message: errors.append(f"console: {message.text}")
            if message.type == "error" and not message.text.startswith("Failed to load resource") else None)
    page.on("requestfailed", lambda request: errors.append(f"request failed: {request.url}"))
    # What the Content-Security-Policy refuses (an inline script or style, a source elsewhere).
    page.add_init_script("""window.cspViolations = [];
        document.addEventListener("securitypolicyviolation", (e) => window.cspViolations.push(
            `${e.effectiveDirective} refused ${e.blockedURI || "inline"} at ${e.sourceFile}:${e.lineNumber}`));""")
    page.on("response", lambda response: errors.append(f"{response.status}: {response.url}")
            if response.status >= 400 and response.request.resource_type != "document" else None)
    separator = "&" if "?" in url else "?"
    response = page.goto(f"{url}{separator}lang={lang}")
    page.wait_for_load_state("networkidle")
    if page.locator("#diagram").count():
        page.locator('#diagram[data-ready="true"]').wait_for()
    for drawn in ("#modeler-app", "#diff-app"):  # the modeler's editor and diff draw after loading
        if page.locator(drawn).count():
            page.locator(f'{drawn}[data-ready="true"]').wait_for(timeout=20000)
    where = f"{url} [{lang}, {width}px]"
    if "frame-ancestors 'none'" not in (response.headers.get("content-security-policy") or ""):
        problems.append(f"{where}: no Content-Security-Policy")
    problems.extend(f"{where}: CSP violation: {v}" for v in page.evaluate("window.cspViolations"))
    html = page.locator("html")
    if (html.get_attribute("lang"), html.get_attribute("dir")) != (lang, "rtl" if lang == "ar" else "ltr"):
        problems.append(f"{where}: lang={html.get_attribute('lang')} dir={html.get_attribute('dir')}")
    problems.extend(f"{where}: {error}" for error in errors)
    overflow = page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
    if overflow > 1:
        # Name the outermost element that sticks out, so the message says what to fix.
        culprit = page.evaluate("""() => {
            const width = document.documentElement.clientWidth;
            const out = [...document.body.querySelectorAll('*')].filter(e => {
                const box = e.getBoundingClientRect();
                return box.width > 0 && (box.right > width + 1 || box.left < -1)
                    && !(e.closest('.table-responsive') && e.closest('.table-responsive') !== e);
            });
            const top = out.find(e => !out.includes(e.parentElement)) || out[0];
            return top ? `${top.tagName.toLowerCase()}.${[...top.classList].join('.')}#${top.id}` : '?';
        }""")
        problems.append(f"{where}: the page is {overflow}px wider than the screen ({culprit})")
    problems.extend(f"{where}: axe {v['id']} ({v['impact']}): {v['nodes'][0]['target']}"
                    for v in serious_violations(page))
    if promised:
        shown = page.locator("[data-promised]")
        if not (shown.count() == 1 and shown.is_visible() and "1448-" in shown.inner_text()):
            problems.append(f"{where}: the date promised to the member is not shown with its Hijri date")
    if lang == "ar":
        chrome = page.evaluate("""() => [...document.querySelectorAll('nav, h1, h2, h3, th, button, label, .btn')]
                                    .map(e => e.innerText.trim())""")
        problems.extend(f"{where}: English text {text!r} on the Arabic page" for text in chrome
                        if text in ENGLISH_CHROME)


@pytest.mark.parametrize("width", [1280, 390])
def test_every_page_in_both_languages(browser, live_server, pages, width):
    problems: list[str] = []
    for username, names in (("sara", ["inbox", "task", "case", "members", "member", "definitions", "not found",
                                      "waiting", "letters", "letter", "promised case", "board", "reports",
                                      "processes", "heat map", "incidents"]),
                            ("ali", ["promised task"]),
                            ("admin1", ["users", "calendar", "modeler", "draft", "diff", "draft forms",
                                        "form editor", "migrate"]), ("rana", ["users", "board"])):
        context = browser.new_context(locale="ar-SA", viewport={"width": width, "height": 900})
        page = context.new_page()
        sign_in(page, live_server, username)
        for name in names:
            for lang in ("ar", "en"):
                page = context.new_page()  # fresh listeners per page
                _check(page, live_server + pages[name], lang, problems, width, promised=name in PROMISED)
                page.close()
        context.close()
    # The sign-in page itself, signed out.
    context = browser.new_context(locale="ar-SA", viewport={"width": width, "height": 900})
    for lang in ("ar", "en"):
        _check(context.new_page(), live_server + "/login", lang, problems, width)
    context.close()
    assert problems == [], "\n".join(problems)
