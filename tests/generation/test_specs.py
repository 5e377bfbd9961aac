"""Spec validation: invalid specs get a clear error and nothing is saved."""

import pytest
from django.core.exceptions import ValidationError

from generation.catalog import COMPONENT_CLASSES, PIPELINE_SIZE_FACTORS, SCHEDULER_CLASSES
from generation.models import ModelSpec
from generation.specs import model_spec_create

VALID = dict(weights="stabilityai/sdxl-turbo", pipeline_class="StableDiffusionXLPipeline", steps=1, guidance_scale=0.0, height=512, width=512)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "change, field, message",
    [
        ({"pipeline_class": "StableDiffusionXLPipelin"}, "pipeline_class", "Unknown pipeline class"),
        ({"scheduler_class": "EulerMagicScheduler"}, "scheduler_class", "Unknown scheduler class"),
        ({"steps": 0}, "steps", "from 1 to 1000"),
        ({"steps": 10**12}, "steps", "from 1 to 1000"),
        ({"width": 10**6}, "width", "larger than the largest supported side"),
        ({"weights": "0" * 5000}, "weights", "nor a directory"),
        ({"guidance_scale": -1.0}, "guidance_scale", "at least 0"),
        ({"height": 500}, "height", "not a multiple of 8"),
        ({"pipeline_class": "StableDiffusion3Pipeline", "width": 1000}, "width", "not a multiple of 16"),
        ({"weights": "/no/such/directory"}, "weights", "nor a directory"),
        ({"timesteps": [999, 499]}, "timesteps", "must match"),
    ],
)
def test_invalid_spec_is_refused_with_a_clear_message_and_nothing_saved(change, field, message):
    with pytest.raises(ValidationError) as caught:
        model_spec_create(name="x", slug="x", **{**VALID, **change})
    assert message in " ".join(caught.value.message_dict[field])
    assert ModelSpec.objects.count() == 0


@pytest.mark.django_db
def test_valid_spec_gets_a_config_hash_and_a_new_slug_version_each_time():
    first = model_spec_create(name="SDXL-Turbo", slug="sdxl-turbo", **VALID)
    second = model_spec_create(name="SDXL-Turbo", slug="sdxl-turbo", **{**VALID, "steps": 4})
    assert (first.version, second.version) == (1, 2)
    assert len(first.config_hash) == 64 and first.config_hash != second.config_hash


def test_catalog_names_classes_that_exist_in_diffusers():
    import diffusers

    for name in [*PIPELINE_SIZE_FACTORS, *SCHEDULER_CLASSES, *COMPONENT_CLASSES]:
        assert hasattr(diffusers, name), name
