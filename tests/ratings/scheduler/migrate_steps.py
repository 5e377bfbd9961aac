"""Run in a process of its own by ``test_sql.py``: migrate the database of DATABASE_URL through
the given steps (``<migration>`` migrates ratings to it; ``-<migration>`` reverts that one
migration alone) and print, after each, the file the scheduler's functions came from and their
bodies, as JSON lines. A process of its own, because the migrations' data steps query the
default database."""

import json
import os
import sys

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.migrations.executor import MigrationExecutor  # noqa: E402

from ratings.scheduler import sql  # noqa: E402


def installed() -> dict:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT proname, prosrc, coalesce(obj_description(oid, 'pg_proc'), '') FROM pg_proc "
            "WHERE proname = ANY(%s) AND pg_function_is_visible(oid)",
            [sql.function_names()],
        )
        rows = cursor.fetchall()
    files = sorted({json.loads(comment[len(sql.COMMENT_PREFIX):])["file"] for _, _, comment in rows if comment})
    return {"files": files, "bodies": {name: body for name, body, _ in rows}}


for step in sys.argv[1:]:
    if step.startswith("-"):
        executor = MigrationExecutor(connection)
        executor.migrate([], plan=[(executor.loader.graph.nodes[("ratings", step[1:])], True)])
    else:
        call_command("migrate", "ratings", step, verbosity=0, skip_checks=True)
    print(json.dumps({"step": step, **installed()}), flush=True)
