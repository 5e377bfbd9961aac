"""Test settings: the real PostgreSQL at 127.0.0.1 unless DATABASE_URL says otherwise, and a
private data directory (media, tiny model weights) for this test run."""

import os
import tempfile

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/evalsite")
os.environ.setdefault("EVALSITE_DATA_DIR", tempfile.mkdtemp(prefix="evalsite-tests-"))
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
# Playwright's sync API runs an event loop in the test thread; the ORM calls the tests make
# between browser steps are still synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
# Tasks run in-process unless a test starts a real worker (tests/processes.py).
os.environ.pop("REDIS_URL", None)

from evalsite.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# The API's per-user rates are far out of reach here (tests share one in-process cache and make
# many requests as one user); the throttling tests set the rates they test.
EVALSITE_THROTTLE_RATES = {scope: "100000/minute" for scope in EVALSITE_THROTTLE_RATES}  # noqa: F405
