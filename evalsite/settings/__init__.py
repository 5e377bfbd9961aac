"""Django settings for evalsite, read from environment variables with working defaults.

With nothing set: SQLite in ``EVALSITE_DATA_DIR`` and Celery tasks run in-process (the demo).
With ``DATABASE_URL=postgres://...`` and ``REDIS_URL=redis://...``: PostgreSQL and a real broker.
Every variable is listed with a one-line explanation in ``.env.example``, and read through
``env`` (django-environ, ``settings/env.py``). One module per concern, in the order they build
on each other; an app's own defaults live in the app (``ratings/conf.py``, ``generation/conf.py``,
``common/conf.py``) and the modules here read each variable with that default.
"""

from .base import *  # noqa: F401,F403
from .security import *  # noqa: F401,F403
from .database import *  # noqa: F401,F403
from .storage import *  # noqa: F401,F403
from .generation import *  # noqa: F401,F403
from .workers import *  # noqa: F401,F403
from .api import *  # noqa: F401,F403
from .observability import *  # noqa: F401,F403
from .crowd import *  # noqa: F401,F403
