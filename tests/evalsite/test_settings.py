"""Settings come from the environment, with working defaults (checked in fresh processes)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PRINT_SETTINGS = (
    "import django, json; django.setup(); from django.conf import settings as s; "
    "print(json.dumps({'engine': s.DATABASES['default']['ENGINE'], 'name': str(s.DATABASES['default']['NAME']), "
    "'eager': s.CELERY_TASK_ALWAYS_EAGER, 'broker': s.CELERY_BROKER_URL, 'cache': s.CACHES['default']['BACKEND']}))"
)


def settings_in_fresh_process(tmp_path, **env_vars):
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "CELERY_TASK_ALWAYS_EAGER"}}
    env.update(DJANGO_SETTINGS_MODULE="evalsite.settings", EVALSITE_DATA_DIR=str(tmp_path), **env_vars)
    out = subprocess.run([sys.executable, "-c", PRINT_SETTINGS], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_nothing_set_gives_sqlite_in_the_data_dir_and_in_process_tasks(tmp_path):
    result = settings_in_fresh_process(tmp_path)
    assert result["engine"] == "django.db.backends.sqlite3"
    assert result["name"].startswith(str(tmp_path))
    assert result["eager"] is True
    assert result["broker"] == "memory://"


def test_database_and_redis_urls_give_postgresql_and_a_real_broker(tmp_path):
    result = settings_in_fresh_process(
        tmp_path, DATABASE_URL="postgres://postgres@127.0.0.1:5432/evalsite", REDIS_URL="redis://127.0.0.1:6379/0"
    )
    assert result["engine"] == "django.db.backends.postgresql"
    assert result["name"] == "evalsite"
    assert result["eager"] is False
    assert result["broker"] == "redis://127.0.0.1:6379/0"
    assert result["cache"].endswith("RedisCache")


TEST_DATABASE_NAME = (
    "import django; django.setup(); from django.db import connection; "
    "print(connection.creation._get_test_db_name())"
)


def name_of_test_database_in_fresh_process(tmp_path, **env_vars) -> str:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "EVALSITE_TEST_DATABASE_NAME"}}
    env.update(DJANGO_SETTINGS_MODULE="evalsite.settings", EVALSITE_DATA_DIR=str(tmp_path), **env_vars)
    out = subprocess.run([sys.executable, "-c", TEST_DATABASE_NAME], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[-1]


def test_the_test_database_is_named_after_database_url_or_by_its_own_variable(tmp_path):
    """Two projects (or checkouts) on one PostgreSQL server each get a test database of their own."""
    url = "postgres://postgres@127.0.0.1:5432/"
    assert name_of_test_database_in_fresh_process(tmp_path, DATABASE_URL=url + "evalsite") == "test_evalsite"
    assert name_of_test_database_in_fresh_process(tmp_path, DATABASE_URL=url + "other_project") == "test_other_project"
    named = name_of_test_database_in_fresh_process(tmp_path, DATABASE_URL=url + "evalsite", EVALSITE_TEST_DATABASE_NAME="evalsite_ci_42")
    assert named == "evalsite_ci_42"


def test_this_run_uses_the_test_database_its_environment_names(db):
    from django.db import connection

    expected = os.environ.get("EVALSITE_TEST_DATABASE_NAME") or "test_" + os.environ["DATABASE_URL"].rsplit("/", 1)[1].split("?")[0]
    assert connection.settings_dict["NAME"] == expected


def settings_package_source() -> str:
    """Every module of the settings package (evalsite/settings/), one after the other."""
    return "\n".join(path.read_text() for path in sorted((ROOT / "evalsite" / "settings").glob("*.py")))


def test_env_example_documents_every_variable_the_settings_read():
    import re

    settings_source = settings_package_source()
    read = set(re.findall(r'\benv(?:\.[a-z]+)?\(\s*"([A-Z_]+)"', settings_source))
    read |= set(re.findall(r'os\.environ\.get\(\s*"([A-Z_]+)"', settings_source))
    # The web server's settings file too.
    read |= set(re.findall(r'os\.environ\.get\(\s*"([A-Z_]+)"', (ROOT / "gunicorn.conf.py").read_text()))
    example = (ROOT / ".env.example").read_text()
    documented = {}
    for line_number, line in enumerate(example.splitlines(), start=1):
        match = re.match(r"^#?\s*([A-Z_][A-Z0-9_]*)=", line)
        if match:
            documented[match.group(1)] = line_number
    assert read, "the settings read no environment variables?"
    assert sorted(read - set(documented)) == []
    # Every variable has a one-line explanation right above it.
    lines = example.splitlines()
    for name, line_number in documented.items():
        assert lines[line_number - 2].startswith("# ") and len(lines[line_number - 2]) > 10, f"{name} has no explanation"


@pytest.mark.django_db  # loading the task modules fires Celery's Django fixup, which checks the connection
def test_beat_runs_generation_reconciliation_leaderboard_refresh_and_level_repair():
    from django.conf import settings

    from evalsite.celery import app

    app.loader.import_default_modules()
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"generation.reconcile_jobs", "ratings.leaderboards_refresh_stale", "ratings.serve_levels_repair"} <= tasks
    assert tasks <= set(app.tasks), "beat names a task no worker knows"
    source = settings_package_source()
    assert source.count("CELERY_BEAT_SCHEDULE = ") == 1, "a second assignment silently replaces the first"


def test_the_environment_reader_keeps_the_variables_meanings(monkeypatch):
    """evalsite/settings/env.py: django-environ, with the meanings the variables had before it."""
    from evalsite.settings.env import env

    for name, value in {"T_EMPTY": "", "T_Y": "y", "T_TWO": "2", "T_ON": " On ", "T_FLOAT": "1e3", "T_LIST": " a, b,,c ",
                        "T_TOKEN": "$HOME", "T_INT": "7"}.items():
        monkeypatch.setenv(name, value)
    assert env.bool("T_EMPTY", default=True) is True and env.int("T_EMPTY", default=5) == 5  # "NAME=": the default
    assert env.str("T_EMPTY", default="x") == "" and env.list("T_EMPTY", default=["x"]) == []  # a string or list stays empty
    assert env.bool("T_Y", default=True) is False and env.bool("T_TWO", default=True) is False and env.bool("T_ON", default=False) is True
    assert env.float("T_FLOAT", default=0.0) == 1000.0
    assert env.list("T_LIST", default=[]) == ["a", "b", "c"]
    assert env.str("T_TOKEN", default="") == "$HOME"  # not the value of HOME
    assert env.int("T_INT", default=1) == 7 and env.int("T_UNSET_FOR_SURE", default=1) == 1


APP_DEFAULTS = (
    "import django, json; django.setup(); from django.conf import settings as s; "
    "from common import conf as c; from generation import conf as g; from ratings import conf as r; "
    "print(json.dumps({n: [getattr(s, n), d] for m in (c, g, r) for n, d in m.DEFAULTS.items() if n != 'RATINGS_SAMPLING_REFRESH_INTERVAL_S'}))"
)


def test_with_nothing_set_every_app_setting_is_its_apps_default(tmp_path):
    """An app's defaults are declared once, in its conf module; the project's settings read each
    variable with that default."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EVALSITE_", "RATINGS_", "LEADERBOARD_"))}
    env.update(DJANGO_SETTINGS_MODULE="evalsite.settings", EVALSITE_DATA_DIR=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", APP_DEFAULTS], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    values = json.loads(out.stdout.strip().splitlines()[-1])
    assert len(values) >= 20
    assert {name: pair[0] for name, pair in values.items()} == {name: pair[1] for name, pair in values.items()}
