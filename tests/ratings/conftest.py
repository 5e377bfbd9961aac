"""A study with real image files made in the test (no diffusers): fast fixtures for the rater
side. Models get distinctive names, slugs and weights so a blinding scan can look for them."""

from __future__ import annotations

import hashlib
import io
import random
import uuid

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from generation.models import DisplayCopy, Image, ModelSpec
from generation.prompts import prompt_set_create
from ratings import studies

MODEL_NAMES = ["Zephyrturbo Alpha", "Quillbase Beta", "Nimbuslcm Gamma", "Orchidxl Delta"]


def png_bytes(size: int, seed: int) -> bytes:
    import numpy as np
    from PIL import Image as PILImage

    rng = np.random.default_rng(seed)
    colour = rng.integers(0, 255, 3)
    pixels = np.clip(colour + rng.normal(0, 30, (size, size, 3)), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    PILImage.fromarray(pixels, "RGB").save(buffer, format="PNG")
    return buffer.getvalue()


def make_specs(n_models: int) -> list[ModelSpec]:
    specs = []
    for i, name in enumerate(MODEL_NAMES[:n_models]):
        slug = name.lower().replace(" ", "-")
        specs.append(ModelSpec.objects.create(
            name=name, slug=slug, weights=f"/weights/{slug}-weights", pipeline_class="StableDiffusionPipeline",
            steps=i + 1, config_hash=hashlib.sha256(slug.encode()).hexdigest(),
        ))
    return specs


def add_images(study, specs, *, size: int) -> None:
    """One image per model, prompt and seed, with a display copy, written to Django's storage.

    Not through ``generation.storage``, on purpose: ordinary compressed PNGs whose lengths differ
    by content, as display copies made before issue 18 were (tests/reliability/test_size_blinding)."""
    seed_counter = 0
    for prompt in study.job.prompt_set.prompts.all():
        for seed in study.job.seeds:
            for spec in specs:
                seed_counter += 1
                content = png_bytes(size, seed_counter)
                name = default_storage.save(f"images/{uuid.uuid4().hex}.png", ContentFile(content))
                display = default_storage.save(f"display/{uuid.uuid4().hex}.png", ContentFile(content))
                image = Image.objects.create(
                    spec=spec, prompt=prompt, seed=seed, file=name, width=size, height=size, config_hash=spec.config_hash,
                    latency_s=0.01, batch_size=1, device="cpu", torch_version="test", diffusers_version="test",
                )
                DisplayCopy.objects.create(image=image, size=size, file=display)


@pytest.fixture
def make_study(db):
    """make_study(n_models=3, n_prompts=6, seeds=(0,), **study settings) -> an open study."""

    def make(*, n_models: int = 3, n_prompts: int = 6, seeds=(0,), display_size: int = 64, open_study: bool = True, **settings):
        specs = make_specs(n_models)
        prompt_set = prompt_set_create(
            name="Rater prompts", prompts=[{"text": f"a photo of object number {i} on a table"} for i in range(n_prompts)]
        )
        settings.setdefault("min_seconds_per_vote", 0)
        study = studies.study_create(
            name="Rater study", specs=specs, prompt_set=prompt_set, seeds=list(seeds), display_size=display_size, **settings
        )
        add_images(study, specs, size=display_size)
        if open_study:
            studies.study_open(study=study, rng=random.Random(0))
        study.refresh_from_db()
        return study

    return make


@pytest.fixture(params=["sql", "python"])
def hot_path(request, settings):
    """Run a test on both implementations of vote-and-serve: the PL/pgSQL function and the ORM."""
    settings.RATINGS_SQL_HOT_PATH = request.param == "sql"
    return request.param
