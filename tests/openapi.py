"""Every API response the tests receive is checked against the committed OpenAPI schema
(evalsite/openapi.yaml), as Zulip's test base class checks its API documentation: a schema that
lies about a response fails the test that received it.

A successful (2xx) response must be documented for its status code and content type, and a JSON
body must match the documented schema; an error response must match its schema where the schema
documents that status. `tests/conftest.py` installs the check on Django's test client (and so on
DRF's APIClient, which is one) for every request under /api/v1/.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "evalsite" / "openapi.yaml"
API_PREFIX = "/api/v1/"


class SchemaMismatch(AssertionError):
    """The API answered something its OpenAPI schema does not describe."""


def _json_schema(node):
    """OpenAPI 3.0's schema dialect as JSON Schema 2020-12: `nullable: true` becomes a null type
    (around an allOf / $ref too, which 3.0 validators disagree on), local $refs point into the
    registered document."""
    if isinstance(node, list):
        return [_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {k: (f"urn:evalsite-openapi{v}" if k == "$ref" and isinstance(v, str) and v.startswith("#") else _json_schema(v)) for k, v in node.items()}
    if converted.pop("nullable", False) is True:
        if isinstance(converted.get("type"), str) and not any(k in converted for k in ("allOf", "anyOf", "oneOf", "$ref")):
            converted["type"] = [converted["type"], "null"]
            if "enum" in converted:
                converted["enum"] = [*converted["enum"], None]
        else:
            return {"anyOf": [converted, {"type": "null"}]}
    return converted


@lru_cache(maxsize=1)
def _spec() -> dict:
    return yaml.safe_load(SCHEMA_PATH.read_text())


@lru_cache(maxsize=1)
def _converted() -> dict:
    return _json_schema(_spec())


@lru_cache(maxsize=1)
def _routes() -> list[tuple[re.Pattern, str]]:
    """(regex, template) per documented path, the ones without parameters first."""
    routes = []
    for template in _spec()["paths"]:
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
        routes.append((re.compile(f"^{pattern}$"), template))
    return sorted(routes, key=lambda route: route[1].count("{"))


@lru_cache(maxsize=1)
def _registry() -> Registry:
    return Registry().with_resource("urn:evalsite-openapi", Resource.from_contents(_converted(), default_specification=DRAFT202012))


def operation_for(method: str, path: str) -> tuple[str, dict] | None:
    for pattern, template in _routes():
        if pattern.match(path):
            operation = _spec()["paths"][template].get(method.lower())
            return (template, operation) if operation is not None else None
    return None


def check_response(method: str, path: str, status: int, content_type: str, body: bytes) -> None:
    """Raise SchemaMismatch when the response is not what the schema says METHOD PATH answers."""
    if not path.startswith(API_PREFIX) or path == API_PREFIX or method.upper() in ("HEAD", "OPTIONS"):
        return  # the router's index of resource URLs is not an operation
    found = operation_for(method, path)
    if found is None:
        if 200 <= status < 300:
            raise SchemaMismatch(f"{method} {path} answered {status}, but the schema has no such operation")
        return  # 404 / 405 for a route or method that does not exist
    template, operation = found
    responses = operation.get("responses", {})
    documented = responses.get(str(status)) or responses.get("default")
    if documented is None:
        if 200 <= status < 300:
            raise SchemaMismatch(f"{method} {template} answered {status}, which the schema does not document (it documents {', '.join(responses)})")
        return
    media = (content_type or "").split(";")[0].strip()
    contents = documented.get("content") or {}
    if not contents:
        if body and 200 <= status < 300:
            raise SchemaMismatch(f"{method} {template} {status}: the schema documents no body, the response has {len(body)} bytes of {media}")
        return
    if media not in contents:
        raise SchemaMismatch(f"{method} {template} {status}: content type {media!r} is not documented ({', '.join(contents)})")
    schema = contents[media].get("schema")
    if media != "application/json" or schema is None or schema.get("format") == "binary":
        return  # a file download (documented as binary) is opaque to the schema
    document = json.loads(body)
    validator = Draft202012Validator(_json_schema(schema), registry=_registry())
    errors = sorted(validator.iter_errors(document), key=lambda error: list(error.absolute_path))
    if errors:
        where = "; ".join(f"at {'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message[:300]}" for e in errors[:5])
        raise SchemaMismatch(f"{method} {template} {status} does not match the schema: {where}")


def install(client_class) -> None:
    """Check every response of `client_class.request` (Django's test client and its subclasses)."""
    if getattr(client_class.request, "_checks_openapi", False):
        return
    original = client_class.request

    def request(self, **environ):
        response = original(self, **environ)
        if environ.get("PATH_INFO", "").startswith(API_PREFIX) and not getattr(response, "streaming", False):
            check_response(
                environ.get("REQUEST_METHOD", "GET"), environ["PATH_INFO"], response.status_code,
                response.get("Content-Type", ""), response.content,
            )
        return response

    request._checks_openapi = True
    client_class.request = request
