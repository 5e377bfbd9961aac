"""The scheduler's PostgreSQL functions as versioned files (``ratings/scheduler/sql/``): the
database runs the newest, an edit without a migration is caught with its fix named, every
migration installs its own version and its reverse puts back the one before, the templates'
constants come from Python, and the SQL says what ``Outcome`` says."""

import importlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from django.core.checks import Error
from django.db import OperationalError, connection, connections

from ratings.scheduler import OPEN_PAIRS, Outcome, checks, rules, sql
from ratings.scheduler.outcomes import BAD_ANSWER, MISSING_ANSWERS

NEWEST = sql.latest()
# Since the squash (issue 23 item 8) the newest version is installed by the squashed migration.
MIGRATION = sql.installing_migration(NEWEST.stem)
ROOT = Path(__file__).resolve().parents[3]


def sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def installed_by(migration: str) -> tuple[str, dict | None]:
    """(version, frozen constants) the ratings migration of this name installs."""
    module = importlib.import_module(f"ratings.migrations.{migration}")
    return sql._installs(module.Migration)


def migration_text(version: str) -> str:
    """The SQL a version installs: a one-file version as it is (the migrations that installed
    those were squashed), a folder rendered with the constants its migration froze."""
    migration = sql.installing_migration(version)
    constants = installed_by(migration)[1] if migration else None
    return sql.version_text(sql.version_path(version), constants)


def function_bodies(text: str) -> dict[str, str]:
    """Each function's text from its name to the end of its definition."""
    return dict(re.findall(r"FUNCTION (\w+)\((.*?\$fn\$;)", text, re.S))


def test_the_newest_sql_says_each_outcome_as_the_enum_does():
    text = sql.version_text(NEWEST, sql.used_constants(NEWEST))
    for outcome in Outcome:
        assert f"'{outcome.status}'" in text, outcome
        if outcome.message and outcome not in (Outcome.FORBIDDEN, Outcome.INVALID):  # the views' messages
            assert sql_literal(outcome.message) in text, outcome
    for message in (MISSING_ANSWERS, BAD_ANSWER):
        assert sql_literal(message) in text
    assert f"WHILE n_open < {OPEN_PAIRS} " in text


def test_the_templates_write_no_constant_python_owns():
    """Outcomes, messages, rule names and the scheduler's numbers reach the SQL from Python only."""
    template = sql.template(NEWEST)
    assert "'status', '" not in template  # every status is a placeholder
    for outcome in Outcome:
        if outcome.message:
            assert outcome.message.split("{")[0][:30] not in template, outcome
    for literal in ("2147483647", "'adaptive'", "'target'", "'comparison'", "'rating'", "'set'", "'attention_checks'",
                    "'left'", "'right'", "'tie'", "pg_sleep(0", "LIMIT 200", "n_open < 2"):
        assert literal not in template, literal
    assert "{{ SLOT_UNCAPPED }}" in template and "{{ OPEN_PAIRS }}" in template


def test_the_split_version_installs_the_functions_of_0020_body_for_body():
    """0022 only moved the SQL into templates: rendered with its frozen constants, every function
    it defines is 0020's, character for character (so it behaves as 0020 did)."""
    split, whole = function_bodies(migration_text("0022_sched_split_sql")), function_bodies(migration_text("0020_study_unit"))
    assert set(split) == set(whole) == {"ratings_serve", "ratings_serve_locked", "ratings_vote"}
    for name in whole:
        assert split[name] == whole[name], name


def test_the_newest_migration_froze_the_constants_python_says_today():
    name, constants = installed_by(MIGRATION)
    assert name == NEWEST.stem
    assert constants == sql.used_constants(NEWEST)
    assert constants["OPEN_PAIRS"] == rules.OPEN_PAIRS and constants["SLOT_UNCAPPED"] == rules.SLOT_UNCAPPED
    assert constants["OUTCOME_TOO_FAST"] == Outcome.TOO_FAST.status and constants["MESSAGE_EXPIRED"] == Outcome.EXPIRED.message


def test_rendering_quotes_strings_and_refuses_an_unknown_placeholder():
    assert sql.render("SELECT {{ A }}, {{B}}, {{ C }}", {"A": "it's", "B": 3, "C": 0.02}) == "SELECT 'it''s', 3, 0.02"
    with pytest.raises(KeyError, match="MISSING"):
        sql.render("SELECT {{ MISSING }}", {})


def test_a_folder_version_takes_each_function_from_the_newest_folder_up_to_it(tmp_path):
    """A change copies only the functions it changes: the others come from the folder before."""
    versions = tmp_path / "sql"
    shutil.copytree(sql.DIRECTORY, versions)
    later = versions / "9999_vote_faster"
    later.mkdir()
    (later / "ratings_vote.sql").write_text((NEWEST / "ratings_vote.sql").read_text().replace("LIMIT 1;", "LIMIT 1; -- faster"))
    parts = sql.parts(later, versions)
    assert [(p.parent.name, p.name) for p in parts] == [
        (NEWEST.name, "ratings_serve.sql"), (NEWEST.name, "ratings_serve_locked.sql"), ("9999_vote_faster", "ratings_vote.sql"),
    ]
    assert [p.parent.name for p in sql.parts(versions / NEWEST.name, versions)] == [NEWEST.name] * 3  # earlier versions keep theirs
    assert sql.latest(versions) == later


@pytest.mark.django_db
def test_the_database_runs_the_functions_of_the_newest_sql_file():
    assert sql.installed_problems() == []
    assert checks.scheduler_sql_installed() == []


@pytest.mark.django_db
def test_an_sql_file_edited_without_a_migration_names_the_fix(tmp_path):
    edited = tmp_path / "sql"
    shutil.copytree(sql.DIRECTORY, edited)
    template = edited / NEWEST.name / "ratings_serve_locked.sql"
    template.write_text(template.read_text().replace("v_retries := v_retries + 1;", "v_retries := v_retries + 2;"))
    [problem] = sql.installed_problems(directory=edited)
    assert problem.error
    assert f"{NEWEST.name} was edited after migration {MIGRATION} installed it" in problem.message
    assert "put the change in a new file (the next number) with a migration of the same name" in problem.message


@pytest.mark.django_db
def test_a_new_sql_file_without_its_migration_names_the_migration_to_add(tmp_path):
    added = tmp_path / "sql"
    shutil.copytree(sql.DIRECTORY, added)
    (added / "9999_serve_faster").mkdir()
    shutil.copy(NEWEST / "ratings_serve_locked.sql", added / "9999_serve_faster")
    [problem] = sql.installed_problems(directory=added)
    assert "9999_serve_faster/ is newer than the functions in the database" in problem.message
    assert "no migration installs it: add ratings/migrations/9999_serve_faster.py" in problem.message
    assert "sql.installer('9999_serve_faster', sha256=" in problem.message and "'OPEN_PAIRS': 2" in problem.message
    assert not problem.error  # a warning: `migrate` must still run


@pytest.mark.django_db
def test_a_constant_changed_in_python_without_a_migration_names_the_fix(monkeypatch):
    monkeypatch.setattr(rules, "OPEN_PAIRS", 3)
    [problem] = sql.installed_problems()
    assert problem.error
    assert f"A constant that ratings/scheduler/sql/{NEWEST.name}/ renders" in problem.message
    assert f"changed after migration {MIGRATION} installed it" in problem.message
    assert "put it in a new version (the next number" in problem.message


@pytest.mark.django_db
def test_a_migration_refuses_a_file_edited_after_it_was_written():
    forwards, _ = sql.installer(NEWEST.stem, sha256="0" * 64, constants=sql.used_constants(NEWEST))
    with connection.schema_editor() as editor, pytest.raises(RuntimeError, match="Restore it, and put the change in a new file"):
        forwards(None, editor)


@pytest.mark.django_db
def test_functions_changed_by_hand_in_the_database_fail_the_start_up_check():
    with connection.cursor() as cursor:
        # CREATE OR REPLACE keeps the comments
        cursor.execute(migration_text(NEWEST.stem).replace("v_retries := v_retries + 1;", "v_retries := v_retries + 2;"))
    [problem] = sql.installed_problems()
    assert problem.error and "changed outside the migrations" in problem.message
    [message] = checks.scheduler_sql_installed()
    assert isinstance(message, Error) and message.id == "ratings.E001"


def test_the_start_up_check_is_silent_when_the_database_cannot_be_reached(monkeypatch):
    def unreachable(**kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(sql, "installed_problems", unreachable)
    assert checks.scheduler_sql_installed() == []


STEPS = [  # (step, the version whose functions the database then runs)
    # The squashed migration (issue 23 item 8) installs the newest version; before it, nothing.
    (MIGRATION, NEWEST.stem),
    ("zero", None),
    (MIGRATION, NEWEST.stem),
    (f"-{MIGRATION}", None),
]


def test_the_squashed_migration_installs_the_newest_version_and_no_other_migration_installs_one():
    assert MIGRATION == "0001_squashed_0022_sched_split_sql"
    assert sql.installing_migration("0020_study_unit") is None and sql.installing_migration("9999_later") is None


def test_a_later_version_is_found_installed_by_the_migration_of_its_own_name(tmp_path):
    """Versions after the squash keep the rule: the migration of the same name installs one
    (the walk below then gains its steps forward and back)."""
    migrations = tmp_path / "migrations"
    migrations.mkdir()
    (migrations / f"{MIGRATION}.py").write_text(f"sql.installer('{NEWEST.stem}', sha256='x')\n")
    (migrations / "0023_vote_faster.py").write_text('sql.installer("0023_vote_faster", sha256="y")\n')
    assert sql.installing_migration("0023_vote_faster", migrations) == "0023_vote_faster"
    assert sql.installing_migration(NEWEST.stem, migrations) == MIGRATION


@pytest.fixture
def fresh_database_url():
    """The address of a second, empty PostgreSQL database beside the test database."""
    settings_dict = connections["default"].settings_dict
    name = settings_dict["NAME"] + "_migrations"
    admin = dict(host=settings_dict["HOST"] or None, port=settings_dict["PORT"] or None, user=settings_dict["USER"],
                 password=settings_dict["PASSWORD"] or None, dbname="postgres", autocommit=True)
    with psycopg.connect(**admin) as server:
        server.execute(f'DROP DATABASE IF EXISTS "{name}"')
        server.execute(f'CREATE DATABASE "{name}"')
    password = f":{settings_dict['PASSWORD']}" if settings_dict["PASSWORD"] else ""
    yield f"postgres://{settings_dict['USER']}{password}@{settings_dict['HOST'] or '127.0.0.1'}:{settings_dict['PORT'] or 5432}/{name}"
    with psycopg.connect(**admin) as server:
        server.execute(f'DROP DATABASE IF EXISTS "{name}"')


@pytest.mark.slow
def test_each_migration_installs_its_own_sql_and_its_reverse_puts_back_the_one_before(fresh_database_url):
    started = time.monotonic()
    run = subprocess.run(
        [sys.executable, "-m", "tests.ratings.scheduler.migrate_steps", *(step for step, _ in STEPS)],
        cwd=ROOT, env={**os.environ, "DATABASE_URL": fresh_database_url}, capture_output=True, text=True, timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    results = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    assert [r["step"] for r in results] == [step for step, _ in STEPS]
    for result, (step, version) in zip(results, STEPS):
        if version is None:
            assert (result["files"], result["bodies"]) == ([], {}), step
            continue
        assert result["files"] == [sql.label(sql.version_path(version))], step
        text = migration_text(version)
        # The bodies in the database are the file's own, function by function.
        assert set(result["bodies"]) == {name for name in sql.function_names() if f"FUNCTION {name}(" in text}, step
        assert all(body in text for body in result["bodies"].values()), step
    print(f"{len(STEPS)} migration steps in {time.monotonic() - started:.1f} s")


@pytest.mark.django_db
def test_the_busiest_tables_are_vacuumed_sooner_than_postgresqls_defaults():
    with connection.cursor() as cursor:
        cursor.execute("SELECT relname, reloptions FROM pg_class WHERE relname IN ('ratings_comparison', 'ratings_pairslot')")
        options = {name: set(values or []) for name, values in cursor.fetchall()}
    assert "autovacuum_vacuum_scale_factor=0.02" in options["ratings_comparison"]
    assert "autovacuum_vacuum_threshold=1000" in options["ratings_pairslot"]
