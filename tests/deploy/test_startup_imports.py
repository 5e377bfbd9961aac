"""Django start-up (the web process, commands that make no images) never imports torch or
diffusers: they cost seconds and hundreds of MB, and only generation code paths need them."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# A meta-path finder that makes importing torch, diffusers or transformers an error, so the
# traceback names the import that pulled them in.
BLOCKER = """
import sys
class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {'torch', 'diffusers', 'transformers', 'accelerate', 'peft'}:
            raise ImportError(f'start-up imported {name}')
        return None
sys.meta_path.insert(0, Blocker())
"""


def run_blocked(code: str, tmp_path) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "evalsite.settings",
        "EVALSITE_DATA_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'startup.sqlite3'}",
    }
    env.pop("REDIS_URL", None)
    return subprocess.run([sys.executable, "-c", BLOCKER + code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_web_process_loads_every_url_view_and_admin_without_torch(tmp_path):
    result = run_blocked(
        """
from evalsite.wsgi import application
from django.urls import get_resolver
from django.contrib import admin
resolver = get_resolver()
resolver.url_patterns  # imports every view module
admin.autodiscover()
import evalsite.celery, generation.tasks, ratings.views
print('ok', sorted(m for m in sys.modules if m.split('.')[0] in {'torch', 'diffusers'}))
""",
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "ok []" in result.stdout


@pytest.mark.parametrize("command", [["check"], ["migrate", "--noinput"], ["generate", "--help"], ["demo", "--help"], ["make_tiny_models", "--help"], ["leaderboard", "--help"]])
def test_management_commands_that_make_no_images_start_without_torch(command, tmp_path):
    result = run_blocked(
        f"from django.core.management import execute_from_command_line\nexecute_from_command_line(['manage.py', *{command!r}])",
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "start-up imported" not in result.stderr


def test_the_blocker_does_catch_a_torch_import(tmp_path):
    result = run_blocked("import generation.pipelines as p\np.resolve_device()", tmp_path)
    assert result.returncode != 0
    assert "start-up imported torch" in result.stderr
