"""``manage.py check --deploy`` is clean with production settings (HTTPS, a real secret key,
named hosts, no debug), and is not clean without them, so the check is really looking."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def check_deploy(tmp_path, **overrides) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "EVALSITE_"))}
    env.update(
        {
        "DJANGO_SETTINGS_MODULE": "evalsite.settings",
        "EVALSITE_DATA_DIR": str(tmp_path),
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/evalsite",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
        "DJANGO_ALLOWED_HOSTS": "eval.example.org",
        "DJANGO_CSRF_TRUSTED_ORIGINS": "https://eval.example.org",
        "EVALSITE_HTTPS": "true",
        }
    )
    env.update(overrides)
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    result = check_deploy(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_the_readme_documents_the_configuration_checked_here():
    deploy = (ROOT / "README.md").read_text().split("## Deploying across GPU machines", 1)[1].split("\n## ", 1)[0]
    for setting in ("DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS", "EVALSITE_HTTPS=true", "DJANGO_CSRF_TRUSTED_ORIGINS=https://", "check --deploy"):
        assert setting in deploy, f"the README's deploy steps do not name {setting}"


def test_check_deploy_complains_without_https_or_with_debug(tmp_path):
    assert check_deploy(tmp_path, EVALSITE_HTTPS="false").returncode != 0
    debug = check_deploy(tmp_path, DJANGO_DEBUG="true")
    assert debug.returncode != 0 and "DEBUG" in debug.stdout + debug.stderr
