"""Letters: outbox messages on the ``letter`` channel become printable pages (RTL for Arabic)."""

from __future__ import annotations

from html import escape

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import InvalidInput, NotFound
from engine.models import OutboxMessage
from workflows.models import Member
from workflows.notifications import render

#: What a member reads for each request status.
STATUS_LABELS: dict[str, dict[str, str]] = {
    "received": {"ar": "تم الاستلام", "en": "Received"},
    "checking": {"ar": "قيد التحقق من البيانات", "en": "Checking your data"},
    "referred": {"ar": "محال لمسؤول البحث الاجتماعي", "en": "With the social research officer"},
    "with_committee": {"ar": "لدى لجنة البحث", "en": "With the research committee"},
    "accepted": {"ar": "مقبول", "en": "Accepted"},
    "rejected": {"ar": "نعتذر عن القبول", "en": "Not accepted"},
    "registered": {"ar": "تم التسجيل", "en": "Registered"},
    "delivered": {"ar": "تم تقديم الخدمة", "en": "Service delivered"},
    "answered": {"ar": "تم الرد", "en": "Answered"},
    "closed": {"ar": "مغلق", "en": "Closed"},
    "cancelled": {"ar": "ملغى", "en": "Cancelled"},
}


def status_label(status: str, language: str = "ar") -> str:
    """The member-facing words for a request status."""
    labels = STATUS_LABELS.get(status)
    return (labels.get(language) or labels["ar"]) if labels else status


def letters(session: Session, status: str = "printable") -> list[OutboxMessage]:
    """Letters waiting to be printed (or in another status)."""
    return list(session.scalars(select(OutboxMessage).where(OutboxMessage.status == status)
                                .order_by(OutboxMessage.id)
                                .filter(OutboxMessage.payload["channel"].as_string() == "letter")))


def letter_page(session: Session, message_id: int, society: str = "الجمعية التعاونية متعددة الأغراض بالمحفر") -> str:
    """A printable HTML page for a letter (Arabic right to left, English left to right).

    Raises:
        NotFound: no such message.
        InvalidInput: the message is not a letter.
    """
    message = session.get(OutboxMessage, message_id)
    if message is None:
        raise NotFound(f"no outbox message {message_id}")
    payload = message.payload or {}
    if payload.get("channel") != "letter":
        raise InvalidInput(f"outbox message {message_id} is a {payload.get('channel')} message, not a letter")
    language = payload.get("language", "ar")
    subject, body = render(message.kind, language, payload.get("values") or {})
    kind, _, ident = message.recipient.partition(":")
    member = session.get(Member, int(ident)) if kind == "member" and ident.isdigit() else None
    addressee = (member.name_ar if language == "ar" else member.name_en or member.name_ar) if member else ""
    direction = "rtl" if language == "ar" else "ltr"
    date = message.created_at.date().isoformat()
    return f"""<!doctype html>
<html lang="{language}" dir="{direction}">
<head><meta charset="utf-8"><title>{escape(subject)}</title>
<style>@page {{ size: A4; margin: 25mm; }} body {{ font-family: "Noto Naskh Arabic", serif; line-height: 1.8; }}
header {{ border-bottom: 1px solid #333; margin-bottom: 2em; }} .date {{ float: inline-end; }}</style></head>
<body>
<header><strong>{escape(society)}</strong><span class="date" dir="ltr">{date}</span></header>
<p>{escape(addressee)}</p>
<h1>{escape(subject)}</h1>
<p>{escape(body)}</p>
</body></html>"""
