"""Signing in and out with the Flask test client, as a browser would (CSRF token from the page)."""

import re


def csrf_token(page: str) -> str:
    """The CSRF token of a rendered page."""
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def sign_in(client, username: str, password: str = "secret-pass") -> str:
    """Sign ``username`` in; return the CSRF token of the sign-in page."""
    token = csrf_token(client.get("/login").get_data(as_text=True))
    client.post("/login", data={"username": username, "password": password, "csrf_token": token})
    return token


def sign_out(client) -> None:
    """Sign out with the inbox page's token."""
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/inbox").get_data(as_text=True))})
