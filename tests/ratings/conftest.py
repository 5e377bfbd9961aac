"""A study with real image files made in the test (no diffusers): fast fixtures for the rater
side. Models get distinctive names, slugs and weights so a blinding scan can look for them."""

from __future__ import annotations

import pytest

from generation.models import ModelSpec
from tests.factories import ModelSpecFactory, PromptSetFactory, StudyWithImagesFactory

MODEL_NAMES = ["Zephyrturbo Alpha", "Quillbase Beta", "Nimbuslcm Gamma", "Orchidxl Delta"]


def make_specs(n_models: int) -> list[ModelSpec]:
    return [ModelSpecFactory(name=name, steps=i + 1) for i, name in enumerate(MODEL_NAMES[:n_models])]


@pytest.fixture
def make_study(db):
    """make_study(n_models=3, n_prompts=6, seeds=(0,), **study settings) -> an open study."""

    def make(*, n_models: int = 3, n_prompts: int = 6, seeds=(0,), display_size: int = 64, open_study: bool = True, **settings):
        return StudyWithImagesFactory(
            name="Rater study", specs=make_specs(n_models), prompt_set=PromptSetFactory(name="Rater prompts", size=n_prompts),
            seeds=seeds, display_size=display_size, opened=open_study, **settings,
        )

    return make


@pytest.fixture(params=["sql", "python"])
def hot_path(request, settings):
    """Run a test on both implementations of vote-and-serve: the PL/pgSQL function and the ORM."""
    settings.RATINGS_SQL_HOT_PATH = request.param == "sql"
    return request.param
