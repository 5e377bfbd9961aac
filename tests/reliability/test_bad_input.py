"""The bad-input corpus (tests/data/bad/) and generated large inputs: each gets a clear 4xx or
command-line error that says what is wrong, and nothing is half-written."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from generation.models import ModelSpec, Prompt, PromptSet
from ratings.models import Study
from tests.factories import token_client
from tests.factories import PromptSetFactory, StudyFactory, UserFactory

BAD = Path(__file__).resolve().parents[1] / "data" / "bad"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def api(db):
    return token_client(UserFactory(username="ada", password="ada-password"))


def upload(api, name: str, content: bytes, **fields):
    handle = io.BytesIO(content)
    handle.name = name
    return api.post("/api/v1/prompt-sets/", {"name": f"Set from {name}", "file": handle, **fields}, format="multipart")


def message(response) -> str:
    return json.dumps(response.json())


@pytest.mark.parametrize(
    "name, says",
    [
        ("malformed_partiprompts.tsv", "Expected 4 tab-separated columns"),
        ("wrong_header.tsv", "header"),
        ("latin1_prompts.txt", "not UTF-8"),
        ("empty_prompts.txt", "no usable prompt"),
        ("unbalanced_quotes.csv", "line"),
    ],
)
def test_bad_prompt_files_are_refused_and_nothing_is_saved(api, name, says):
    response = upload(api, name, (BAD / name).read_bytes(), strict="true")
    assert response.status_code == 400, response.content
    assert says.lower() in message(response).lower()
    assert PromptSet.objects.count() == 0 and Prompt.objects.count() == 0


def test_a_10_mb_upload_is_refused_with_its_limit(api):
    big = b"a red cube on a blue sphere\n" * (10 * 1024 * 1024 // 28 + 1)
    response = upload(api, "huge.txt", big)
    assert response.status_code == 400
    assert "10.0 MB" in message(response) and "the limit is" in message(response)
    assert PromptSet.objects.count() == 0


def test_prompts_holding_html_are_stored_as_text_and_shown_escaped(api, client):
    response = upload(api, "html_prompts.jsonl", (BAD / "html_prompts.jsonl").read_bytes())
    assert response.status_code == 201, response.content
    texts = list(Prompt.objects.values_list("text", flat=True))
    assert texts[0].startswith("<script>")  # kept verbatim: it is the prompt
    staff = UserFactory(username="staff", superuser=True)
    client.force_login(staff)
    page = client.get("/admin/generation/prompt/").content.decode()
    assert "<script>alert" not in page and "&lt;script&gt;alert" in page


def test_unknown_scheduler_is_refused_and_no_spec_saved(api):
    spec = json.loads((BAD / "spec_unknown_scheduler.json").read_text())
    response = api.post("/api/v1/specs/", spec, format="json")
    assert response.status_code == 400
    assert "Unknown scheduler class 'EulerMagicScheduler'" in message(response)
    assert ModelSpec.objects.count() == 0


@pytest.mark.parametrize("seeds, says", [([-1], "greater than or equal to 0"), ([2**64], "less than or equal to"), ([0, 0], "distinct")])
def test_negative_enormous_or_repeated_seeds_are_refused(api, tiny_specs, seeds, says):
    prompt_set = PromptSetFactory(size=1)
    response = api.post(
        "/api/v1/studies/",
        {"name": "s", "models": [s.slug for s in tiny_specs[:2]], "prompt_set": prompt_set.pk, "seeds": seeds},
        format="json",
    )
    assert response.status_code == 400, response.content
    assert says in message(response)
    assert Study.objects.count() == 0


def test_a_huge_study_is_refused_before_anything_is_queued(api, tiny_specs):
    prompt_set = PromptSetFactory(size=1)
    response = api.post(
        "/api/v1/studies/",
        {"name": "s", "models": [s.slug for s in tiny_specs[:2]], "prompt_set": prompt_set.pk, "seeds": list(range(100_000))},
        format="json",
    )
    assert response.status_code == 400, response.content
    assert "no more than 100" in message(response)
    assert Study.objects.count() == 0


@pytest.mark.django_db
def test_the_study_service_refuses_bad_seeds_whoever_calls_it(tiny_specs):
    from django.core.exceptions import ValidationError

    from ratings.studies import study_create

    prompt_set = PromptSet.objects.create(name="p")
    for seeds in ([-5], [2**63], [1, 1], list(range(101))):
        with pytest.raises(ValidationError, match="at most 100 distinct whole numbers"):
            study_create(name="s", specs=tiny_specs[:2], prompt_set=prompt_set, seeds=seeds)
    assert Study.objects.count() == 0


def test_a_bad_vote_file_names_its_line_and_column(tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "leaderboard", "--votes", str(BAD / "votes_bad_winner.csv")],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2
    assert "line 3" in result.stderr and "winner" in result.stderr


@pytest.mark.django_db
def test_a_huge_or_empty_batch_is_refused_by_the_generation_commands(tiny_specs):
    from django.core.management import CommandError, call_command

    study = StudyFactory(specs=tiny_specs[:2], prompt_set__size=1)
    for size in ("100000", "0"):
        with pytest.raises(CommandError, match="--batch-size must be from 1 to 256"):
            call_command("generate", "--study", str(study.pk), "--batch-size", size)
    assert not study.job.specs.first().images.exists()
