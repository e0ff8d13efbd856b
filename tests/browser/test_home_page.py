"""Landing pages in a real browser: `/` to the sign-in page, sign-in to each person's home (the member
area, the inbox), and the definitions list, in Arabic (RTL) and English (LTR), with axe-core."""

from engine.actors import SYSTEM
from tests.browser.conftest import serious_violations
from workflows import identity
from workflows.operations.accounts import create_user
from workflows.operations.members import register_member


def _people(engine):
    member = engine.run(register_member, SYSTEM, name_ar="نورة العتيبي",
                        national_id=identity.with_check_digit("107777777"))
    engine.run(lambda e, s: create_user(e, s, SYSTEM, "noura", "secret-pass", "نورة", [], member_id=member.id))
    engine.run(lambda e, s: create_user(e, s, SYSTEM, "rana", "secret-pass", "رنا", ["reception"]))


def _sign_in_from_slash(page, live_server, username, user_label, password_label, button):
    page.goto(live_server + "/")
    page.wait_for_url("**/login")
    page.get_by_label(user_label).fill(username)
    page.get_by_label(password_label).fill("secret-pass")
    page.get_by_role("button", name=button).click()


def test_slash_signs_a_member_in_to_the_member_area_in_arabic_and_english(page, live_server, engine):
    _people(engine)
    page.goto(live_server + "/")
    page.wait_for_url("**/login")
    html = page.locator("html")
    assert html.get_attribute("dir") == "rtl" and html.get_attribute("lang") == "ar"
    assert page.locator('link[rel="icon"]').get_attribute("href") == "/static/favicon.svg"
    _sign_in_from_slash(page, live_server, "noura", "اسم المستخدم", "كلمة المرور", "تسجيل الدخول")
    page.wait_for_url("**/member")
    assert page.get_by_role("heading", name="مرحبًا بك يا نورة").is_visible()
    assert page.get_by_role("heading", name="بوابة الأعضاء قادمة قريبًا").is_visible()
    assert html.get_attribute("dir") == "rtl"
    assert serious_violations(page) == []

    page.get_by_role("link", name="English").click()
    page.wait_for_url("**/member?lang=en")
    assert html.get_attribute("dir") == "ltr" and html.get_attribute("lang") == "en"
    assert page.get_by_role("heading", name="The member portal is on its way").is_visible()
    assert serious_violations(page) == []
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/login")
    assert html.get_attribute("lang") == "en"  # the language is remembered past signing out


def test_staff_sign_in_lands_on_the_inbox_in_english(page, live_server, engine):
    _people(engine)
    page.goto(live_server + "/login?lang=en")
    assert serious_violations(page) == []
    _sign_in_from_slash(page, live_server, "rana", "User name", "Password", "Sign in")
    page.wait_for_url("**/inbox")
    assert page.locator("html").get_attribute("lang") == "en"
    page.get_by_role("link", name="Tawasul").click()  # the brand goes home
    page.wait_for_url("**/inbox")


def test_definitions_page_in_arabic_and_english(page, live_server, deploy):
    deploy("review")
    page.goto(live_server + "/definitions")
    html = page.locator("html")
    assert html.get_attribute("dir") == "rtl" and html.get_attribute("lang") == "ar"
    assert page.get_by_role("heading", name="تعريفات العمليات المنشورة").is_visible()
    row = page.get_by_role("row", name="review")
    assert row.is_visible() and "Review a request" in row.inner_text()
    # The table flows right to left: the first column (the key) is the rightmost.
    key_box = page.get_by_role("columnheader", name="المفتاح").bounding_box()
    name_box = page.get_by_role("columnheader", name="الاسم").bounding_box()
    assert key_box["x"] > name_box["x"]
    assert serious_violations(page) == []

    page.get_by_role("link", name="English").click()
    page.wait_for_url("**/definitions?lang=en")
    assert html.get_attribute("dir") == "ltr" and html.get_attribute("lang") == "en"
    assert page.get_by_role("heading", name="Deployed process definitions").is_visible()
    key_box = page.get_by_role("columnheader", name="Key").bounding_box()
    name_box = page.get_by_role("columnheader", name="Name").bounding_box()
    assert key_box["x"] < name_box["x"]
    page.get_by_role("link", name="العربية").click()
    page.wait_for_url("**/definitions?lang=ar")
    assert html.get_attribute("dir") == "rtl"


def test_empty_page_says_so(page, live_server):
    page.goto(live_server + "/definitions?lang=en")
    assert page.get_by_text("No definition is deployed yet.").is_visible()
