"""The scheduler's PostgreSQL half: versioned function files, their installation, the check that
the database runs the newest, and the call from Python.

A version is installed by the ratings migration of the same name and never edited afterwards;
0022 by ``0001_squashed_0022_sched_split_sql``, since the ratings migrations up to 0022 were
squashed (``installing_migration`` finds it).
Up to 0020 a version is one file, ``NNNN_<name>.sql``, holding every function. From 0022 on a
version is a folder, ``NNNN_<name>/``, with one file per function (``ratings_vote.sql``...), and
it holds only the functions it changes: a version installs, for each function, its file from
the newest folder up to and including its own. The folders' files are templates: each
``{{ NAME }}`` is filled from Python at install time (``constants``: the scheduler's rules in
``rules.py``, ``Outcome``, the models' choices), so a constant is written once. A change to the
SQL, or to a constant it renders, is a new folder (copy only the function files that change)
and a migration of the same name whose only operation is::

    migrations.RunPython(*sql.installer("0023_<name>", sha256="<sha256 of the rendered text>", constants={...}))

``python manage.py shell -c "from ratings.scheduler import sql; print(sql.migration_operation('0023_<name>'))"``
prints that line. ``constants`` freezes the
values the migration renders with (as a migration freezes a field's choices), so an old
migration installs what it always installed whatever Python says today; the start-up check
tells when Python's constants and the newest migration's differ.

The one-file versions (up to 0020) are installed by no migration since the squash: they stay as
the record of what databases ran (the tests compare 0022 with 0020, body for body), and their
function names tell ``install`` what to drop.

The pinned hash makes a later edit of an installed file fail its migration loudly instead of
reaching a fresh database only. ``install`` records on every function which version it came
from and a hash of the definitions it made, so ``installed_problems`` can tell a database that
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

from ...models import PairSlot, Participation, Study, Vote
from .. import rules
from ..outcomes import BAD_ANSWER, MISSING_ANSWERS, Outcome

DIRECTORY = Path(__file__).resolve().parent
COMMENT_PREFIX = "evalsite sql "
_FUNCTION_NAME = re.compile(r"CREATE\s+(?:OR\s+REPLACE\s+)?FUNCTION\s+(\w+)", re.IGNORECASE)
_PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")
_VERSION = "[0-9][0-9][0-9][0-9]_*"


class Problem(NamedTuple):
    message: str
    # The database runs SQL that no migration describes (an error at start-up); otherwise a
    # migration is pending or missing, and `migrate` itself must not be blocked (a warning).
    error: bool
    # A migration that exists is not applied: Django itself says so, and `migrate` installs it.
    pending: bool = False


def constants() -> dict[str, int | float | str]:
    """What the templates' ``{{ NAME }}`` placeholders stand for, from the Python that owns each."""
    values: dict[str, int | float | str] = {
        "OPEN_PAIRS": rules.OPEN_PAIRS,
        "SLOT_UNCAPPED": rules.SLOT_UNCAPPED,
        "SERVE_RETRIES": rules.SERVE_RETRIES,
        "SERVE_RETRY_SECONDS": rules.SERVE_RETRY_SECONDS,
        "LAPSED_BATCH": rules.LAPSED_BATCH,
        "SAMPLING_ADAPTIVE": rules.Sampling.ADAPTIVE.value,
        "STOP_TARGET": rules.StopWhen.TARGET.value,
        "UNIT_COMPARISON": rules.Unit.COMPARISON.value,
        "SIDE_LEFT": rules.Side.LEFT.value,
        "SIDE_RIGHT": rules.Side.RIGHT.value,
        "SIDE_TIE": rules.Side.TIE.value,
        "ALLOWED_WITH_TIES": rules.ALLOWED_WITH_TIES,
        "ALLOWED_WITHOUT_TIES": rules.ALLOWED_WITHOUT_TIES,
        "STATUS_RATING": Study.Status.RATING.value,
        "KIND_SET": PairSlot.Kind.SET.value,
        "FLAG_ATTENTION_CHECKS": Participation.FlagReason.ATTENTION_CHECKS.value,
        "CHOICE_A": Vote.Choice.A.value,
        "CHOICE_B": Vote.Choice.B.value,
        "CHOICE_TIE": Vote.Choice.TIE.value,
        "MISSING_ANSWERS": MISSING_ANSWERS,
        "BAD_ANSWER": BAD_ANSWER,
    }
    for outcome in Outcome:
        values[f"OUTCOME_{outcome.name}"] = outcome.status
        if outcome.message:
            values[f"MESSAGE_{outcome.name}"] = outcome.message
    return values


def sql_literal(value: int | float | str) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise TypeError(f"A scheduler SQL constant is a number or a string, not {value!r}.")
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return repr(value)


def render(template: str, values: dict) -> str:
    """``template`` with each ``{{ NAME }}`` replaced by ``values[NAME]`` as an SQL literal."""
    missing = sorted({name for name in _PLACEHOLDER.findall(template) if name not in values})
    if missing:
        raise KeyError(f"No value for the scheduler SQL placeholder(s) {', '.join(missing)}.")
    return _PLACEHOLDER.sub(lambda match: sql_literal(values[match.group(1)]), template)


def files(directory: Path = DIRECTORY) -> list[Path]:
    """Every version, oldest first: the one-file versions (``NNNN_<name>.sql``) and the folders."""
    return sorted([*directory.glob(f"{_VERSION}.sql"), *(p for p in directory.glob(_VERSION) if p.is_dir())], key=lambda p: p.name)


def latest(directory: Path = DIRECTORY) -> Path:
    return files(directory)[-1]


def version_path(name: str, directory: Path = DIRECTORY) -> Path | None:
    """The version a migration of this name installs (a file or a folder), or None."""
    for path in (directory / f"{name}.sql", directory / name):
        if path.exists():
            return path
    return None


def label(path: Path) -> str:
    """How messages and signatures name a version: ``0020_study_unit.sql``, ``0022_sched_split_sql/``."""
    return f"{path.name}/" if path.is_dir() else path.name


def parts(path: Path, directory: Path = DIRECTORY) -> list[Path]:
    """A folder version's function files: each function's newest file among the folders up to it."""
    newest: dict[str, Path] = {}
    for version in files(directory):
        if version.is_dir() and version.name <= path.name:
            newest.update({part.name: part for part in version.glob("*.sql")})
    return [newest[name] for name in sorted(newest)]


def template(path: Path, directory: Path = DIRECTORY) -> str:
    """A version's text before rendering (a one-file version is not a template)."""
    if not path.is_dir():
        return path.read_text()
    return "\n".join(part.read_text() for part in parts(path, directory))


def version_text(path: Path, values: dict | None, directory: Path = DIRECTORY) -> str:
    """The SQL a version installs: a folder's templates rendered with ``values``; a file as it is."""
    return render(template(path, directory), values or {}) if path.is_dir() else path.read_text()


def version_sha256(path: Path, values: dict | None, directory: Path = DIRECTORY) -> str:
    if not path.is_dir():
        return file_sha256(path)
    return hashlib.sha256(version_text(path, values, directory).encode()).hexdigest()


def used_constants(path: Path, directory: Path = DIRECTORY) -> dict | None:
    """Today's values of the placeholders a folder version's templates use (None for a file)."""
    if not path.is_dir():
        return None
    values = constants()
    return {key: values[key] for key in sorted(set(_PLACEHOLDER.findall(template(path, directory))) & set(values))}


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def constants_md5(values: dict | None) -> str:
    return hashlib.md5(json.dumps(values or {}, sort_keys=True).encode()).hexdigest()


def function_names(directory: Path = DIRECTORY) -> list[str]:
    """Every function any version defines (a reverse migration drops the ones an older file lacks)."""
    return sorted({name.lower() for path in files(directory) for name in _FUNCTION_NAME.findall(template(path, directory))})


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


def install(cursor, *, name: str, constants: dict | None = None, directory: Path = DIRECTORY) -> None:
    """Replace the scheduler's functions by those of version ``name`` (a folder's rendered with
    ``constants``), and sign each with its origin."""
    path = version_path(name, directory)
    names = function_names(directory)
    text = version_text(path, constants, directory)
    # Replaced in place (running callers keep going); only a function this version lacks is dropped.
    defined = {function.lower() for function in _FUNCTION_NAME.findall(text)}
    cursor.execute(
        "SELECT p.oid::regprocedure::text FROM pg_proc p WHERE p.proname = ANY(%s) AND pg_function_is_visible(p.oid)",
        [sorted(set(names) - defined)],
    )
    for (signature,) in cursor.fetchall():
        cursor.execute(f"DROP FUNCTION {signature}")
    cursor.execute(text)
    rows = _installed(cursor, names)
    signed = {"file": label(path), "sha256": version_sha256(path, constants, directory), "definitions_md5": _definitions_md5(rows)}
    if path.is_dir():
        signed["constants_md5"] = constants_md5(constants)
    signature = json.dumps(signed)
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


def _installs(migration) -> tuple[str, dict | None] | None:
    """(version, frozen constants) of the scheduler SQL a migration installs, or None."""
    for operation in getattr(migration, "operations", []):
        installed = getattr(getattr(operation, "code", None), "scheduler_sql", None)
        if installed is not None:
            return installed
    return None


def _previous(connection, name: str) -> tuple[str, dict | None] | None:
    """The version (with its constants) of the last migration before the one that installs
    ``name`` (in a fresh database's order) that installs one and stays applied once that one is
    reverted: what the database ran before ``name``."""
    from django.db.migrations.loader import MigrationLoader

    loader = MigrationLoader(connection)
    plan = []
    for leaf in loader.graph.leaf_nodes():
        plan += [node for node in loader.graph.forwards_plan(leaf) if node not in plan]
    candidates = [
        installed for app, migration in plan
        if app == "ratings" and (app, migration) in loader.applied_migrations
        and (installed := _installs(loader.graph.nodes[(app, migration)])) is not None
    ]
    # The migration being reverted is still recorded as applied; a version is installed by one migration.
    candidates = candidates[: next((i for i, installed in enumerate(candidates) if installed[0] == name), len(candidates))]
    return candidates[-1] if candidates else None


MIGRATIONS = DIRECTORY.parents[1] / "migrations"


def installing_migration(name: str, migrations: Path = MIGRATIONS) -> str | None:
    """The ratings migration that installs version ``name`` (0022: the squashed one); None if none does."""
    calls = (f"sql.installer({name!r}", f'sql.installer("{name}"')
    for path in sorted(migrations.glob("[0-9][0-9][0-9][0-9]_*.py")):
        if any(call in path.read_text() for call in calls):
            return path.stem
    return None


def installer(name: str, *, sha256: str, constants: dict | None = None):
    """The (forwards, backwards) pair of a migration's ``RunPython`` that installs version
    ``name`` (a folder's templates rendered with ``constants``, the values frozen in the
    migration); backwards puts back what was installed before it (or drops the functions).
    No-op off PostgreSQL, where the ORM path serves."""
    path = version_path(name) or DIRECTORY / f"{name}.sql"

    def forwards(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        if version_sha256(path, constants) != sha256:
            raise RuntimeError(
                f"{path.relative_to(DIRECTORY.parents[2])} is not the text migration {name} installs (it was edited after "
                "its migration was written). Restore it, and put the change in a new file with a migration of the same "
                "name (see ratings/scheduler/sql/__init__.py)."
            )
        with schema_editor.connection.cursor() as cursor:
            install(cursor, name=name, constants=constants)

    def backwards(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        previous = _previous(schema_editor.connection, name)
        with schema_editor.connection.cursor() as cursor:
            if previous is None:
                uninstall(cursor)
            else:
                install(cursor, name=previous[0], constants=previous[1])

    forwards.scheduler_sql = (name, constants)
    return forwards, backwards


def migration_operation(name: str, directory: Path = DIRECTORY) -> str:
    """The line a new version's migration holds, with today's constants frozen in it."""
    path = version_path(name, directory)
    if path is None or not path.is_dir():
        raise FileNotFoundError(f"ratings/scheduler/sql/{name}/ is not a folder version.")
    frozen = used_constants(path, directory)
    return (
        f"migrations.RunPython(*sql.installer({name!r}, sha256={version_sha256(path, frozen, directory)!r}, "
        f"constants={frozen!r}))"
    )


def installed_problems(*, using=connection, directory: Path = DIRECTORY) -> list[Problem]:
    """Why the functions in the database are not those of the newest version here (rendered with
    today's constants), in words that name the fix; [] when they are (or off PostgreSQL, where
    they are not used)."""
    if using.vendor != "postgresql":
        return []
    expected = latest(directory)
    migration = installing_migration(expected.stem) or expected.stem
    values = used_constants(expected, directory)
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
            f"migrate ratings back before {migration} and forward again to reinstall {label(expected)}.", True,
        )]
    signature = json.loads(next(iter(comments))[len(COMMENT_PREFIX):])
    if signature["file"] != label(expected):
        if installing_migration(expected.stem) is None:
            line = (
                f"`{migration_operation(migration, directory)}` (`sql.migration_operation('{migration}')` prints it)"
                if expected.is_dir() else f"`sql.installer(\"{migration}\", sha256=\"{file_sha256(expected)}\")`"
            )
            return [Problem(
                f"ratings/scheduler/sql/{label(expected)} is newer than the functions in the database ({signature['file']}) "
                f"and no migration installs it: add ratings/migrations/{migration}.py running {line}, "
                "then run `python manage.py migrate ratings`.", False,
            )]
        return [Problem(
            f"The database runs the scheduler SQL of {signature['file']}, the code expects {label(expected)}: "
            f"run `python manage.py migrate ratings` (migration {migration} is not applied).", False, True,
        )]
    if signature["sha256"] != version_sha256(expected, values, directory):
        if expected.is_dir() and signature.get("constants_md5") != constants_md5(values):
            return [Problem(
                f"A constant that ratings/scheduler/sql/{label(expected)} renders (ratings/scheduler/rules.py, Outcome, or a "
                f"model's choices) changed after migration {migration} installed it, so the change never reaches a database: "
                "put it in a new version (the next number: a folder with copies of the function files that use it) with a "
                "migration of the same name that installs it (see ratings/scheduler/sql/__init__.py).", True,
            )]
        return [Problem(
            f"ratings/scheduler/sql/{expected.name} was edited after migration {migration} installed it, so the edit never "
            "reaches a database: restore the file, and put the change in a new file (the next number) with a migration "
            "of the same name that installs it (see ratings/scheduler/sql/__init__.py).", True,
        )]
    if signature["definitions_md5"] != _definitions_md5(rows):
        return [Problem(
            f"The scheduler's SQL functions in the database were changed outside the migrations since {label(expected)} "
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
