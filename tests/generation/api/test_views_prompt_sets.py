"""Prompt sets uploaded through the API, with the report of rows taken and refused."""

from __future__ import annotations

import io
import json

import pytest

from generation.models import Prompt, PromptSet

PARTI = (
    "Prompt\tCategory\tChallenge\tNote\n"
    "bond\tAbstract\tBasic\t\n"
    "A photo of a cat wearing a crown\tAnimals\tImagination\tnote\n"
    "\tAnimals\tBasic\t\n"
    "only two\tcolumns\n"
    "A red cube on a blue sphere\tArtifacts\tPositional\t\n"
)
DRAWBENCH = 'Prompts,Category\n"A red colored car.",Colors\n"A black apple, and a green backpack.",Colors\n,Colors\n'
JSONL = '{"text": "a fox in snow", "category": "Animals"}\n{"category": "no text"}\nnot json\n{"text": "a tower", "challenge": "Basic", "id": "t1"}\n'


def upload(api, name: str, content: str | bytes, **fields):
    handle = io.BytesIO(content.encode() if isinstance(content, str) else content)
    handle.name = name
    return api.post("/api/v1/prompt-sets/", {"name": f"Set from {name}", "file": handle, **fields}, format="multipart")


def test_partiprompts_tsv_takes_good_rows_and_reports_refused_ones_by_line(api):
    response = upload(api, "PartiPrompts.tsv", PARTI)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["format"] == "partiprompts" and body["taken"] == 3
    assert body["refused"] == [
        {"line": 4, "reason": "The prompt is empty."},
        {"line": 5, "reason": "Expected 4 tab-separated columns, found 2."},
    ]
    assert body["prompt_set"]["prompts"] == 3
    prompts = api.get(f"/api/v1/prompt-sets/{body['prompt_set']['id']}/prompts/").json()["results"]
    assert [(p["position"], p["text"], p["category"], p["challenge"]) for p in prompts] == [
        (0, "bond", "Abstract", "Basic"),
        (1, "A photo of a cat wearing a crown", "Animals", "Imagination"),
        (2, "A red cube on a blue sphere", "Artifacts", "Positional"),
    ]


def test_drawbench_csv_plain_text_and_json_lines(api):
    body = upload(api, "drawbench.csv", DRAWBENCH).json()
    assert (body["format"], body["taken"], body["refused"]) == ("drawbench", 2, [{"line": 4, "reason": "The prompt is empty."}])
    prompts = Prompt.objects.filter(prompt_set_id=body["prompt_set"]["id"]).order_by("position")
    assert [(p.text, p.category) for p in prompts] == [("A red colored car.", "Colors"), ("A black apple, and a green backpack.", "Colors")]

    body = upload(api, "prompts.txt", "a cat\n\n  a dog  \n").json()
    assert (body["format"], body["taken"], body["refused"]) == ("text", 2, [])

    body = upload(api, "prompts.jsonl", JSONL).json()
    assert body["format"] == "jsonl" and body["taken"] == 2
    assert body["refused"] == [
        {"line": 2, "reason": 'Each line must be an object with a "text" string.'},
        {"line": 3, "reason": "Not valid JSON (Expecting value at column 1)."},
    ]
    tower = Prompt.objects.get(text="a tower")
    assert (tower.challenge, tower.source_id) == ("Basic", "t1")


def test_format_can_be_given_when_the_name_does_not_say(api):
    response = upload(api, "upload.dat", json.dumps({"text": "a kite"}) + "\n", format="jsonl")
    assert response.status_code == 201 and response.json()["taken"] == 1


@pytest.mark.parametrize(
    "name, content, fields, expected",
    [
        ("PartiPrompts.tsv", "Text\tCategory\nx\ty\n", {}, "Line 1: a PartiPrompts TSV starts with a tab-separated header holding Prompt, Category, Challenge; found ['Text', 'Category']."),
        ("drawbench.csv", "Prompt,Kind\nx,y\n", {}, "Line 1: a DrawBench CSV starts with a header holding Prompts, Category; found ['Prompt', 'Kind']."),
        ("prompts.txt", b"caf\xe9\n", {}, "Line 1: the file is not UTF-8 text (byte 3). Save it as UTF-8 and try again."),
        ("prompts.txt", "\n\n", {}, "No usable prompt in the file."),
        ("PartiPrompts.tsv", PARTI, {"strict": "true"}, "2 rows refused and strict=true, so nothing was saved."),
    ],
)
def test_unreadable_or_refused_files_save_nothing(api, name, content, fields, expected):
    response = upload(api, name, content, **fields)
    assert response.status_code == 400
    assert response.json()["file"][0] == expected
    assert PromptSet.objects.count() == 0 and Prompt.objects.count() == 0


def test_unknown_format_is_refused(api):
    response = upload(api, "prompts.xlsx", "x")
    assert response.status_code == 400
    assert "Cannot tell the format of 'prompts.xlsx'" in response.json()["format"][0]
    response = upload(api, "prompts.txt", "x", format="yaml")
    assert response.status_code == 400 and "format" in response.json()


def test_too_large_a_file_is_refused(api, settings):
    settings.EVALSITE_MAX_PROMPT_FILE_BYTES = 10
    response = upload(api, "prompts.txt", "a prompt that is longer than ten bytes\n")
    assert response.status_code == 400
    assert response.json()["file"] == ["The file is 0.0 MB (39 bytes); the limit is 10 bytes (EVALSITE_MAX_PROMPT_FILE_BYTES)."]
    assert PromptSet.objects.count() == 0


def test_prompt_sets_list_filters_by_source(api):
    upload(api, "prompts.txt", "a cat\n")
    upload(api, "drawbench.csv", DRAWBENCH)
    listed = api.get("/api/v1/prompt-sets/", {"source": "drawbench"}).json()
    assert [s["name"] for s in listed["results"]] == ["Set from drawbench.csv"]
    assert api.get("/api/v1/prompt-sets/").json()["count"] == 2
