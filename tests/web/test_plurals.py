"""Counts on the pages go through ngettext, with Arabic's six plural forms (zero, one, two, few
3–10, many 11–99, other 100+), so a page never says «3 مهمة» or «2 مهمة»."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from flask import render_template_string

from engine.actors import SYSTEM, Actor
from tests.support.desk import Desk
from tests.web.helpers import sign_in
from web import auth, create_app
from workflows.operations.accounts import create_user

WEB = Path(__file__).resolve().parents[2] / "web"
COUNTS = [0, 1, 2, 3, 10, 11, 100, 101]

#: Each counted noun a page shows, and the Arabic and English words for COUNTS.
EXPECTED = {
    ("%(num)s can move now", "%(num)s can move now"): (
        ["لا شيء منها يمكن نقله الآن", "واحدة يمكن نقلها الآن", "اثنتان يمكن نقلهما الآن", "3 يمكن نقلها الآن",
         "10 يمكن نقلها الآن", "11 يمكن نقلها الآن", "100 يمكن نقلها الآن", "101 يمكن نقلها الآن"],
        [f"{n} can move now" for n in COUNTS]),
    ("%(num)s case", "%(num)s cases"): (
        ["لا حالات", "حالة واحدة", "حالتان", "3 حالات", "10 حالات", "11 حالة", "100 حالة", "101 حالة"],
        ["0 cases", "1 case", "2 cases", "3 cases", "10 cases", "11 cases", "100 cases", "101 cases"]),
    ("%(num)s case could not move:", "%(num)s cases could not move:"): (
        ["لم تتعذّر أي حالة:", "تعذّر نقل حالة واحدة:", "تعذّر نقل حالتين:", "تعذّر نقل 3 حالات:", "تعذّر نقل 10 حالات:",
         "تعذّر نقل 11 حالة:", "تعذّر نقل 100 حالة:", "تعذّر نقل 101 حالة:"],
        [f"{n} case{'' if n == 1 else 's'} could not move:" for n in COUNTS]),
    ("%(num)s case moved.", "%(num)s cases moved."): (
        ["لم تُنقل أي حالة.", "نُقلت حالة واحدة.", "نُقلت حالتان.", "نُقلت 3 حالات.", "نُقلت 10 حالات.", "نُقلت 11 حالة.",
         "نُقلت 100 حالة.", "نُقلت 101 حالة."],
        [f"{n} case{'' if n == 1 else 's'} moved." for n in COUNTS]),
    ("%(num)s running case", "%(num)s running cases"): (
        ["لا حالات جارية", "حالة جارية واحدة", "حالتان جاريتان", "3 حالات جارية", "10 حالات جارية", "11 حالة جارية",
         "100 حالة جارية", "101 حالة جارية"],
        [f"{n} running case{'' if n == 1 else 's'}" for n in COUNTS]),
    ("Move the %(num)s case that can move", "Move the %(num)s cases that can move"): (
        ["لا حالة يمكن نقلها", "انقل الحالة الواحدة التي يمكن نقلها", "انقل الحالتين اللتين يمكن نقلهما",
         "انقل الحالات الـ3 التي يمكن نقلها", "انقل الحالات الـ10 التي يمكن نقلها", "انقل الـ11 حالة التي يمكن نقلها",
         "انقل الـ100 حالة التي يمكن نقلها", "انقل الـ101 حالة التي يمكن نقلها"],
        [f"Move the {n} case{'' if n == 1 else 's'} that can move" for n in COUNTS]),
    ("Give the process a name of at most %(num)s character.",
     "Give the process a name of at most %(num)s characters."): (
        ["سمِّ العملية باسم لا يتجاوز 0 حرف.", "سمِّ العملية باسم لا يتجاوز حرفًا واحدًا.", "سمِّ العملية باسم لا يتجاوز حرفين.",
         "سمِّ العملية باسم لا يتجاوز 3 أحرف.", "سمِّ العملية باسم لا يتجاوز 10 أحرف.",
         "سمِّ العملية باسم لا يتجاوز 11 حرفًا.", "سمِّ العملية باسم لا يتجاوز 100 حرف.",
         "سمِّ العملية باسم لا يتجاوز 101 حرف."],
        [f"Give the process a name of at most {n} character{'' if n == 1 else 's'}." for n in COUNTS]),
    ("Say what this version changes, in %(num)s character at most.",
     "Say what this version changes, in %(num)s characters at most."): (
        ["اذكر ما يغيّره هذا الإصدار، في 0 حرف على الأكثر.", "اذكر ما يغيّره هذا الإصدار، في حرف واحد على الأكثر.",
         "اذكر ما يغيّره هذا الإصدار، في حرفين على الأكثر.", "اذكر ما يغيّره هذا الإصدار، في 3 أحرف على الأكثر.",
         "اذكر ما يغيّره هذا الإصدار، في 10 أحرف على الأكثر.", "اذكر ما يغيّره هذا الإصدار، في 11 حرفًا على الأكثر.",
         "اذكر ما يغيّره هذا الإصدار، في 100 حرف على الأكثر.", "اذكر ما يغيّره هذا الإصدار، في 101 حرف على الأكثر."],
        [f"Say what this version changes, in {n} character{'' if n == 1 else 's'} at most." for n in COUNTS]),
    ("%(num)s task", "%(num)s tasks"): (
        ["لا مهام", "مهمة واحدة", "مهمتان", "3 مهام", "10 مهام", "11 مهمة", "100 مهمة", "101 مهمة"],
        ["0 tasks", "1 task", "2 tasks", "3 tasks", "10 tasks", "11 tasks", "100 tasks", "101 tasks"]),
    ("%(num)s element reached", "%(num)s elements reached"): (
        ["لم يُبلغ أي عنصر", "بُلغ عنصر واحد", "بُلغ عنصران", "بُلغت 3 عناصر", "بُلغت 10 عناصر", "بُلغ 11 عنصرًا",
         "بُلغ 100 عنصر", "بُلغ 101 عنصر"],
        ["0 elements reached", "1 element reached", "2 elements reached", "3 elements reached",
         "10 elements reached", "11 elements reached", "100 elements reached", "101 elements reached"]),
    ("%(num)s working day left", "%(num)s working days left"): (
        ["لم يبقَ يوم عمل", "بقي يوم عمل واحد", "بقي يوما عمل", "بقيت 3 أيام عمل", "بقيت 10 أيام عمل",
         "بقي 11 يوم عمل", "بقي 100 يوم عمل", "بقي 101 يوم عمل"], None),
    ("%(num)s working day late", "%(num)s working days late"): (
        ["لا تأخير", "متأخرة يوم عمل واحد", "متأخرة يومَي عمل", "متأخرة 3 أيام عمل", "متأخرة 10 أيام عمل",
         "متأخرة 11 يوم عمل", "متأخرة 100 يوم عمل", "متأخرة 101 يوم عمل"], None),
    ("%(num)s open task", "%(num)s open tasks"): (
        ["لا مهام مفتوحة", "مهمة مفتوحة واحدة", "مهمتان مفتوحتان", "3 مهام مفتوحة", "10 مهام مفتوحة",
         "11 مهمة مفتوحة", "100 مهمة مفتوحة", "101 مهمة مفتوحة"],
        ["0 open tasks", "1 open task", "2 open tasks", "3 open tasks", "10 open tasks", "11 open tasks",
         "100 open tasks", "101 open tasks"]),
    ("%(num)s not claimed", "%(num)s not claimed"): (
        ["لا شيء منها غير مستلم", "واحدة غير مستلمة", "اثنتان غير مستلمتين", "3 غير مستلمة", "10 غير مستلمة",
         "11 غير مستلمة", "100 غير مستلمة", "101 غير مستلمة"], None),
    ("%(num)s attempt", "%(num)s attempts"): (
        ["لا محاولات", "محاولة واحدة", "محاولتان", "3 محاولات", "10 محاولات", "11 محاولة", "100 محاولة",
         "101 محاولة"],
        ["0 attempts", "1 attempt", "2 attempts", "3 attempts", "10 attempts", "11 attempts", "100 attempts",
         "101 attempts"]),
    ("(%(num)s waiting)", "(%(num)s waiting)"): (
        ["(لا شيء ينتظر)", "(واحد ينتظر)", "(اثنان ينتظران)", "(3 تنتظر)", "(10 تنتظر)", "(11 ينتظر)",
         "(100 ينتظر)", "(101 ينتظر)"], None),
    ("and %(num)s more, not listed", "and %(num)s more, not listed"): (
        ["ولا غيرها", "وواحدة أخرى لم تُعرض", "واثنتان أخريان لم تُعرضا", "و3 أخرى لم تُعرض", "و10 أخرى لم تُعرض",
         "و11 أخرى لم تُعرض", "و100 أخرى لم تُعرض", "و101 أخرى لم تُعرض"], None),
    ("%(num)s open task needs attention in every lane (late, at risk or without a deadline).",
     "%(num)s open tasks need attention in every lane (late, at risk or without a deadline)."): (
        [f"{start} تحتاج إلى متابعة في المسارات كلها (متأخرة أو تقترب من موعدها أو بلا موعد)." if "تحتاج" not in start
         else f"{start} إلى متابعة في المسارات كلها (متأخرة أو تقترب من موعدها أو بلا موعد)." for start in (
             "لا توجد مهمة مفتوحة", "مهمة مفتوحة واحدة", "مهمتان مفتوحتان تحتاجان", "3 مهام مفتوحة", "10 مهام مفتوحة",
             "11 مهمة مفتوحة", "100 مهمة مفتوحة", "101 مهمة مفتوحة")], None),
    ("The first %(num)s are listed; the counts below take in every one.",
     "The first %(num)s are listed; the counts below take in every one."): (
        ["لا تُعرض أي مهمة؛ والأعداد أدناه تشملها كلها.", "تُعرض المهمة الأولى فقط؛ والأعداد أدناه تشملها كلها.",
         "تُعرض أول مهمتين؛ والأعداد أدناه تشملها كلها.", "تُعرض أول 3 مهام؛ والأعداد أدناه تشملها كلها.",
         "تُعرض أول 10 مهام؛ والأعداد أدناه تشملها كلها.", "تُعرض أول 11 مهمة؛ والأعداد أدناه تشملها كلها.",
         "تُعرض أول 100 مهمة؛ والأعداد أدناه تشملها كلها.", "تُعرض أول 101 مهمة؛ والأعداد أدناه تشملها كلها."], None),
    ("Within %(num)s working day", "Within %(num)s working days"): (
        ["خلال أقل من يوم عمل", "خلال يوم عمل واحد", "خلال يومي عمل", "خلال 3 أيام عمل", "خلال 10 أيام عمل",
         "خلال 11 يوم عمل", "خلال 100 يوم عمل", "خلال 101 يوم عمل"],
        ["Within 0 working days", "Within 1 working day", "Within 2 working days", "Within 3 working days",
         "Within 10 working days", "Within 11 working days", "Within 100 working days", "Within 101 working days"]),
    ("%(num)s hour", "%(num)s hours"): (
        ["أقل من ساعة", "ساعة واحدة", "ساعتان", "3 ساعات", "10 ساعات", "11 ساعة", "100 ساعة", "101 ساعة"],
        ["0 hours", "1 hour", "2 hours", "3 hours", "10 hours", "11 hours", "100 hours", "101 hours"]),
    ("Write at least %(num)s character.", "Write at least %(num)s characters."): (
        ["اكتب 0 حرف على الأقل.", "اكتب حرفًا واحدًا على الأقل.", "اكتب حرفين على الأقل.", "اكتب 3 أحرف على الأقل.",
         "اكتب 10 أحرف على الأقل.", "اكتب 11 حرفًا على الأقل.", "اكتب 100 حرف على الأقل.",
         "اكتب 101 حرف على الأقل."], None),
    ("Write at most %(num)s character.", "Write at most %(num)s characters."): (
        ["اكتب 0 حرف على الأكثر.", "اكتب حرفًا واحدًا على الأكثر.", "اكتب حرفين على الأكثر.", "اكتب 3 أحرف على الأكثر.",
         "اكتب 10 أحرف على الأكثر.", "اكتب 11 حرفًا على الأكثر.", "اكتب 100 حرف على الأكثر.",
         "اكتب 101 حرف على الأكثر."], None),
    ("%(num)s working day", "%(num)s working days"): (
        ["لم يكتمل يوم عمل", "يوم عمل واحد", "يوما عمل", "3 أيام عمل", "10 أيام عمل", "11 يوم عمل", "100 يوم عمل",
         "101 يوم عمل"],
        ["0 working days", "1 working day", "2 working days", "3 working days", "10 working days",
         "11 working days", "100 working days", "101 working days"]),
    ("Paused so far: %(num)s working day", "Paused so far: %(num)s working days"): (
        ["مدة الإيقاف حتى الآن: لم يكتمل يوم عمل", "مدة الإيقاف حتى الآن: يوم عمل واحد",
         "مدة الإيقاف حتى الآن: يوما عمل", "مدة الإيقاف حتى الآن: 3 أيام عمل", "مدة الإيقاف حتى الآن: 10 أيام عمل",
         "مدة الإيقاف حتى الآن: 11 يوم عمل", "مدة الإيقاف حتى الآن: 100 يوم عمل", "مدة الإيقاف حتى الآن: 101 يوم عمل"],
        ["Paused so far: 0 working days", "Paused so far: 1 working day", "Paused so far: 2 working days",
         "Paused so far: 3 working days", "Paused so far: 10 working days", "Paused so far: 11 working days",
         "Paused so far: 100 working days", "Paused so far: 101 working days"]),
    ("including %(num)s working day waiting on the member", "including %(num)s working days waiting on the member"): (
        ["دون انتظار للعضو", "منها يوم عمل واحد بانتظار العضو", "منها يوما عمل بانتظار العضو",
         "منها 3 أيام عمل بانتظار العضو", "منها 10 أيام عمل بانتظار العضو", "منها 11 يوم عمل بانتظار العضو",
         "منها 100 يوم عمل بانتظار العضو", "منها 101 يوم عمل بانتظار العضو"], None),
    # The working calendar (/admin/calendar): how far deadlines move, and how many.
    ("%(num)s working day later", "%(num)s working days later"): (
        ["دون تأخير", "يتأخر يومَ عمل واحدًا", "يتأخر يومَي عمل", "يتأخر 3 أيام عمل", "يتأخر 10 أيام عمل",
         "يتأخر 11 يوم عمل", "يتأخر 100 يوم عمل", "يتأخر 101 يوم عمل"],
        ["0 working days later", "1 working day later", "2 working days later", "3 working days later",
         "10 working days later", "11 working days later", "100 working days later", "101 working days later"]),
    ("%(num)s working day earlier", "%(num)s working days earlier"): (
        ["دون تقديم", "يتقدم يومَ عمل واحدًا", "يتقدم يومَي عمل", "يتقدم 3 أيام عمل", "يتقدم 10 أيام عمل",
         "يتقدم 11 يوم عمل", "يتقدم 100 يوم عمل", "يتقدم 101 يوم عمل"], None),
    ("%(num)s deadline", "%(num)s deadlines"): (
        ["لا مواعيد", "موعد واحد", "موعدان", "3 مواعيد", "10 مواعيد", "11 موعدًا", "100 موعد", "101 موعد"],
        ["0 deadlines", "1 deadline", "2 deadlines", "3 deadlines", "10 deadlines", "11 deadlines", "100 deadlines",
         "101 deadlines"]),
    ("%(num)s open deadline moves", "%(num)s open deadlines move"): (
        ["لا يتغير أي موعد مفتوح", "يتغير موعد مفتوح واحد", "يتغير موعدان مفتوحان", "تتغير 3 مواعيد مفتوحة",
         "تتغير 10 مواعيد مفتوحة", "يتغير 11 موعدًا مفتوحًا", "يتغير 100 موعد مفتوح", "يتغير 101 موعد مفتوح"],
        ["0 open deadlines move", "1 open deadline moves", "2 open deadlines move", "3 open deadlines move",
         "10 open deadlines move", "11 open deadlines move", "100 open deadlines move", "101 open deadlines move"]),
    ("Write the reason in %(num)s character at most.", "Write the reason in %(num)s characters at most."): (
        ["اكتب السبب في 0 حرف على الأكثر.", "اكتب السبب في حرف واحد على الأكثر.", "اكتب السبب في حرفين على الأكثر.",
         "اكتب السبب في 3 أحرف على الأكثر.", "اكتب السبب في 10 أحرف على الأكثر.", "اكتب السبب في 11 حرفًا على الأكثر.",
         "اكتب السبب في 100 حرف على الأكثر.", "اكتب السبب في 101 حرف على الأكثر."], None),
    ("%(num)s promised answer date on or after the change is not counted again: the day each promise was made "
     "is not recorded.", "%(num)s promised answer dates on or after the change are not counted again: the day each "
     "promise was made is not recorded."): (
        ["لا يُعاد حساب أي موعد رد موعود."] + [
            f"لا يُعاد حساب {words} في يوم التعديل أو بعده: لم يُسجَّل اليوم الذي قُطع فيه {each}." for words, each in (
                ("موعد رد موعود واحد يقع", "الوعد"), ("موعدَي رد موعودين يقعان", "كل وعد"),
                ("3 مواعيد رد موعودة تقع", "كل وعد"), ("10 مواعيد رد موعودة تقع", "كل وعد"),
                ("11 موعدًا للرد تقع", "كل وعد"), ("100 موعد رد تقع", "كل وعد"), ("101 موعد رد تقع", "كل وعد"))],
        None),
}

#: Messages holding a number that is not a count of something (a bound to type, a version).
NOT_COUNTS = {"Enter %(n)s or more.", "Enter %(n)s or less."}


@pytest.fixture
def app(engine):
    return create_app({"TESTING": True, "SECRET_KEY": "plurals"}, engine=engine)


def _catalogue(lang: str):
    with (WEB / "translations" / lang / "LC_MESSAGES" / "messages.po").open("rb") as po:
        return read_po(po, locale=lang)


def test_every_plural_message_has_each_form_of_its_language():
    for lang, forms in (("ar", 6), ("en", 2)):
        catalogue = _catalogue(lang)
        assert catalogue.num_plurals == forms
        plurals = [m for m in catalogue if m.id and isinstance(m.id, tuple)]
        assert plurals, lang
        for message in plurals:
            assert len(message.string) == forms and all(message.string), (lang, message.id)


@pytest.mark.parametrize("lang", ["ar", "en"])
def test_each_counted_noun_takes_the_right_form_for_each_number(app, lang):
    for (singular, plural), (arabic, english) in EXPECTED.items():
        expected = arabic if lang == "ar" else english
        if expected is None:
            continue
        with app.test_request_context(f"/?lang={lang}"):
            shown = [render_template_string("{{ ngettext(s, p, n) }}", s=singular, p=plural, n=n) for n in COUNTS]
        assert shown == expected, singular


def test_no_page_counts_through_a_plain_gettext():
    """A number at the head of a message through ``_()`` is a count the plural forms never reach."""
    plain = re.compile(r"""(?<![n\w])_\(\s*(['"])(%\((?:n|num|count)\)s[^'"]*)\1""")
    found = []
    for path in [*WEB.rglob("*.html"), *WEB.rglob("*.py")]:
        for match in plain.finditer(path.read_text(encoding="utf-8")):
            if match.group(2) not in NOT_COUNTS:
                found.append((path.name, match.group(2)))
    assert found == []


def test_every_count_a_template_shows_is_a_plural_message_in_the_test():
    """A new ngettext on a page must be added to EXPECTED, with its forms checked."""
    call = re.compile(r"""ngettext\(\s*(['"])(.+?)\1\s*,\s*(['"])(.+?)\3""")
    used = set()
    for path in [*WEB.rglob("*.html"), *WEB.rglob("*.py")]:
        used.update((m.group(2), m.group(4)) for m in call.finditer(path.read_text(encoding="utf-8")))
    assert used <= set(EXPECTED), used - set(EXPECTED)
    assert ("%(num)s task", "%(num)s tasks") in used and ("%(num)s element reached", "%(num)s elements reached") in used


def test_the_inbox_and_the_case_page_count_in_arabic(engine, app):
    auth.throttle._failures.clear()
    desk = Desk(engine)
    requests = [desk.open("financial_support") for _ in range(3)]
    desk.complete(Actor.user("r", ["reception"]), requests[0], "intake",
                  {"visit_summary": "تم", "inquiries_answered": True})
    engine.run(lambda e, s: create_user(e, s, SYSTEM, "rana", "secret-pass", "Rana", ["reception"]))
    client = app.test_client()
    sign_in(client, "rana")
    inbox = client.get("/inbox?lang=ar").get_data(as_text=True)
    assert re.search(r'aria-live="polite">3 مهام ·', inbox)  # two intakes and one check (before: «3 مهمة»)
    case = client.get(f"/cases/{requests[0].instance_id}").get_data(as_text=True)
    assert re.search(r"بُلغت \d+ عناصر", case), "the elements reached"
