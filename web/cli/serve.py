"""``serve``: the web app, with an embedded worker unless separate workers run."""

from __future__ import annotations

import argparse
import json

from engine.actors import Actor
from web.app import create_app
from web.cli.shared import Command, positive_int
from web.security import secure_cookies
from workflows.bootstrap import CaseEngine, worker


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=positive_int)
    parser.add_argument("--host")


def _serve(engine: CaseEngine, actor: Actor, args: argparse.Namespace) -> None:
    web_settings = engine.settings.get("web") or {}
    host = args.host or web_settings.get("host", "127.0.0.1")
    # The development server speaks plain HTTP: on localhost a Secure cookie would be the only
    # thing in the way; on any other address the cookie stays Secure (serve it behind HTTPS).
    secure = secure_cookies(web_settings, host)
    app = create_app({"SESSION_COOKIE_SECURE": secure, "REMEMBER_COOKIE_SECURE": secure}, engine=engine)
    port = args.port or int(web_settings.get("port", 5000))
    embedded = worker(engine) if (engine.settings.get("worker") or {}).get("embedded", True) else None
    if embedded is not None:
        embedded.start()
    print(json.dumps({"serving": f"http://{host}:{port}/", "embedded_worker": embedded is not None}), flush=True)
    try:
        app.run(host=host, port=port, debug=False, use_reloader=False)
    finally:
        if embedded is not None:
            embedded.stop()


COMMANDS = (Command("serve", "run the web app", _serve, _arguments),)
