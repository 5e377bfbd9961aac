"""A fresh clone in a folder of its own, with nothing beside it: the prompt-file tests and the
import of the shipped PartiPrompts run from there, so nothing outside the repository is read."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def run(command: list[str], cwd: Path, env: dict, timeout: int = 300) -> str:
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(command)} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture
def clone(tmp_path) -> Path:
    """The worktree's committed HEAD, cloned into an otherwise empty folder."""
    lonely = tmp_path / "lonely"
    lonely.mkdir()
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    subprocess.run(["git", "clone", "--quiet", "--no-checkout", str(ROOT), str(lonely / "evalsite")], check=True)
    subprocess.run(["git", "checkout", "--quiet", head], cwd=lonely / "evalsite", check=True)
    assert sorted(path.name for path in lonely.iterdir()) == ["evalsite"]
    return lonely / "evalsite"


def clone_env(clone: Path, **extra) -> dict:
    # The clone's packages first on the path (ahead of the shared environment's editable install).
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "DJANGO_SETTINGS_MODULE", "EVALSITE_DATA_DIR"}}
    env.update(PYTHONPATH=str(clone), TRANSFORMERS_VERBOSITY="error", **extra)
    return env


def test_the_prompt_file_tests_pass_in_a_lonely_clone(clone):
    output = run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/generation/test_prompt_files.py"],
        cwd=clone, env=clone_env(clone, EVALSITE_TEST_ARTIFACTS=str(clone / "test-artifacts")),
    )
    assert "3 passed" in output, output


def test_the_shipped_partiprompts_imports_in_a_lonely_clone(clone):
    # No services: SQLite in the clone's own data folder, as the demo runs.
    env = {k: v for k, v in clone_env(clone, EVALSITE_DATA_DIR=str(clone / "data")).items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    where = run([sys.executable, "-c", "import generation.builtin_prompts as b; print(b.BUILTIN_PROMPT_SETS['partiprompts'].path)"], clone, env)
    assert Path(where.strip()).is_relative_to(clone)
    run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], clone, env)
    output = run([sys.executable, "manage.py", "import_prompts", "--builtin", "partiprompts"], clone, env)
    assert "'PartiPrompts': 1632 prompts taken, 0 refused (partiprompts)" in output, output
