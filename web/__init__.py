"""The Flask web app and the ``tawasul`` command.

One package per audience (`web.staff` today; `supervision`, `modeler`, `portal` and a full `api`
to come), the health check, the integration API, and the command (`web.cli`). `create_app` is
in `web.app`; every module imports what it needs from its own module (`web.extensions`,
`web.current`, ...), never from this package's root, which only names the factory for
``gunicorn 'web:create_app()'``.
"""

from web.app import create_app

__all__ = ["create_app"]
