"""The API's prompt-set creation from a set that ships with the project: {"builtin": "partiprompts"}."""

from __future__ import annotations

from generation.models import PromptSet


def test_api_creates_the_builtin_set_from_json(api):
    response = api.post("/api/v1/prompt-sets/", {"builtin": "partiprompts"}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["format"], body["taken"], body["refused"]) == ("partiprompts", 1632, [])
    assert body["prompt_set"]["name"] == "PartiPrompts" and body["prompt_set"]["prompts"] == 1632
    named = api.post("/api/v1/prompt-sets/", {"builtin": "partiprompts", "name": "Parti, again"}, format="json")
    assert named.status_code == 201 and named.json()["prompt_set"]["name"] == "Parti, again"


def test_api_refuses_an_unknown_builtin_and_a_request_with_neither_or_both(api):
    unknown = api.post("/api/v1/prompt-sets/", {"builtin": "drawbench"}, format="json")
    assert unknown.status_code == 400 and "partiprompts" in unknown.json()["builtin"][0]
    neither = api.post("/api/v1/prompt-sets/", {"name": "Empty"}, format="json")
    assert neither.status_code == 400
    assert neither.json()["file"] == ['Give either a file or builtin (e.g. "partiprompts"), not both or neither.']
    assert PromptSet.objects.count() == 0
