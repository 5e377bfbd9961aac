"""The check every API response in the suite goes through (tests/openapi.py) fails when the
schema lies, and passes a response that matches."""

import json

import pytest

from tests.openapi import SchemaMismatch, check_response

LIST = "/api/v1/specs/"


def body(value) -> bytes:
    return json.dumps(value).encode()


def test_a_matching_response_passes_including_a_null_owner():
    check_response("GET", LIST, 200, "application/json", body({"count": 0, "next": None, "previous": None, "results": []}))


def test_a_wrong_field_type_fails():
    with pytest.raises(SchemaMismatch, match="does not match the schema"):
        check_response("GET", LIST, 200, "application/json", body({"count": "none", "next": None, "previous": None, "results": []}))


def test_a_missing_required_field_fails():
    with pytest.raises(SchemaMismatch, match="'results' is a required property"):
        check_response("GET", LIST, 200, "application/json", body({"count": 0, "next": None, "previous": None}))


def test_an_undocumented_success_status_or_content_type_fails():
    with pytest.raises(SchemaMismatch, match="does not document"):
        check_response("GET", LIST, 201, "application/json", body({}))
    with pytest.raises(SchemaMismatch, match="content type 'text/html' is not documented"):
        check_response("GET", LIST, 200, "text/html", b"<p>")
    with pytest.raises(SchemaMismatch, match="no such operation"):
        check_response("GET", "/api/v1/not-a-resource/", 200, "application/json", body({}))


def test_errors_pass_unless_documented_and_wrong():
    check_response("GET", LIST, 404, "application/json", body({"detail": "Not found."}))
    with pytest.raises(SchemaMismatch):  # a documented 409 carries a detail string
        check_response("POST", "/api/v1/studies/1/pause/", 409, "application/json", body({"detail": 5}))
