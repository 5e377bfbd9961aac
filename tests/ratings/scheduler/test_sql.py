"""The scheduler's PostgreSQL functions as versioned files (``ratings/scheduler/sql/``): the
database runs the newest, an edit without a migration is caught with its fix named, every
migration installs its own file and its reverse puts back the one before, and the SQL says
what ``Outcome`` says."""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from django.core.checks import Error
from django.db import OperationalError, connection, connections

from ratings.scheduler import OPEN_PAIRS, Outcome, checks, sql
from ratings.scheduler.outcomes import BAD_ANSWER, MISSING_ANSWERS

NEWEST = sql.latest()
ROOT = Path(__file__).resolve().parents[3]


def sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def test_the_newest_sql_says_each_outcome_as_the_enum_does():
    text = NEWEST.read_text()
    for outcome in Outcome:
        assert f"'{outcome.status}'" in text, outcome
        if outcome.message and outcome not in (Outcome.FORBIDDEN, Outcome.INVALID):  # the views' messages
            assert sql_literal(outcome.message) in text, outcome
    for message in (MISSING_ANSWERS, BAD_ANSWER):
        assert sql_literal(message) in text
    assert f"WHILE n_open < {OPEN_PAIRS} " in text


@pytest.mark.django_db
def test_the_database_runs_the_functions_of_the_newest_sql_file():
    assert sql.installed_problems() == []
    assert checks.scheduler_sql_installed() == []


@pytest.mark.django_db
def test_an_sql_file_edited_without_a_migration_names_the_fix(tmp_path):
    edited = tmp_path / "sql"
    shutil.copytree(sql.DIRECTORY, edited)
    (edited / NEWEST.name).write_text(NEWEST.read_text().replace("v_retries < 4", "v_retries < 8"))
    [problem] = sql.installed_problems(directory=edited)
    assert problem.error
    assert f"{NEWEST.name} was edited after migration {NEWEST.stem} installed it" in problem.message
    assert "put the change in a new file (the next number) with a migration of the same name" in problem.message


@pytest.mark.django_db
def test_a_new_sql_file_without_its_migration_names_the_migration_to_add(tmp_path):
    added = tmp_path / "sql"
    shutil.copytree(sql.DIRECTORY, added)
    (added / "9999_serve_faster.sql").write_text(NEWEST.read_text())
    [problem] = sql.installed_problems(directory=added)
    assert "9999_serve_faster.sql is newer than the functions in the database" in problem.message
    assert "no migration installs it: add ratings/migrations/9999_serve_faster.py" in problem.message
    assert not problem.error  # a warning: `migrate` must still run


@pytest.mark.django_db
def test_a_migration_refuses_a_file_edited_after_it_was_written():
    forwards, _ = sql.installer(NEWEST.stem, sha256="0" * 64)
    with connection.schema_editor() as editor, pytest.raises(RuntimeError, match="Restore it, and put the change in a new file"):
        forwards(None, editor)


@pytest.mark.django_db
def test_functions_changed_by_hand_in_the_database_fail_the_start_up_check():
    with connection.cursor() as cursor:
        cursor.execute(NEWEST.read_text().replace("v_retries < 4", "v_retries < 8"))  # CREATE OR REPLACE keeps the comments
    [problem] = sql.installed_problems()
    assert problem.error and "changed outside the migrations" in problem.message
    [message] = checks.scheduler_sql_installed()
    assert isinstance(message, Error) and message.id == "ratings.E001"


def test_the_start_up_check_is_silent_when_the_database_cannot_be_reached(monkeypatch):
    def unreachable(**kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(sql, "installed_problems", unreachable)
    assert checks.scheduler_sql_installed() == []


STEPS = [  # (step, the migration whose file the database then runs)
    # Forwards in a fresh database's order (the three 0007/0008 branches meet at 0012).
    *[(m, m) for m in ("0002_rater_voting", "0004_hot_path_indexes", "0005_scheduler_generic_plans",
                       "0008_votes_only_where_they_count", "0007_participation_flags_per_study",
                       "0007_study_adaptive_sampling", "0012_late_votes_take_the_serving_cap", "0013_set_criterion",
                       "0016_hidden_images_never_return")],
    # Backwards: each reverse reinstalls what the database ran before it.
    ("0015_study_operations", "0013_set_criterion"),  # 0014 and 0015 install none
    ("0013_set_criterion", "0013_set_criterion"),
    ("0012_late_votes_take_the_serving_cap", "0012_late_votes_take_the_serving_cap"),
    ("0011_merge_20261130_1758", "0007_study_adaptive_sampling"),
    ("0010_merge_20261130_1757", "0007_study_adaptive_sampling"),  # a merge installs nothing
    ("-0007_study_adaptive_sampling", "0007_participation_flags_per_study"),
    ("0006_hot_tables_autovacuum", "0005_scheduler_generic_plans"),
    ("0004_hot_path_indexes", "0004_hot_path_indexes"),
    ("0003_merge_0002_api_study_sharing_0002_rater_voting", "0002_rater_voting"),
    ("0001_initial", None),
]


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
    for result, (step, migration) in zip(results, STEPS):
        if migration is None:
            assert (result["files"], result["bodies"]) == ([], {}), step
            continue
        assert result["files"] == [f"{migration}.sql"], step
        text = (sql.DIRECTORY / f"{migration}.sql").read_text()
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
