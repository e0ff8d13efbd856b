"""The Flask extensions of the app, made once here and bound to the app by `web.create_app`.

Kept apart from the app factory so that a blueprint needing one imports this module, never the
package root (which imports every blueprint).
"""

from __future__ import annotations

from flask_babel import Babel
from flask_login import LoginManager
from flask_wtf import CSRFProtect

csrf = CSRFProtect()
login_manager = LoginManager()
babel = Babel()
