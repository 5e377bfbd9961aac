"""The load benchmark's one outside tool, wrk: found, installed, or a message saying exactly how."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def rater_load():
    spec = importlib.util.spec_from_file_location("rater_load_wrk", ROOT / "benchmarks" / "rater_load_wrk.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_machine_without_wrk_and_without_root_is_told_exactly_how_to_install_it(rater_load, monkeypatch):
    monkeypatch.setattr(rater_load.shutil, "which", lambda name: None)
    monkeypatch.setattr(rater_load.os, "geteuid", lambda: 1000)
    with pytest.raises(SystemExit) as stopped:
        rater_load.ensure_wrk(lambda message: None)
    message = str(stopped.value)
    assert "wrk" in message and "sudo apt-get update && sudo apt-get install -y wrk" in message and "brew install wrk" in message


def test_wrk_on_the_path_is_used(rater_load, monkeypatch):
    monkeypatch.setattr(rater_load.shutil, "which", lambda name: f"/opt/bin/{name}")
    assert rater_load.ensure_wrk(lambda message: None) == "/opt/bin/wrk"
