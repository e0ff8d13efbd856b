"""Message providers: what sends an SMS or an e-mail (log files in development, SMTP for real).

The providers in use are chosen by the ``notifications`` settings; the outbox sender
(`workflows.notifications.dispatch_outbox`) hands each message to the provider of its channel.
"""

from __future__ import annotations

import json
import smtplib
from collections.abc import Mapping
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Protocol

from engine.settings import config_path


class Provider(Protocol):
    """Sends one message to one address; raises on failure."""

    def send(self, to: str, subject: str, body: str) -> None:
        """Send it."""
        ...


class LogProvider:
    """Appends each message to a file as a JSON line (development, and the SMS default)."""

    def __init__(self, path: Path, channel: str) -> None:
        self.path = path
        self.channel = channel

    def send(self, to: str, subject: str, body: str) -> None:
        """Append the message to the file."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as out:
            out.write(json.dumps({"channel": self.channel, "to": to, "subject": subject, "body": body},
                                 ensure_ascii=False) + "\n")


class SmtpProvider:
    """Sends e-mail through an SMTP server."""

    def __init__(self, settings: Mapping[str, Any]) -> None:
        self.host = str(settings.get("host", "127.0.0.1"))
        self.port = int(settings.get("port", 25))
        self.sender = str(settings.get("sender", "no-reply@tawasul.local"))
        self.starttls = bool(settings.get("starttls", False))
        self.username = str(settings.get("username") or "")
        self.password = str(settings.get("password") or "")

    def send(self, to: str, subject: str, body: str) -> None:
        """Send one e-mail (UTF-8)."""
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = self.sender, to, subject
        message.set_content(body)
        with smtplib.SMTP(self.host, self.port, timeout=15) as smtp:
            if self.starttls:
                smtp.starttls()
            if self.username:
                smtp.login(self.username, self.password)
            smtp.send_message(message)


def providers_from_settings(settings: Mapping[str, Any]) -> dict[str, Provider]:
    """The e-mail and SMS providers the settings choose."""
    section = settings.get("notifications") or {}
    base = config_path().parent
    email = section.get("email") or {}
    sms = section.get("sms") or {}
    chosen: dict[str, Provider] = {}
    if email.get("backend", "log") == "smtp":
        chosen["email"] = SmtpProvider(email)
    else:
        chosen["email"] = LogProvider(base / str(email.get("path", "instance/email.log")), "email")
    chosen["sms"] = LogProvider(base / str(sms.get("path", "instance/sms.log")), "sms")
    return chosen
