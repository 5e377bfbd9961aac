"""The scheduler's PostgreSQL half: versioned function files, their installation, the check that
the database runs the newest, and the call from Python.

Each ``NNNN_<name>.sql`` here is installed by the ratings migration of the same name and never
edited afterwards: a change to the SQL is a new file (copy the newest, edit the copy) and a
migration of the same name whose only operation is::

    migrations.RunPython(*sql.installer("0013_<name>", sha256="<sha256sum of the file>"))

The files up to 0012 were recovered from git: each is the text of the old
``ratings/scheduler_sql.py`` at the last commit that changed its migration (named in its header),
so a fresh database migrated to any of them runs the SQL that code expected.

The pinned hash makes a later edit of an installed file fail its migration loudly instead of
reaching a fresh database only. ``install`` records on every function which file it came from
and a hash of the definitions it made, so ``installed_problems`` can tell a database that
misses a migration, or whose functions were edited by hand, from one that is up to date.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import NamedTuple

from django.conf import settings
from django.db import OperationalError, connection

DIRECTORY = Path(__file__).resolve().parent
COMMENT_PREFIX = "evalsite sql "
_FUNCTION_NAME = re.compile(r"CREATE\s+(?:OR\s+REPLACE\s+)?FUNCTION\s+(\w+)", re.IGNORECASE)


class Problem(NamedTuple):
    message: str
    # The database runs SQL that no migration describes (an error at start-up); otherwise a
    # migration is pending or missing, and `migrate` itself must not be blocked (a warning).
    error: bool
    # A migration that exists is not applied: Django itself says so, and `migrate` installs it.
    pending: bool = False


def files(directory: Path = DIRECTORY) -> list[Path]:
    return sorted(directory.glob("[0-9][0-9][0-9][0-9]_*.sql"))


def latest(directory: Path = DIRECTORY) -> Path:
    return files(directory)[-1]


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def function_names(directory: Path = DIRECTORY) -> list[str]:
    """Every function any version defines (a reverse migration drops the ones an older file lacks)."""
    return sorted({name.lower() for path in files(directory) for name in _FUNCTION_NAME.findall(path.read_text())})


def _installed(cursor, names: list[str]) -> list[tuple[str, str, str, str]]:
    """(name, definition, body, comment) of the scheduler's functions in the database."""
    cursor.execute(
        """
        SELECT p.proname, pg_get_functiondef(p.oid), p.prosrc, coalesce(obj_description(p.oid, 'pg_proc'), '')
        FROM pg_proc p WHERE p.proname = ANY(%s) AND pg_function_is_visible(p.oid) ORDER BY p.proname
        """,
        [names],
    )
    return cursor.fetchall()


def _definitions_md5(rows) -> str:
    return hashlib.md5("".join(definition for _, definition, _, _ in rows).encode()).hexdigest()


def install(cursor, *, name: str, directory: Path = DIRECTORY) -> None:
    """Replace the scheduler's functions by those of ``name``.sql, and sign each with its origin."""
    path = directory / f"{name}.sql"
    names = function_names(directory)
    text = path.read_text()
    # Replaced in place (running callers keep going); only a function this file lacks is dropped.
    defined = {function.lower() for function in _FUNCTION_NAME.findall(text)}
    cursor.execute(
        "SELECT p.oid::regprocedure::text FROM pg_proc p WHERE p.proname = ANY(%s) AND pg_function_is_visible(p.oid)",
        [sorted(set(names) - defined)],
    )
    for (signature,) in cursor.fetchall():
        cursor.execute(f"DROP FUNCTION {signature}")
    cursor.execute(text)
    rows = _installed(cursor, names)
    signature = json.dumps({"file": path.name, "sha256": file_sha256(path), "definitions_md5": _definitions_md5(rows)})
    cursor.execute(
        "SELECT p.oid::regprocedure::text FROM pg_proc p WHERE p.proname = ANY(%s) AND pg_function_is_visible(p.oid)", [names]
    )
    for (function,) in cursor.fetchall():
        # COMMENT takes no bind parameters: a quoted literal (the JSON holds no single quote).
        cursor.execute(f"COMMENT ON FUNCTION {function} IS '{COMMENT_PREFIX + signature}'")


def uninstall(cursor, *, directory: Path = DIRECTORY) -> None:
    cursor.execute(
        "SELECT p.oid::regprocedure::text FROM pg_proc p WHERE p.proname = ANY(%s) AND pg_function_is_visible(p.oid)",
        [function_names(directory)],
    )
    for (signature,) in cursor.fetchall():
        cursor.execute(f"DROP FUNCTION {signature}")


def _previous(connection, name: str) -> str | None:
    """The file of the last migration before ``name`` (in a fresh database's order) that installs
    one and stays applied once ``name`` is reverted: what the database ran before ``name``."""
    from django.db.migrations.loader import MigrationLoader

    loader = MigrationLoader(connection)
    plan = []
    for leaf in loader.graph.leaf_nodes():
        plan += [node for node in loader.graph.forwards_plan(leaf) if node not in plan]
    applied = set(loader.applied_migrations) - {("ratings", name)}
    candidates = [
        migration for app, migration in plan
        if app == "ratings" and (app, migration) in applied and (DIRECTORY / f"{migration}.sql").exists()
    ]
    return candidates[-1] if candidates else None


def installer(name: str, *, sha256: str):
    """The (forwards, backwards) pair of a migration's ``RunPython`` that installs ``name``.sql;
    backwards puts back what was installed before it (or drops the functions). No-op off
    PostgreSQL, where the ORM path serves."""
    path = DIRECTORY / f"{name}.sql"

    def forwards(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        if file_sha256(path) != sha256:
            raise RuntimeError(
                f"{path.relative_to(DIRECTORY.parents[2])} is not the text migration {name} installs (it was edited after "
                "its migration was written). Restore it, and put the change in a new file with a migration of the same "
                "name (see ratings/scheduler/sql/__init__.py)."
            )
        with schema_editor.connection.cursor() as cursor:
            install(cursor, name=name)

    def backwards(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        previous = _previous(schema_editor.connection, name)
        with schema_editor.connection.cursor() as cursor:
            if previous is None:
                uninstall(cursor)
            else:
                install(cursor, name=previous)

    return forwards, backwards


def installed_problems(*, using=connection, directory: Path = DIRECTORY) -> list[Problem]:
    """Why the functions in the database are not those of the newest file here, in words that
    name the fix; [] when they are (or off PostgreSQL, where they are not used)."""
    if using.vendor != "postgresql":
        return []
    expected = latest(directory)
    migration = expected.stem
    names = function_names(directory)
    with using.cursor() as cursor:
        rows = _installed(cursor, names)
    comments = {comment for _, _, _, comment in rows}
    if not rows:
        return [Problem(
            f"The scheduler's SQL functions are not in the database; migration ratings.{migration} installs them: "
            "run `python manage.py migrate ratings`.", False, True,
        )]
    if len(comments) != 1 or not next(iter(comments)).startswith(COMMENT_PREFIX):
        return [Problem(
            "The scheduler's SQL functions in the database were not installed by a migration (no signature): "
            f"migrate ratings back before {migration} and forward again to reinstall {expected.name}.", True,
        )]
    signature = json.loads(next(iter(comments))[len(COMMENT_PREFIX):])
    migration_file = Path(__file__).resolve().parents[2] / "migrations" / f"{migration}.py"
    if signature["file"] != expected.name:
        if not migration_file.exists():
            return [Problem(
                f"ratings/scheduler/sql/{expected.name} is newer than the functions in the database ({signature['file']}) "
                f"and no migration installs it: add ratings/migrations/{migration}.py running "
                f"`sql.installer(\"{migration}\", sha256=\"{file_sha256(expected)}\")`, then run `python manage.py migrate ratings`.", False,
            )]
        return [Problem(
            f"The database runs the scheduler SQL of {signature['file']}, the code expects {expected.name}: "
            f"run `python manage.py migrate ratings` (migration {migration} is not applied).", False, True,
        )]
    if signature["sha256"] != file_sha256(expected):
        return [Problem(
            f"ratings/scheduler/sql/{expected.name} was edited after migration {migration} installed it, so the edit never "
            "reaches a database: restore the file, and put the change in a new file (the next number) with a migration "
            "of the same name that installs it (see ratings/scheduler/sql/__init__.py).", True,
        )]
    if signature["definitions_md5"] != _definitions_md5(rows):
        return [Problem(
            f"The scheduler's SQL functions in the database were changed outside the migrations since {expected.name} "
            f"was installed: migrate ratings back before {migration} and forward again to reinstall it.", True,
        )]
    return []


def hot_path_enabled() -> bool:
    """PostgreSQL serves and records votes with these functions, unless settings turn them off
    (the tests run the ORM path on PostgreSQL too, to compare)."""
    return connection.vendor == "postgresql" and getattr(settings, "RATINGS_SQL_HOT_PATH", True)


def call(function: str, args: list) -> dict:
    placeholders = ", ".join(["%s"] * len(args))
    for attempt in range(2):
        try:
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT {function}({placeholders})", args)
                result = cursor.fetchone()[0]
            return result if isinstance(result, dict) else json.loads(result)
        except OperationalError as error:
            # Lock order makes deadlocks impossible by design; retry once if one happens anyway.
            if attempt or "deadlock" not in str(error):
                raise
    raise AssertionError("unreachable")
