"""Demo data for an empty database, and starting it over.

Staff and member accounts, about 50 members, and requests at every stage of every diagram,
some near or past their deadline.

Every account's password is ``demo-pass``: demo data is for trying Tawasul, never for a real
deployment.

How demo data is told from real data: `workflows.read.demo`.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, select, text

from engine import audit
from engine import drafts as store
from engine.actors import SYSTEM, Actor
from engine.clock import FrozenClock
from engine.db import Base
from engine.errors import Conflict, NotFound
from engine.models import CalendarDay, HumanTask, ProcessDefinition
from workflows.accounts import actor_for
from workflows.domain import domain
from workflows.models import Member, ServiceRequest, User
from workflows.operations.accounts import create_user
from workflows.operations.cases import open_request
from workflows.operations.drafts import edit_version, save_draft
from workflows.operations.jobs import run_due
from workflows.operations.members import log_contact, register_member
from workflows.operations.tasks import claim_task, complete_task
from workflows.read.demo import MARKER, MEMBER_COUNT, STAFF, demo_national_id, demo_state, demo_usernames
from workflows.requests import documents, mark_document

if TYPE_CHECKING:
    from engine.context import CaseEngine

PASSWORD = "demo-pass"  # noqa: S105 - the documented demo password, printed with a warning
FIRST = ["محمد", "أحمد", "عبدالله", "خالد", "فهد", "سعد", "نورة", "فاطمة", "سارة", "مريم", "هند", "ريم", "عبدالرحمن",
         "سلطان", "منيرة", "لطيفة", "ناصر", "تركي", "عائشة", "جواهر"]
FIRST_EN = ["Mohammed", "Ahmed", "Abdullah", "Khalid", "Fahad", "Saad", "Noura", "Fatimah", "Sara", "Maryam", "Hind",
            "Reem", "Abdulrahman", "Sultan", "Munirah", "Latifa", "Nasser", "Turki", "Aisha", "Jawaher"]
FAMILY = [("العتيبي", "Alotaibi"), ("القحطاني", "Alqahtani"), ("الشمري", "Alshammari"), ("الدوسري", "Aldosari"),
          ("الحربي", "Alharbi"), ("الزهراني", "Alzahrani"), ("المطيري", "Almutairi"), ("السبيعي", "Alsubaie")]
CHANNELS = ["in_person", "phone", "social_media", "letter", "website"]

# Stages of member_request, in order; a request is driven up to (not through) its stage.
REQUEST_STAGES = ["intake", "check_data", "explain_procedures", "request_missing", "acknowledgement",
                  "committee_review", "committee_review:at_risk", "committee_review:late", "receive_more_info",
                  "complete_registration", "deliver_service", "delivered", "rejected"]
INQUIRY_STAGES = ["log_inquiry", "answer_member", "explain_procedures", "answered"]
MEMBERSHIP_STAGES = ["verify_application", "request_missing", "approve_membership", "registered", "refused"]


#: Tables a reset keeps: the deployed diagrams and the working-day calendar are set-up, not data.
KEPT_TABLES = frozenset({ProcessDefinition.__tablename__, CalendarDay.__tablename__})


def reset_demo(engine: CaseEngine, session: Any) -> dict[str, Any]:
    """Delete the demo's data (and whatever was done with it), keeping the diagrams and the calendar.

    Run `load_demo` after it, in its own units of work. On PostgreSQL the ids start again from 1,
    as in a new database.

    Raises:
        Conflict: the database holds data that is not the demo's (named in the message).
    """
    state = demo_state(engine, session)
    if state["state"] == "other":
        raise Conflict("this database holds data that is not the demo's, so --reset deletes nothing: "
                       + "; ".join(state["reasons"]))
    wiped = [t for t in Base.metadata.sorted_tables if t.name not in KEPT_TABLES]
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("TRUNCATE " + ", ".join(f'"{t.name}"' for t in wiped) + " RESTART IDENTITY"))
    else:
        for table in reversed(wiped):
            session.execute(delete(table))
        if session.scalar(text("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_sequence'")):
            names = ", ".join(f"'{t.name}'" for t in wiped)
            session.execute(text(f"DELETE FROM sqlite_sequence WHERE name IN ({names})"))  # noqa: S608 - our tables
    session.flush()
    return {"tables": len(wiped)}


def load_demo(engine: CaseEngine, seed: int = 7) -> dict[str, Any]:
    """Load the demo data into an empty database, and mark it as the demo's.

    Raises:
        Conflict: the database is not empty (use `demo_state` first to tell a loaded demo apart).
    """
    with engine.unit_of_work(readonly=True) as uow:
        if uow.session.scalar(select(func.count()).select_from(Member)) or uow.session.scalar(
            select(func.count()).select_from(User)
        ):
            raise Conflict("demo data goes into an empty database; this one already has members or users")
        deployed = set(uow.session.scalars(select(ProcessDefinition.key)))
    missing = {"member_request", "inquiry", "membership_registration"} - deployed
    if missing:
        raise NotFound(f"deploy the diagrams first (tawasul deploy bpmn/*.bpmn); missing: {', '.join(sorted(missing))}")
    rng = random.Random(seed)  # noqa: S311 - repeatable demo data, nothing secret
    real_clock = engine.clock
    now = real_clock.now()
    try:
        staff = engine.run(_create_staff)
        members = engine.run(_create_members, rng)
        engine.run(_create_member_account, members[0])
        counts = {"member_request": 0, "inquiry": 0, "membership_registration": 0}
        index = 0
        for stage in REQUEST_STAGES:
            for _ in range(2):
                _drive(engine, staff, members[index % len(members)], "financial_support" if index % 2 else
                       "in_kind_support", stage, rng, now)
                index += 1
                counts["member_request"] += 1
        for stage in INQUIRY_STAGES:
            _drive(engine, staff, members[index % len(members)], "inquiry", stage, rng, now)
            index += 1
            counts["inquiry"] += 1
        applicants = [m for m in members if not m.membership_no]
        for number, stage in enumerate(MEMBERSHIP_STAGES):
            _drive(engine, staff, applicants[-1 - number], "membership_registration", stage, rng, now)
            counts["membership_registration"] += 1
        history = _history(engine, staff, members, applicants, now)
    finally:
        engine.clock = real_clock
    result = {"users": demo_usernames(), "members": len(members), "requests": counts, "password": PASSWORD,
              "history": history}
    engine.run(_mark_loaded, result)
    # The requests were opened in the past: what fell due since (the late committee reviews' escalation
    # to the supervisors) is due for real now, so the supervisors start with work of their own.
    result["due_work"] = run_due(engine)
    result["held"] = _hold_some_work(engine, staff)
    result["drafts"] = [engine.run(_owner_draft, staff["owner1"])]
    return result


def _owner_draft(engine: CaseEngine, session: Any, owner: Actor) -> int:
    """The process owner's work in progress: the inquiry process opened for editing, one task renamed."""
    draft_id = edit_version(engine, session, owner, "inquiry")
    xml = store.get_draft(session, draft_id).xml
    renamed = xml.replace('name="الرد على العضو"', 'name="الرد على العضو وتوثيق الرد"', 1)
    save_draft(engine, session, owner, draft_id, 1, renamed.encode("utf-8"))
    return draft_id


#: Open tasks the demo's staff have taken (element, lane holder, how many), so work in progress per
#: person has something to show; the rest stays with the lanes.
HELD = (("check_data", "reception1", 2), ("deliver_service", "delivery1", 1))


def _hold_some_work(engine: CaseEngine, staff: dict[str, Actor]) -> int:
    held = 0
    for element, username, count in HELD:
        ids = engine.query(lambda e, s, el=element, n=count: list(s.scalars(
            select(HumanTask.id).where(HumanTask.element_id == el, HumanTask.assignee.is_(None))
            .order_by(HumanTask.created_at, HumanTask.id).limit(n))))
        for task_id in ids:
            engine.run(claim_task, staff[username], task_id)
            held += 1
    return held


def _mark_loaded(engine: CaseEngine, session: Any, result: dict[str, Any]) -> None:
    audit.record(session, engine.clock.now(), SYSTEM, MARKER,
                 summary={"users": len(result["users"]), "members": result["members"], **result["requests"]})
    audit.flush(session)


def _create_staff(engine: CaseEngine, session: Any) -> dict[str, Actor]:
    actors = {}
    for username, name, roles in STAFF:
        user = create_user(engine, session, SYSTEM, username, PASSWORD, name, roles, email=f"{username}@tawasul.local")
        actors[username] = actor_for(user)
    return actors


def _create_members(engine: CaseEngine, session: Any, rng: random.Random) -> list[Member]:
    registrar = Actor.user("demo", roles=["reception"])
    members = []
    for number in range(MEMBER_COUNT):
        first = number % len(FIRST)
        family_ar, family_en = FAMILY[number % len(FAMILY)]
        national = demo_national_id(number)
        mobile = f"05{rng.choice('045')}{rng.randrange(10**6, 10**7)}"
        fields = {"national_id": national, "name_ar": f"{FIRST[first]} {family_ar}",
                  "name_en": f"{FIRST_EN[first]} {family_en}", "mobile": mobile}
        if number % 3:
            fields["email"] = f"member{number + 1}@example.org"
        if number % 4 == 0:
            fields.update(membership_no=f"M-2025-{number + 1:05d}", status="active", joined_on="2025-03-01")
        if number % 10 == 9:
            fields["language"] = "en"
        members.append(register_member(engine, session, registrar, **fields))
    return members


def _create_member_account(engine: CaseEngine, session: Any, member: Member) -> None:
    create_user(engine, session, SYSTEM, "member1", PASSWORD, member.name_ar, [], email=member.email,
                member_id=member.id, language=member.language)


def _drive(engine: CaseEngine, staff: dict[str, Actor], member: Member, service: str, stage: str,
           rng: random.Random, now: datetime) -> None:
    """Open a request and complete its tasks until it waits at ``stage``."""
    target, _, lateness = stage.partition(":")
    # Requests that should be near or past their deadline are opened in the past.
    days_ago = {"at_risk": 13, "late": 17}.get(lateness, rng.randrange(1, 4))
    opened = now - timedelta(days=days_ago, hours=rng.randrange(8))
    engine.clock = FrozenClock(opened)
    channel = rng.choice(CHANNELS)
    request = engine.run(open_request, staff["reception1"], member.id, service, channel, "طلب تجريبي")
    engine.run(log_contact, staff["reception1"], member.id, "phone", "outbound", "اتصال للتأكد من بيانات التواصل",
               request.id)
    steps = _steps(service)
    if target == "rejected":
        steps = [(e, a, {"outcome": "rejected", "reason": "الدخل أعلى من الحد المعتمد",
                          "committee_members": ["أحمد", "سارة"]} if e == "committee_review" else d, b)
                 for e, a, d, b in steps if steps.index((e, a, d, b)) <= 7]
    elif target == "receive_more_info":
        # The committee asked the member for more: the case waits on them, its promised date paused.
        steps = [(e, a, {"outcome": "more_info", "reason": "كشف حساب بنكي لآخر ثلاثة أشهر",
                          "committee_members": ["أحمد", "سارة"]} if e == "committee_review" else d, b)
                 for e, a, d, b in steps if steps.index((e, a, d, b)) <= 7] + [("receive_more_info", "", {}, None)]
    elif target == "refused":
        steps = [(e, a, {"approved": False, "reason": "لم تُستكمل الشروط"} if e == "approve_membership" else d, b)
                 for e, a, d, b in steps]
    elif service == "inquiry" and target == "explain_procedures":
        steps = [("log_inquiry", "reception1", {"question": "كيف أسجّل أبنائي في البرنامج؟", "can_answer": False},
                  None)]
    for element, actor_name, data, before in steps:
        if element == target:
            return
        if before:
            before(engine, request)
        _complete(engine, request, element, staff[actor_name], data)


def _steps(service: str) -> list[tuple[str, str, dict[str, Any], Callable[..., None] | None]]:
    if service == "inquiry":
        return [
            ("log_inquiry", "reception1", {"question": "ما شروط الحصول على الدعم؟", "can_answer": True}, None),
            ("answer_member", "reception1", {"answer": "الشروط منشورة في موقع الجمعية"}, None),
        ]
    if service == "membership_registration":
        return [
            ("verify_application", "reception1", {"id_verified": True}, None),
            ("request_missing", "reception1", {"missing_items": "إيصال سداد الأسهم", "contact_channel": "phone"},
             None),
            ("verify_application", "reception1", {"id_verified": True}, _verify_all),
            ("approve_membership", "committee1", {"approved": True, "reason": "مستوفٍ للشروط"}, None),
        ]
    return [
        ("intake", "reception1", {"visit_summary": "استقبال العضو وشرح الخدمة", "inquiries_answered": True}, None),
        ("check_data", "reception1", {"complete": False, "needs_referral": True}, None),
        ("explain_procedures", "researcher1", {"explanation": "شرح الإجراءات والشروط", "procedures_clear": True},
         None),
        ("check_data", "reception1", {"complete": True, "needs_referral": False}, None),
        ("request_missing", "reception1", {"missing_items": "إثبات الدخل", "contact_channel": "phone"}, None),
        ("check_data", "reception1", {"complete": True, "needs_referral": False}, _verify_all),
        ("acknowledgement", "reception1", {"acknowledged": True, "ack_channel": "in_person"}, None),
        ("committee_review", "committee1", {"outcome": "accepted", "reason": "مستوفٍ للشروط",
                                            "committee_members": ["أحمد", "سارة", "خالد"]}, None),
        ("complete_registration", "delivery1", {"registration_note": "سُجّل في البرنامج"}, None),
        ("deliver_service", "delivery1", {"delivered_on": "{today}", "delivery_note": "قُدّمت الخدمة"}, None),
    ]


#: The closed cases of the demo's history, one a working week or so over the last months, in turn:
#: (service, path). The path names each step's speed: ``m`` met its deadline, ``b`` breached it.
HISTORY = [
    ("financial_support", "accepted"), ("inquiry", "answered"), ("in_kind_support", "rejected"),
    ("in_kind_support", "accepted_referred"), ("inquiry", "answered"), ("financial_support", "accepted"),
    ("membership_registration", "registered"), ("financial_support", "rejected"),
]
#: How many closed cases the history holds, and over how many days before now they were opened.
HISTORY_CASES = 16
HISTORY_DAYS = 130


def _history(engine: CaseEngine, staff: dict[str, Actor], members: list[Member], applicants: list[Member],
             now: datetime) -> dict[str, int]:
    """Closed cases over the last months, so the supervisors' reports have a history to show.

    Real cases, driven through the diagrams with the clock moved back: their tasks closed met or
    late, their requests came through each of the five channels, the committee accepted some and
    rejected others (and was late with some, past the date promised to the member). Every second
    case is slow on one of its steps, so the history holds breaches as well. Members 2 to 40 only:
    member1 (the member's account) and the members whose requests are open keep their own pages.
    """
    counts = {"member_request": 0, "inquiry": 0, "membership_registration": 0}
    calendar = engine.calendars.get()
    others = members[1:40]
    for number in range(HISTORY_CASES):
        service, path = HISTORY[number % len(HISTORY)]
        days_ago = HISTORY_DAYS - number * (HISTORY_DAYS - 20) // HISTORY_CASES
        opened = (now - timedelta(days=days_ago)).replace(hour=6, minute=(number * 7) % 60)  # 09:xx in Riyadh
        while not calendar.is_working_day(opened.astimezone(calendar.tz).date()):
            opened += timedelta(days=1)
        member = applicants[1 + number % 3] if service == "membership_registration" else others[number % len(others)]
        engine.clock = FrozenClock(opened)
        channel = CHANNELS[number % len(CHANNELS)]
        request = engine.run(open_request, staff["reception1"], member.id, service, channel, "طلب سابق")
        slow = number % 2 == 1
        steps = _history_steps(service, path)
        elements = [step[0] for step in steps]
        # Half the cases are slow on one step: some on the committee's review (past the date promised
        # to the member too), the others on a step further along each time.
        slow_step = elements.index("committee_review") if number % 4 == 1 and "committee_review" in elements else (
            (number // 2) % len(steps))
        for index, (element, actor_name, data, before) in enumerate(steps):
            if before:
                before(engine, request)
            _complete_at(engine, request, element, staff[actor_name], data, late=slow and index == slow_step)
        process = domain(engine).catalogue.service(service).process
        counts[process] += 1
    return counts


def _history_steps(service: str, path: str) -> list[tuple[str, str, dict[str, Any], Callable[..., None] | None]]:
    steps = _steps(service)
    if service == "inquiry":
        return steps
    if service == "membership_registration":
        return [("verify_application", "reception1", {"id_verified": True}, _verify_all), steps[-1]]
    intake, referral, explain, _checked, _missing, check, ack, committee, register, deliver = steps
    if path == "rejected":
        decision = {"outcome": "rejected", "reason": "الدخل أعلى من الحد المعتمد",
                    "committee_members": ["أحمد", "سارة"]}
        return [intake, check, ack, ("committee_review", "committee1", decision, None)]
    route = [intake, referral, explain] if path == "accepted_referred" else [intake]
    return [*route, check, ack, committee, register, deliver]


def _complete_at(engine: CaseEngine, request: ServiceRequest, element: str, actor: Actor, data: dict[str, Any],
                 late: bool) -> None:
    """Complete the open ``element`` of ``request`` some hours later: before its deadline, or after it when ``late``."""
    def find(e: CaseEngine, s: Any) -> tuple[str, datetime | None] | None:
        row = s.execute(select(HumanTask.id, HumanTask.due_at).where(HumanTask.instance_id == request.instance_id,
                                                                     HumanTask.element_id == element)).first()
        return (row[0], row[1]) if row else None

    found = engine.query(find)
    if found is None:
        raise RuntimeError(f"demo: {request.reference} has no open {element}")
    task_id, due = found
    at = engine.clock.now()
    if late and due is not None:
        at = due + timedelta(days=2, hours=3)
    elif due is not None:
        at = at + min(timedelta(hours=3), (due - at) / 2)
    else:
        at = at + timedelta(hours=2)
    # Taken a third of the way in: the history has waiting (unclaimed) and working (claimed) time.
    engine.clock = FrozenClock(engine.clock.now() + (at - engine.clock.now()) / 3)
    engine.run(claim_task, actor, task_id)
    engine.clock = FrozenClock(at)
    today = at.date().isoformat()
    engine.run(complete_task, actor, task_id,
               {key: today if value == "{today}" else value for key, value in data.items()})


def _verify_all(engine: CaseEngine, request: ServiceRequest) -> None:
    actor = Actor.user("reception1", ["reception"], roles=["reception"])
    for item in engine.query(lambda e, s: documents(s, request.id)):
        engine.run(mark_document, actor, request.id, item.kind, "verified")


def _complete(engine: CaseEngine, request: ServiceRequest, element: str, actor: Actor, data: dict[str, Any]) -> None:
    def find(e: CaseEngine, s: Any) -> str | None:
        return s.scalar(select(HumanTask.id).where(HumanTask.instance_id == request.instance_id,
                                                   HumanTask.element_id == element))

    task_id = engine.query(find)
    if task_id is None:
        raise RuntimeError(f"demo: {request.reference} has no open {element}")
    engine.clock = FrozenClock(engine.clock.now() + timedelta(minutes=20))
    today = engine.clock.now().date().isoformat()
    data = {key: today if value == "{today}" else value for key, value in data.items()}
    engine.run(complete_task, actor, task_id, data)
