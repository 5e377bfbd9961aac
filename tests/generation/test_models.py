"""The generation models (generation/models.py): how specs and prompts are named, and the
constraints the database keeps (one spec per slug and version, one image per spec, prompt and
seed, one prompt per position)."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from generation.models import Image, ModelSpec, Prompt, PromptSet
from tests.factories import ModelSpecFactory

pytestmark = pytest.mark.django_db


def test_a_spec_is_named_with_its_version_from_the_second_on():
    assert str(ModelSpecFactory(name="Zephyr", slug="zephyr", version=1)) == "Zephyr"
    assert str(ModelSpecFactory(name="Zephyr", slug="zephyr", version=2)) == "Zephyr (v2)"


def test_one_spec_per_slug_and_version():
    ModelSpecFactory(slug="zephyr", version=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        ModelSpecFactory(slug="zephyr", version=1)
    assert ModelSpec.objects.filter(slug="zephyr").count() == 1


def test_one_prompt_per_position_and_a_prompt_is_named_by_its_first_80_characters():
    prompt_set = PromptSet.objects.create(name="Set")
    prompt = Prompt.objects.create(prompt_set=prompt_set, position=0, text="x" * 100)
    assert str(prompt) == "x" * 80
    with pytest.raises(IntegrityError), transaction.atomic():
        Prompt.objects.create(prompt_set=prompt_set, position=0, text="another")


def test_one_image_per_spec_prompt_and_seed(tiny_specs, prompt_set):
    from generation import jobs

    job = jobs.job_create(specs=tiny_specs[:1], prompt_set=prompt_set, seeds=[0], display_size=32)
    image = jobs.image_batch_generate(job_id=job.pk, spec_id=tiny_specs[0].pk, items=[[prompt_set.prompts.first().pk, 0]])[0]
    fields = {field.name: getattr(image, field.name) for field in Image._meta.concrete_fields if field.name not in {"id"}}
    with pytest.raises(IntegrityError), transaction.atomic():
        Image.objects.create(**fields)
