"""Who may import whom (ARCHITECTURE.md): read from the source of every module, function-level
imports included, so a late import cannot slip past.

- ``generation`` never imports ``ratings`` (a study owns a job; a job knows no study);
- ``ratings/stats`` is pure NumPy/SciPy: no Django, nothing of either app outside itself;
- ``generation``, ``ratings`` and ``common`` never import the project package ``evalsite``;
- no import cycle among the modules of ``common``, ``evalsite``, ``generation`` and ``ratings``.
- ``ratings/scheduler`` imports nothing above ``ratings.models``: only the models, the rule names
  (``ratings/stats/rules.py``), itself, ``common``, Django and the standard library (its callers start participations and refresh caches).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def package_of(path: Path) -> list[str]:
    """The package a module's relative imports start from: its folder, as dotted parts."""
    return list(path.relative_to(ROOT).parent.parts)


def imported_modules(source: str, package: list[str], filename: str = "<source>") -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in ``source``, at any depth (inside
    functions too); a relative import is resolved against ``package``, and ``from x import y``
    counts as ``x.y`` too (y may be a module)."""
    found = []
    for node in ast.walk(ast.parse(source, filename=filename)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            found.append((node.lineno, module))
            found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names if alias.name != "*"]
    return found


def within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def breaches_in(imports: list[tuple[int, str]], where: str, forbidden: list[str], allowed: list[str] = ()) -> list[str]:
    """"file:line imports module" for each import of a forbidden package (one per line)."""
    found = []
    for line, module in imports:
        if any(within(module, package) for package in allowed):
            continue
        if any(within(module, package) for package in forbidden):
            message = f"{where}:{line} imports {module}"
            if not any(earlier.startswith(f"{where}:{line} ") for earlier in found):
                found.append(message)
    return found


def outside_in(imports: list[tuple[int, str]], where: str, allowed: list[str]) -> list[str]:
    """"file:line imports module" for each import of something outside ``allowed`` (packages, or
    ``stdlib``: the standard library's top-level modules), one per line."""
    found = []
    for line, module in imports:
        if any(other.startswith(module + ".") for at, other in imports if at == line):
            continue  # `from .. import models` is judged by what it names (ratings.models), not by `ratings`
        if any(within(module, package) for package in allowed if package != "stdlib"):
            continue
        if "stdlib" in allowed and module.split(".")[0] in (*sys.stdlib_module_names, "__future__"):
            continue
        message = f"{where}:{line} imports {module}"
        if not any(earlier.startswith(f"{where}:{line} ") for earlier in found):
            found.append(message)
    return found


def breaches(folders: list[str], forbidden: list[str], *, allowed: list[str] = ()) -> list[str]:
    found = []
    for folder in folders:
        for path in sorted((ROOT / folder).rglob("*.py")):
            imports = imported_modules(path.read_text(), package_of(path), str(path))
            found += breaches_in(imports, str(path.relative_to(ROOT)), forbidden, allowed)
    return found


def test_the_reader_sees_relative_and_late_imports():
    # The rules below pass only if the reader sees imports; these are the kinds that hide.
    source = """
from .. import selectors
from .jobs import job_create

def later():
    import evalsite.settings
    from ratings.stats import bradley_terry
"""
    found = imported_modules(source, ["generation", "api"])
    assert (2, "generation.selectors") in found
    assert (3, "generation.api.jobs") in found
    assert (6, "evalsite.settings") in found
    assert (7, "ratings.stats.bradley_terry") in found
    assert breaches_in(found, "generation/api/views.py", ["ratings"]) == ["generation/api/views.py:7 imports ratings.stats"]


def test_generation_never_imports_ratings():
    found = breaches(["generation"], ["ratings"])
    assert not found, "generation must not import ratings (the dependency runs one way, ratings -> generation):\n" + "\n".join(found)


def test_stats_imports_neither_django_nor_the_apps_nor_the_project():
    found = breaches(["ratings/stats"], ["django", "rest_framework", "generation", "ratings", "evalsite", "common"], allowed=["ratings.stats"])
    assert not found, "ratings/stats is pure NumPy/SciPy, usable without the web app:\n" + "\n".join(found)


@pytest.mark.parametrize("app", ["generation", "ratings", "common"])
def test_apps_never_import_the_project_package(app):
    found = breaches([app], ["evalsite"])
    assert not found, (
        f"{app} must not import the project package evalsite (settings, urls, celery wire the apps, not the reverse); "
        "shared code belongs in common:\n" + "\n".join(found)
    )


def test_common_imports_neither_app():
    found = breaches(["common"], ["generation", "ratings"])
    assert not found, "common is shared by both apps and imports neither:\n" + "\n".join(found)


# Import cycles. A cycle held together by an import inside a function works only as long as
# nobody moves that import, and hides which module is the lower one; services queue tasks by
# name (each app's queueing.py) instead of importing the tasks module that calls them back.
GRAPH_PACKAGES = ("common", "evalsite", "generation", "ratings")


def module_files(root: Path = ROOT, packages=GRAPH_PACKAGES) -> dict[str, Path]:
    """Dotted module name -> file, for every module of ``packages`` under ``root`` (migrations
    left out: they import a frozen history, not the live code)."""
    modules = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            if "migrations" in path.relative_to(root).parts:
                continue
            parts = list(path.relative_to(root).with_suffix("").parts)
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def imported_names(source: str, package: list[str], filename: str = "<source>") -> list[tuple[int, str]]:
    """(line, absolute name) of every import at any depth: ``import a.b`` gives ``a.b``;
    ``from a import b`` gives ``a.b`` only (a module, or a name defined in ``a``), so importing a
    submodule from a package is not read as importing the package's ``__init__``."""
    found = []
    for node in ast.walk(ast.parse(source, filename=filename)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package[: len(package) - (node.level - 1)], *([node.module] if node.module else [])])
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return found


def import_graph(root: Path = ROOT, packages=GRAPH_PACKAGES, leave_out=()) -> dict[str, dict[str, int]]:
    """module -> {module it imports: first line}, imports at any depth (inside functions too),
    relative ones resolved; ``from a import b`` is an import of the module ``a.b`` when there is
    one, else of ``a``. Modules within ``leave_out`` are not nodes."""
    modules = {name: path for name, path in module_files(root, packages).items() if not any(within(name, out) for out in leave_out)}

    def resolved(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph = {}
    for name, path in modules.items():
        package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        edges: dict[str, int] = {}
        for line, imported in imported_names(path.read_text(), package, str(path)):
            target = resolved(imported)
            if target is not None and target != name:
                edges[target] = min(line, edges.get(target, line))
        graph[name] = edges
    return graph


def import_cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """One cycle (a list of modules, the first repeated at the end) per strongly connected group
    of more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.add(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(group)
    return [_cycle_through(graph, group) for group in groups]


def _cycle_through(graph: dict[str, dict[str, int]], group: set[str]) -> list[str]:
    """A shortest cycle from the group's first module back to itself, inside the group."""
    start = min(group)
    came_from = {start: None}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for child in sorted(graph[node]):
                if child == start:
                    path = [node]
                    while came_from[path[-1]] is not None:
                        path.append(came_from[path[-1]])
                    return [*reversed(path), start]
                if child in group and child not in came_from:
                    came_from[child] = node
                    following.append(child)
        frontier = following
    raise AssertionError(f"no cycle in the group {sorted(group)}")


def cycle_text(graph: dict[str, dict[str, int]], cycle: list[str]) -> str:
    return " -> ".join(f"{a} (line {graph[a][b]})" for a, b in zip(cycle, cycle[1:])) + f" -> {cycle[-1]}"


def test_the_graph_sees_a_cycle_held_by_a_late_import(tmp_path):
    (tmp_path / "app" / "sub").mkdir(parents=True)
    (tmp_path / "app" / "migrations").mkdir()
    (tmp_path / "app" / "__init__.py").write_text("")
    (tmp_path / "app" / "sub" / "__init__.py").write_text("")
    (tmp_path / "app" / "jobs.py").write_text("from .sub import queueing\n\ndef enqueue():\n    from .tasks import run\n")
    (tmp_path / "app" / "tasks.py").write_text("from app import jobs\n")
    (tmp_path / "app" / "sub" / "queueing.py").write_text("import os\n")
    (tmp_path / "app" / "migrations" / "0001_initial.py").write_text("from app import jobs\n")
    graph = import_graph(tmp_path, ["app"])
    assert graph["app.jobs"] == {"app.sub.queueing": 1, "app.tasks": 4}
    assert "app.migrations.0001_initial" not in graph
    cycles = import_cycles(graph)
    assert cycles == [["app.jobs", "app.tasks", "app.jobs"]]
    assert cycle_text(graph, cycles[0]) == "app.jobs (line 4) -> app.tasks (line 1) -> app.jobs"
    assert import_cycles(import_graph(tmp_path, ["app"], leave_out=["app.tasks"])) == []


def test_no_import_cycles():
    graph = import_graph()
    assert len(graph) > 100, "the graph lost the project's modules"
    cycles = import_cycles(graph)
    assert not cycles, (
        "import cycles (an import inside a function counts): move the shared piece to the lower module, or queue the "
        "task by name from the app's queueing.py instead of importing its tasks module:\n"
        + "\n".join(cycle_text(graph, cycle) for cycle in cycles)
    )


SCHEDULER_MAY_IMPORT = ["ratings.models", "ratings.stats.rules", "ratings.scheduler", "common", "django", "stdlib"]


def test_an_import_from_outside_the_allowed_list_is_found_inside_a_function_too():
    source = """
import json
from django.db import transaction
from ..models import Study
from .. import models
from . import sql

def later():
    from ..results.caches import leaderboards_invalidate
    import numpy
"""
    found = outside_in(imported_modules(source, ["ratings", "scheduler"]), "ratings/scheduler/voting.py", SCHEDULER_MAY_IMPORT)
    assert found == ["ratings/scheduler/voting.py:9 imports ratings.results.caches.leaderboards_invalidate", "ratings/scheduler/voting.py:10 imports numpy"]


def test_the_scheduler_imports_nothing_above_the_models():
    found = []
    for path in sorted((ROOT / "ratings" / "scheduler").rglob("*.py")):
        imports = imported_modules(path.read_text(), package_of(path), str(path))
        found += outside_in(imports, str(path.relative_to(ROOT)), SCHEDULER_MAY_IMPORT)
    assert not found, (
        "ratings/scheduler depends on ratings.models only (and common, Django, the standard library): it returns what "
        "happened and its callers do the rest (start a participation, refresh caches, decide which slots exist):\n"
        + "\n".join(found)
    )


# Tests mirror the code: tests/<path>/test_<name>.py tests <path>/<name>.py, or the package
# <path>/<name>/; test_<name>_<aspect>.py is one more file about the same module or package.
# What tests no single module sits in a cross-cutting folder, or is one of the project-wide files.
CROSS_CUTTING = {
    "reliability": "faults, the access matrix, fuzzing, load, bad input, blinding",
    "browser": "Chromium through Playwright",
    "deploy": "the built images, compose, the lock, S3, a fresh clone",
    "integration": "whole flows across both apps: the README's example, the demo, a study end to end",
}
PROJECT_WIDE = {"test_architecture.py", "test_openapi.py"}


def mirrored_module(test_file: Path, root: Path = ROOT) -> str | None:
    """The module or package (relative to ``root``) that ``test_file`` (under ``root/tests``)
    mirrors, or None. ``test_specs_sweep.py`` mirrors ``specs.py`` when there is no
    ``specs_sweep.py``; the longest name that exists wins."""
    relative = test_file.relative_to(root / "tests")
    folder = root.joinpath(*relative.parent.parts)
    words = relative.stem.removeprefix("test_").split("_")
    for end in range(len(words), 0, -1):
        name = "_".join(words[:end])
        for candidate in (folder / f"{name}.py", folder / name / "__init__.py", folder / name):
            if candidate.exists() and (candidate.is_file() or any(candidate.glob("*.py"))):
                return str(candidate.relative_to(root))
    return None


def unmapped_test_files(root: Path = ROOT) -> list[str]:
    unmapped = []
    for test_file in sorted((root / "tests").rglob("test_*.py")):
        relative = test_file.relative_to(root / "tests")
        if len(relative.parts) == 1 and relative.name in PROJECT_WIDE:
            continue
        if relative.parts[0] in CROSS_CUTTING:
            continue
        if mirrored_module(test_file, root) is None:
            unmapped.append(str(test_file.relative_to(root)))
    return unmapped


def test_the_mirror_finds_a_module_a_package_and_an_aspect_and_refuses_the_rest(tmp_path):
    for path in ("app/jobs.py", "app/api/__init__.py", "app/api/views.py", "app/stats/__init__.py"):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("")
    for path in (
        "tests/app/test_jobs.py",
        "tests/app/test_jobs_recovery.py",
        "tests/app/api/test_views.py",
        "tests/app/test_stats.py",
        "tests/app/test_stats_davidson.py",
        "tests/reliability/test_anything.py",
        "tests/test_architecture.py",
        "tests/app/test_views.py",
        "tests/app/api/test_jobs.py",
        "tests/test_nothing.py",
        "tests/app/test_job.py",
    ):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("")
    assert mirrored_module(tmp_path / "tests/app/test_jobs_recovery.py", tmp_path) == "app/jobs.py"
    assert mirrored_module(tmp_path / "tests/app/test_stats_davidson.py", tmp_path) == "app/stats/__init__.py"
    assert unmapped_test_files(tmp_path) == [
        "tests/app/api/test_jobs.py",
        "tests/app/test_job.py",
        "tests/app/test_views.py",
        "tests/test_nothing.py",
    ]
    assert mirrored_module(tmp_path / "tests/test_app_jobs.py", tmp_path) == "app"


def test_every_test_file_mirrors_a_module_or_sits_in_a_cross_cutting_folder():
    unmapped = unmapped_test_files()
    assert not unmapped, (
        "These test files mirror no module: tests/<path>/test_<name>[_<aspect>].py must test "
        "<path>/<name>.py or the package <path>/<name>/. Move each beside the module it tests "
        f"(git mv), or, if it tests no single module, into one of tests/{{{','.join(sorted(CROSS_CUTTING))}}}/:\n  "
        + "\n  ".join(unmapped)
    )
