"""The web process on the base dependencies only: a virtual environment built with
``pip install -e .`` and no extra, so torch, diffusers and transformers are not even installed,
serves its pages, runs its checks and migrations. Built once per checkout and pyproject.toml
(kept under the system's temporary directory), so only the first run pays for the install."""

import hashlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GPU_ONLY = ["torch", "diffusers", "transformers", "accelerate", "peft"]


def base_venv() -> Path:
    key = hashlib.sha256(str(ROOT).encode() + (ROOT / "pyproject.toml").read_bytes() + (ROOT / "requirements" / "lock.txt").read_bytes()).hexdigest()[:16]
    venv = Path(tempfile.gettempdir()) / f"evalsite-base-venv-{key}"
    stamp = venv / ".installed"
    if stamp.exists():
        return venv
    python = f"python{sys.version_info.major}.{sys.version_info.minor}"
    subprocess.run([python, "-m", "venv", "--clear", str(venv)], check=True, timeout=120)
    result = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-c", str(ROOT / "requirements" / "lock.txt"), "-e", str(ROOT)],
        capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, f"pip install -e . (base dependencies) failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    stamp.write_text("ok")
    return venv


@pytest.fixture(scope="session")
def base_python() -> str:
    return str(base_venv() / "bin" / "python")


def run_in(python: str, code: str, tmp_path) -> subprocess.CompletedProcess:
    env = {
        key: value for key, value in os.environ.items()
        if key not in {"PYTHONPATH", "REDIS_URL", "VIRTUAL_ENV", "DJANGO_SETTINGS_MODULE"}
    }
    env.update({
        "DJANGO_SETTINGS_MODULE": "evalsite.settings",
        "EVALSITE_DATA_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'base.sqlite3'}",
        "EVALSITE_LOG_FORMAT": "json",
    })
    return subprocess.run([python, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_web_starts_and_serves_with_only_the_base_dependencies_installed(base_python, tmp_path):
    result = run_in(
        base_python,
        f"""
import importlib.util, sys
missing = [name for name in {GPU_ONLY!r} if importlib.util.find_spec(name) is None]
print("not installed:", missing)
assert missing == {GPU_ONLY!r}, "the base install pulled in part of the gpu extra"
from django.core.management import call_command
import django
django.setup()
call_command("check")
call_command("migrate", "--noinput", verbosity=0)
from evalsite.wsgi import application
from django.urls import get_resolver
from django.contrib import admin
get_resolver().url_patterns  # imports every view module
admin.autodiscover()
import evalsite.celery, generation.tasks, generation.jobs, ratings.views, evalsite.observability
from django.test import Client
client = Client()
for path in ["/healthz/", "/livez/", "/login/", "/metrics"]:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
metrics = client.get("/metrics").content.decode()
assert "django_http_requests_latency_seconds_by_view_method" in metrics
print("served; loaded:", sorted(m for m in sys.modules if m.split('.')[0] in {set(GPU_ONLY)!r}))
""",
        tmp_path,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    assert "served; loaded: []" in result.stdout, result.stdout


@pytest.mark.slow
def test_generation_code_paths_need_the_gpu_extra_that_the_base_install_leaves_out(base_python, tmp_path):
    result = run_in(base_python, "import generation.pipelines as p\np.resolve_device('auto')", tmp_path)
    assert result.returncode != 0
    assert "No module named 'torch'" in result.stderr
