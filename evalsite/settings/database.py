"""The database: DATABASE_URL, or SQLite in the data directory (the demo)."""

import dj_database_url

from .base import DATA_DIR
from .env import env

DATABASE_URL = env.str("DATABASE_URL", default="") or f"sqlite:///{DATA_DIR / 'evalsite.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env.int("DATABASE_CONN_MAX_AGE", default=60))}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # The demo's web server and in-process tasks write from more than one thread.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
# The database the test suite creates and drops: test_<DATABASE_URL's database> unless named here,
# so the suite can run beside another project's (or another checkout's) on one shared server.
TEST_DATABASE_NAME = env.str("EVALSITE_TEST_DATABASE_NAME", default="").strip()
if TEST_DATABASE_NAME:
    DATABASES["default"]["TEST"] = {"NAME": TEST_DATABASE_NAME}
