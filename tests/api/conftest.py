"""Accounts and studies the API tests share: researchers with tokens, staff, a rater, and a
study whose images exist and which has votes."""

from __future__ import annotations

import random

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from ratings import raters, scheduler, studies


def token_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {studies.researcher_grant(user=user).key}")
    return client


@pytest.fixture
def researcher(db):
    return get_user_model().objects.create_user("ada", password="ada-password")


@pytest.fixture
def api(researcher) -> APIClient:
    return token_client(researcher)


@pytest.fixture
def other_researcher(db):
    return get_user_model().objects.create_user("grace", password="grace-password")


@pytest.fixture
def other_api(other_researcher) -> APIClient:
    return token_client(other_researcher)


@pytest.fixture
def staff_api(db) -> APIClient:
    client = APIClient()
    client.force_authenticate(get_user_model().objects.create_user("staff", password="pw", is_staff=True))
    return client


@pytest.fixture
def four_prompts(db):
    from generation.prompts import prompt_set_create

    return prompt_set_create(name="Four prompts", prompts=[{"text": f"a small red cube, take {i}"} for i in range(4)])


@pytest.fixture
def draft_study(tiny_specs, four_prompts, researcher):
    """The two fastest tiny models x 4 prompts x 1 seed: 8 images when started."""
    return studies.study_create(
        name="Draft", specs=tiny_specs[:2], prompt_set=four_prompts, seeds=[0], display_size=64, owner=researcher, votes_per_pair=2
    )


def external_images_zip(prompt_set, seeds, size=64, colour=(200, 30, 30)):
    import io
    import zipfile

    from PIL import Image as PILImage

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zipped:
        for position in range(prompt_set.prompts.count()):
            for seed in seeds:
                png = io.BytesIO()
                PILImage.new("RGB", (size, size), (colour[0], (colour[1] + 40 * position) % 256, seed % 256)).save(png, format="PNG")
                zipped.writestr(f"{position}_{seed}.png", png.getvalue())
    buffer.seek(0)
    buffer.name = "images.zip"
    return buffer


#: Study settings for tests that count plain comparisons: no attention checks, repeats or minimum time.
NO_CHECKS = {"attention_check_rate": 0.0, "repeat_share": 0.0, "min_seconds_per_vote": 0.0}


def vote_as(study, rater, n: int, rng: random.Random, response_ms: int = 4000) -> None:
    """Answer ``n`` comparisons, always for the left image."""
    for _ in range(n):
        comparison = scheduler.comparison_serve(study=study, rater=rater, rng=rng)
        assert comparison is not None, "the scheduler ran out of pairs"
        scheduler.vote_record(
            token=comparison.token, rater=rater, answers={c: "left" for c in study.criteria}, response_ms=response_ms
        )


EXTERNAL_SYSTEMS = [("midjourney-v6", "Midjourney v6", 9.0), ("dall-e-3", "DALL-E 3", 12.0), ("ideogram-2", "Ideogram 2", 6.0)]


@pytest.fixture
def rated_study(four_prompts, researcher):
    """Three external systems (uploaded images: no diffusers needed) x 4 prompts x 1 seed,
    started, open, with 6 comparisons answered by each of two raters."""
    from generation import uploads

    specs = []
    for index, (slug, name, latency) in enumerate(EXTERNAL_SYSTEMS):
        spec = uploads.external_spec_create(name=name, slug=slug, width=64, height=64)
        uploads.external_images_import(
            spec=spec, prompt_set=four_prompts, seeds=[0], archive=external_images_zip(four_prompts, [0], colour=(60 * index, 30, 30)), latency_s=latency
        )
        specs.append(spec)
    study = studies.study_create(
        name="Versus", specs=specs, prompt_set=four_prompts, seeds=[0], display_size=64, owner=researcher, votes_per_pair=2, **NO_CHECKS
    )
    assert studies.study_start_generation(study=study) == 0
    studies.study_open(study=study)
    rng = random.Random(7)
    for name in ("rater-1", "rater-2"):
        rater = raters.rater_invite(study=study, user=get_user_model().objects.create_user(name, password="pw"))
        vote_as(study, rater, 6, rng)
    study.refresh_from_db()
    return study
