"""The OpenAPI schema: valid, without warnings, identical to the committed copy (so a change
to the API shows in review), covering every API route; Swagger UI served from local files."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from django.core.management import call_command
from django.urls import get_resolver

COMMITTED = Path(__file__).resolve().parents[2] / "evalsite" / "openapi.yaml"
# On PostgreSQL, as the tests run: integer fields' bounds in the schema depend on the database.
REGENERATE = (
    "DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres "
    "python manage.py spectacular --validate --fail-on-warn --file evalsite/openapi.yaml"
)


def generated_schema(tmp_path) -> str:
    target = tmp_path / "openapi.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    return target.read_text()


def test_schema_is_valid_and_matches_the_committed_copy(tmp_path, db):
    assert generated_schema(tmp_path) == COMMITTED.read_text(), f"The API changed: regenerate the schema with `{REGENERATE}`."


def api_routes() -> set[str]:
    """Every /api/v1/ URL pattern, in OpenAPI's {name} notation."""
    routes = set()

    def walk(patterns, prefix=""):
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if hasattr(pattern, "url_patterns"):
                walk(pattern.url_patterns, route)
            elif route.startswith("api/v1/") or route.startswith("^api/v1/"):
                routes.add(route)

    walk(get_resolver().url_patterns)
    normalized = set()
    for route in routes:
        if "\\.(?P<format>" in route or route.endswith(r"^$") or route in {"api/v1/", "api/v1/^$"}:
            continue  # format-suffix variants and the browsable root
        text = route.replace("^", "").replace("$", "")
        text = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", text)
        text = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", text)
        if "{format}" not in text:  # the router root's format-suffix variant
            normalized.add("/" + text.replace("{pk}", "{id}"))
    return normalized


def test_every_api_route_is_in_the_schema():
    schema = yaml.safe_load(COMMITTED.read_text())
    documented = set(schema["paths"])
    routes = {route for route in api_routes() if route != "/api/v1/"}
    assert routes, "found no API route"
    assert routes <= documented, f"routes missing from the schema: {sorted(routes - documented)}"


def test_schema_and_swagger_ui_are_served_without_a_cdn(client, db):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert set(yaml.safe_load(schema.content)["paths"]) == set(yaml.safe_load(COMMITTED.read_text())["paths"])
    html = client.get("/api/docs/").content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert any("swagger-ui-bundle.js" in src for src in sources)
    assert all(src.startswith("/static/") or src.startswith("/api/") for src in sources), sources
    for src in sources:
        if src.startswith("/static/"):
            assert client.get(src).status_code == 200, src
