"""Notifications: messages to members and staff, written to the outbox, sent after commit.

`notify` writes one outbox row per channel in the transaction of the step that causes it, so
a step that rolls back sends nothing. `dispatch_outbox` (run by every worker drain, and by
``tawasul jobs run-due``) sends pending rows: SMS and e-mail through the configured providers;
letters become printable. A failed send is retried with exponential backoff; after
``notifications.max_attempts`` the row is marked ``failed`` with its error.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from engine.job_rows import announce_due
from engine.models import OutboxMessage
from engine.outbox import SIMULATED_STATUS, new_message_status
from workflows.accounts import users_with_lane
from workflows.domain import domain as domain_of
from workflows.hijri import hijri
from workflows.identity import ascii_digits
from workflows.messaging import Provider
from workflows.models import Member, User

if TYPE_CHECKING:
    from engine.context import CaseEngine

log = logging.getLogger("tawasul.notifications")

#: Message texts by template and language. Values come from the caller; missing ones show as "".
TEMPLATES: dict[str, dict[str, dict[str, str]]] = {
    "request_received": {
        "ar": {"subject": "تم استلام طلبك {reference}",
               "body": "عزيزنا {name}، تم استلام طلبك رقم {reference} ({service}). سنوافيك بكل جديد."},
        "en": {"subject": "Your request {reference} was received",
               "body": "Dear {name}, we received your request {reference} ({service}). We will keep you informed."},
    },
    "sent_to_committee": {
        "ar": {"subject": "طلبك {reference} لدى لجنة البحث",
               "body": "عزيزنا {name}، رُفع طلبك رقم {reference} إلى لجنة البحث لدراسته، "
                       "وسيتم الرد عليك بالقبول أو الرفض خلال {working_days}{by_date}."},
        "en": {"subject": "Your request {reference} is with the research committee",
               "body": "Dear {name}, your request {reference} has gone to the research committee, which will "
                       "answer with acceptance or rejection within {working_days}{by_date}."},
    },
    "decision_accepted": {
        "ar": {"subject": "قبول طلبك {reference}",
               "body": "عزيزنا {name}، يسرّنا إبلاغك بقبول طلبك رقم {reference}. سنستكمل إجراءات التسجيل ونتواصل معك."},
        "en": {"subject": "Your request {reference} was accepted",
               "body": "Dear {name}, we are glad to tell you that your request {reference} was accepted. "
                       "We will complete the registration and contact you."},
    },
    "decision_rejected": {
        "ar": {"subject": "نتيجة طلبك {reference}",
               "body": "عزيزنا {name}، نعتذر عن قبول طلبك رقم {reference}. السبب: {reason}"},
        "en": {"subject": "The decision on your request {reference}",
               "body": "Dear {name}, we regret that your request {reference} was not accepted. Reason: {reason}"},
    },
    "service_delivered": {
        "ar": {"subject": "تقديم الخدمة لطلبك {reference}",
               "body": "عزيزنا {name}، تم تقديم الخدمة الخاصة بطلبك رقم {reference}. شكرًا لك."},
        "en": {"subject": "Service delivered for {reference}",
               "body": "Dear {name}, the service for your request {reference} has been delivered. Thank you."},
    },
    "survey_invitation": {
        "ar": {"subject": "رأيك يهمنا",
               "body": "عزيزنا {name}، نرجو تقييم الخدمة المقدمة لطلبك رقم {reference}. تقييمك حق لك وأداة للتطوير."},
        "en": {"subject": "Your opinion matters",
               "body": "Dear {name}, please rate the service for your request {reference}. "
                       "Rating a service is your right and helps us improve."},
    },
    "welcome_member": {
        "ar": {"subject": "مرحبًا بك عضوًا في الجمعية",
               "body": "عزيزنا {name}، تم تسجيل عضويتك. رقم العضوية: {membership_no}."},
        "en": {"subject": "Welcome to the society",
               "body": "Dear {name}, your membership is registered. Membership number: {membership_no}."},
    },
    "inquiry_answered": {
        "ar": {"subject": "الرد على استفسارك {reference}",
               "body": "عزيزنا {name}، تم الرد على استفسارك رقم {reference}: {answer}"},
        "en": {"subject": "The answer to your inquiry {reference}",
               "body": "Dear {name}, your inquiry {reference} has been answered: {answer}"},
    },
    "more_info_requested": {
        "ar": {"subject": "طلب معلومات إضافية عن طلبك {reference}",
               "body": "عزيزنا {name}، تطلب لجنة البحث معلومات إضافية لدراسة طلبك رقم {reference}: {reason}. "
                       "أُوقف احتساب مدة الرد حتى تصلنا، ونبلغك بالموعد الجديد عند استلامها."},
        "en": {"subject": "More information needed for your request {reference}",
               "body": "Dear {name}, the research committee needs more information to study your request "
                       "{reference}: {reason}. The time for its answer is paused until we receive it; we will "
                       "tell you the new date then."},
    },
    "answer_date_moved": {
        "ar": {"subject": "استلمنا معلوماتك عن طلبك {reference}",
               "body": "عزيزنا {name}، استلمنا المعلومات الإضافية عن طلبك رقم {reference}، وعاد الطلب إلى "
                       "لجنة البحث، وسيتم الرد عليك بالقبول أو الرفض خلال المدة المتبقية{by_date}."},
        "en": {"subject": "We received your information for {reference}",
               "body": "Dear {name}, we received the additional information for your request {reference}; it "
                       "is back with the research committee, which will answer with acceptance or "
                       "rejection within the time that remains{by_date}."},
    },
    "task_warning": {
        "ar": {"subject": "مهمة تقترب من موعدها: {task_name}",
               "body": "المهمة «{task_name}» تقترب من موعدها النهائي {due_at}."},
        "en": {"subject": "A task is nearly due: {task_name}",
               "body": "The task '{task_name}' is due at {due_at}."},
    },
    "task_escalated": {
        "ar": {"subject": "تصعيد مهمة متأخرة: {task_name}",
               "body": "المهمة «{task_name}» تجاوزت موعدها ({due_at}) وأُحيلت إليكم."},
        "en": {"subject": "Late task escalated: {task_name}",
               "body": "The task '{task_name}' passed its deadline ({due_at}) and has been offered to you."},
    },
}

CHANNELS = ("sms", "email", "letter")


class _Values(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""


def working_days(count: int, language: str) -> str:
    """``count`` working days in words, with Arabic's dual and plural forms (3–10 take أيام)."""
    if language != "ar":
        return "1 working day" if count == 1 else f"{count} working days"
    if count == 1:
        return "يوم عمل واحد"
    if count == 2:
        return "يومَي عمل"
    return f"{count} أيام عمل" if 3 <= count % 100 <= 10 else f"{count} يوم عمل"


def _day(value: Any) -> date | None:
    """A day given as a date or as ISO text (values are kept as JSON in the outbox); None otherwise."""
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value) if isinstance(value, str) and value else None
    except ValueError:
        return None


def render(template: str, language: str, values: Mapping[str, Any]) -> tuple[str, str]:
    """(subject, body) of ``template`` in ``language`` (Arabic when the language is missing).

    A whole number of ``days`` (or its digits) is also offered as ``working_days``, in words of that
    language; a ``promised`` day (ISO text) as ``by_date``, a clause giving it in Gregorian and Hijri.
    """
    texts = TEMPLATES.get(template)
    if texts is None:
        raise KeyError(f"no notification template {template!r}")
    text = texts.get(language) or texts["ar"]
    safe = _Values({k: v for k, v in values.items() if isinstance(v, str | int | float)})
    days = values.get("days")
    if isinstance(days, float) and days.is_integer():
        days = int(days)
    if isinstance(days, str):
        digits = ascii_digits(days).strip()
        days = int(digits) if digits.isascii() and digits.isdecimal() else days
    shown = language if language in texts else "ar"
    if isinstance(days, int) and not isinstance(days, bool):
        safe["working_days"] = working_days(days, shown)
    else:  # no number of days given: the sentence still reads
        safe["working_days"] = "المدة المحددة" if shown == "ar" else "the set time"
    promised = _day(values.get("promised"))
    if promised is not None:  # the date promised to the member, Gregorian and Hijri
        day, hijri_day = promised.isoformat(), hijri(promised)
        if shown == "ar":
            safe["by_date"] = f"، أي في موعد أقصاه {day}" + (f" ({hijri_day} هـ)" if hijri_day else "")
        else:
            safe["by_date"] = f", that is by {day}" + (f" ({hijri_day} AH)" if hijri_day else "")
    return text["subject"].format_map(safe), text["body"].format_map(safe)


def notify(
    session: Session,
    now: datetime,
    template: str,
    member: Member,
    values: Mapping[str, Any],
    channels: tuple[str, ...] = ("sms", "email"),
    instance_id: int | None = None,
    dedupe: str | None = None,
    send_at: datetime | None = None,
) -> int:
    """Write a message to ``member`` on each channel it can reach; return how many were written.

    ``dedupe`` makes the call idempotent: a second call with the same key writes nothing (a
    retried service task must not message the member twice). ``send_at`` delays sending.
    """
    if template not in TEMPLATES:
        raise KeyError(f"no notification template {template!r}")
    recipient = f"member:{member.id}"
    if dedupe is not None:
        existing = session.scalars(
            select(OutboxMessage.payload).where(OutboxMessage.kind == template, OutboxMessage.recipient == recipient,
                                                OutboxMessage.status != SIMULATED_STATUS)
        ).all()  # a simulated message was never sent: it does not stand in for the real one
        if any(payload.get("dedupe") == dedupe for payload in existing):
            return 0
    reachable = [c for c in channels if not (c == "sms" and not member.mobile or c == "email" and not member.email)]
    if not reachable:
        reachable = ["letter"]  # no mobile, no e-mail: the member is written to
    written = 0
    for channel in reachable:
        session.add(OutboxMessage(
            created_at=now, kind=template, recipient=recipient, instance_id=instance_id,
            status=new_message_status(session),
            attempts=0, next_attempt_at=send_at or now,
            payload={"channel": channel, "language": member.language or "ar", "values": dict(values),
                     "dedupe": dedupe},
        ))
        written += 1
    if written:
        session.flush()
        announce_due(session, send_at or now)
    return written


# -- sending ------------------------------------------------------------------------------------


def _addresses(session: Session, recipient: str, channel: str) -> list[str]:
    kind, _, ident = recipient.partition(":")
    if kind == "member":
        member = session.get(Member, int(ident))
        if member is None:
            return []
        address = member.mobile if channel == "sms" else member.email
        return [address] if address else []
    if channel != "email":
        return []
    if kind == "user":
        user = session.scalars(select(User).where(User.username == ident)).first()
        return [user.email] if user is not None and user.email else []
    if kind == "group":
        return [u.email for u in users_with_lane(session, ident) if u.email]
    return []


def dispatch_outbox(engine: CaseEngine, now: datetime | None = None, limit: int = 200) -> int:
    """Send pending messages due for sending; return how many were sent.

    Each message is claimed in its own short transaction (``pending`` → ``sending``) before it
    is sent, so two workers never send the same one; a worker that dies while sending leaves it
    ``sending``, and after ten minutes it is pending again (sent at least once).
    """
    domain = domain_of(engine)
    settings = engine.settings.get("notifications") or {}
    max_attempts = int(settings.get("max_attempts", 5))
    backoff = float(settings.get("backoff_seconds", 30))
    now = now or engine.clock.now()
    table = OutboxMessage.__table__
    with engine.unit_of_work() as uow:
        uow.session.connection().execute(
            update(table).where(table.c.status == "sending", table.c.next_attempt_at < now - timedelta(minutes=10))
            .values(status="pending")
        )
        ids = list(uow.session.scalars(
            select(OutboxMessage.id)
            .where(OutboxMessage.status == "pending",
                   or_(OutboxMessage.next_attempt_at.is_(None), OutboxMessage.next_attempt_at <= now))
            .order_by(OutboxMessage.id).limit(limit)
        ))
        uow.commit()
    sent = 0
    for message_id in ids:
        with engine.unit_of_work() as uow:
            claimed = uow.session.connection().execute(
                update(table).where(table.c.id == message_id, table.c.status == "pending")
                .values(status="sending", attempts=table.c.attempts + 1, next_attempt_at=now)
            ).rowcount
            uow.commit()
        if not claimed:
            continue
        with engine.unit_of_work() as uow:
            message = uow.session.get(OutboxMessage, message_id)
            assert message is not None
            outcome, error = _send(uow.session, domain.providers, message)
            if outcome == "retry":
                if message.attempts >= max_attempts:
                    message.status, message.last_error = "failed", error
                else:
                    message.status, message.last_error = "pending", error
                    message.next_attempt_at = now + timedelta(seconds=backoff * 2 ** (message.attempts - 1))
            else:
                message.status, message.last_error = outcome, error
                if outcome == "sent":
                    message.sent_at = now
                    sent += 1
            uow.commit()
    return sent


def message_text(message: OutboxMessage) -> tuple[str, str, str]:
    """(channel, subject, body) of a stored message, in its recipient's language.

    Raises:
        KeyError: no template of the message's kind.
    """
    payload = message.payload or {}
    channel = payload.get("channel", "email")
    language = payload.get("language", "ar")
    values = dict(payload.get("values") or {})
    values.update({k: v for k, v in payload.items() if k not in ("channel", "language", "values", "dedupe")})
    subject, body = render(message.kind, language, values)
    return channel, subject, body


def _send(session: Session, providers: Mapping[str, Provider], message: OutboxMessage) -> tuple[str, str | None]:
    try:
        channel, subject, body = message_text(message)
    except KeyError as exc:
        return "failed", str(exc)
    if channel == "letter":
        return "printable", None
    addresses = _addresses(session, message.recipient, channel)
    if not addresses:
        return "skipped", f"{message.recipient} has no {channel} address"
    provider = providers.get(channel)
    if provider is None:
        return "skipped", f"no provider for {channel}"
    try:
        for address in addresses:
            provider.send(address, subject, body)
    except Exception as exc:  # noqa: BLE001 - any provider failure is retried later
        log.warning("sending outbox message %s failed: %s", message.id, exc)
        return "retry", f"{type(exc).__name__}: {exc}"
    return "sent", None
