"""The definitions page in a real browser, in Arabic (RTL) and English (LTR)."""


def test_definitions_page_in_arabic_and_english(page, live_server, deploy):
    deploy("review")
    page.goto(live_server + "/")
    html = page.locator("html")
    assert html.get_attribute("dir") == "rtl" and html.get_attribute("lang") == "ar"
    assert page.get_by_role("heading", name="تعريفات العمليات المنشورة").is_visible()
    row = page.get_by_role("row", name="review")
    assert row.is_visible() and "Review a request" in row.inner_text()
    # The table flows right to left: the first column (the key) is the rightmost.
    key_box = page.get_by_role("columnheader", name="المفتاح").bounding_box()
    name_box = page.get_by_role("columnheader", name="الاسم").bounding_box()
    assert key_box["x"] > name_box["x"]

    page.get_by_role("link", name="English").click()
    page.wait_for_url("**/?lang=en")
    assert html.get_attribute("dir") == "ltr" and html.get_attribute("lang") == "en"
    assert page.get_by_role("heading", name="Deployed process definitions").is_visible()
    key_box = page.get_by_role("columnheader", name="Key").bounding_box()
    name_box = page.get_by_role("columnheader", name="Name").bounding_box()
    assert key_box["x"] < name_box["x"]
    page.get_by_role("link", name="العربية").click()
    page.wait_for_url("**/?lang=ar")
    assert html.get_attribute("dir") == "rtl"


def test_empty_page_says_so(page, live_server):
    page.goto(live_server + "/?lang=en")
    assert page.get_by_text("No definition is deployed yet.").is_visible()
