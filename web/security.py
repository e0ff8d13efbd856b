"""Security headers on every response, and when the session cookie is marked Secure.

Every answer of the app (pages, error pages, static files, front-end packages, the JSON API,
the health check) carries the same headers. The pages hold no inline script, event handler,
style element or style attribute: scripts and styles come from this site only (``web/static``
and ``/vendor``), so the policy needs neither ``'unsafe-inline'`` nor ``'unsafe-eval'``.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from flask import Flask, Response

#: The Content-Security-Policy of every response. ``data:`` images are Bootstrap's icons
#: (the arrow of a select, a checked box), drawn from its CSS.
CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def add_security_headers(response: Response) -> Response:
    """Put `SECURITY_HEADERS` on ``response`` (a view that set one of them keeps its own)."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def register(app: Flask) -> None:
    """Add the headers to every response of ``app``, error pages included."""
    app.after_request(add_security_headers)


def is_plain_localhost(host: str | None) -> bool:
    """True when ``host`` (an address the app listens on) is this machine only: localhost, 127.x, ::1."""
    name = (host or "").strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def secure_cookies(web_settings: dict[str, Any], host: str | None = None) -> bool:
    """Whether the session cookie is marked Secure (sent over HTTPS only).

    The rule: ``web.secure_cookies`` when it is set; otherwise Secure, except when the app itself
    serves plain HTTP on this machine only (``tawasul serve`` on localhost, ``host``). A web
    process under gunicorn behind a proxy is not told its host and always marks it Secure.
    """
    configured = web_settings.get("secure_cookies")
    if configured is not None:
        return bool(configured)
    return not (host is not None and is_plain_localhost(host))
