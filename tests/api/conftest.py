"""Accounts and studies the API tests share: researchers with tokens, staff, a rater, and a
study whose images exist and which has votes."""

from __future__ import annotations

import random

import pytest
from rest_framework.test import APIClient

from ratings import raters, studies
from tests.factories import NO_CHECKS, PromptSetFactory, StudyFactory, UserFactory, vote_as  # noqa: F401  (NO_CHECKS, vote_as: shared)


def token_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {studies.researcher_grant(user=user).key}")
    return client


@pytest.fixture
def researcher(db):
    return UserFactory(username="ada", password="ada-password")


@pytest.fixture
def api(researcher) -> APIClient:
    return token_client(researcher)


@pytest.fixture
def other_researcher(db):
    return UserFactory(username="grace", password="grace-password")


@pytest.fixture
def other_api(other_researcher) -> APIClient:
    return token_client(other_researcher)


@pytest.fixture
def staff_api(db) -> APIClient:
    client = APIClient()
    client.force_authenticate(UserFactory(username="staff", staff=True))
    return client


@pytest.fixture
def four_prompts(db):
    return PromptSetFactory(name="Four prompts", size=4, text="a small red cube, take {i}")


@pytest.fixture
def draft_study(tiny_specs, four_prompts, researcher):
    """The two fastest tiny models x 4 prompts x 1 seed: 8 images when started."""
    return StudyFactory(name="Draft", specs=tiny_specs[:2], prompt_set=four_prompts, owner=researcher, votes_per_pair=2)


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
    study = StudyFactory(name="Versus", specs=specs, prompt_set=four_prompts, owner=researcher, votes_per_pair=2, no_checks=True)
    assert studies.study_start_generation(study=study) == 0
    studies.study_open(study=study)
    rng = random.Random(7)
    for name in ("rater-1", "rater-2"):
        rater = raters.rater_invite(study=study, user=UserFactory(username=name))
        vote_as(study, rater, 6, rng)
    study.refresh_from_db()
    return study
