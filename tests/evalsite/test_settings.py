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


def test_env_example_documents_every_variable_the_settings_read():
    import re

    settings_source = (ROOT / "evalsite" / "settings.py").read_text()
    read = set(re.findall(r'env(?:_bool|_list)?\(\s*"([A-Z_]+)"', settings_source))
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
    source = (ROOT / "evalsite" / "settings.py").read_text()
    assert source.count("CELERY_BEAT_SCHEDULE = ") == 1, "a second assignment silently replaces the first"
