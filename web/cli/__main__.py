"""``python -m web.cli``: the ``tawasul`` command."""

import sys

from web.cli import main

sys.exit(main())
