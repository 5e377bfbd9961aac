"""One place for versions: requirements/lock.txt pins every dependency of every extra, the
environment the suite runs in is exactly the lock, and every install path installs from it."""

import re
import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements" / "lock.txt"


def pins() -> dict[str, str]:
    found = {}
    for line in LOCK.read_text().splitlines():
        if line and not line[0].isspace() and not line.startswith("#"):
            name, _, pinned = line.partition("==")
            assert pinned, f"requirements/lock.txt: {line!r} is not an exact pin"
            found[canonicalize_name(name)] = pinned.strip()
    return found


def test_every_dependency_of_every_extra_is_pinned():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    named = [*project["dependencies"], *(r for extra in project["optional-dependencies"].values() for r in extra)]
    locked = pins()
    missing = sorted({canonicalize_name(Requirement(r).name) for r in named} - set(locked))
    assert not missing, f"Not in requirements/lock.txt: {', '.join(missing)}. Run scripts/lock."
    for requirement in map(Requirement, named):  # each pin satisfies pyproject's range
        assert requirement.specifier.contains(locked[canonicalize_name(requirement.name)], prereleases=True), requirement


def test_the_suite_runs_on_exactly_the_locked_versions():
    drift = []
    for name, pinned in pins().items():
        try:
            installed = version(name)
        except PackageNotFoundError:
            continue  # a package only another platform's resolution needs
        if installed.split("+")[0] != pinned.split("+")[0]:
            drift.append(f"{name} {installed} (lock: {pinned})")
    assert not drift, "The environment differs from requirements/lock.txt: " + "; ".join(drift)


def test_every_install_path_uses_the_lock():
    dockerfile = (ROOT / "Dockerfile").read_text()
    installs = [line for line in dockerfile.splitlines() if "pip install" in line and '".[' in line]
    assert len(installs) == 2 and all("-c requirements/lock.txt" in line for line in installs), installs
    assert "COPY requirements ./requirements" in dockerfile
    setup = (ROOT / "scripts" / "lib" / "setup.sh").read_text()
    assert len(re.findall(r"pip install --quiet -c requirements/lock.txt", setup)) == 2
    assert '"requirements" / "lock.txt"' in (ROOT / "tests" / "deploy" / "test_base_install.py").read_text()
