"""Who may import whom (ARCHITECTURE.md): read from the source of every module, function-level
imports included, so a late import cannot slip past.

- ``generation`` never imports ``ratings`` (a study owns a job; a job knows no study);
- ``ratings/stats`` is pure NumPy/SciPy: no Django, nothing of either app outside itself;
- ``generation``, ``ratings`` and ``common`` never import the project package ``evalsite``.
"""

from __future__ import annotations

import ast
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
