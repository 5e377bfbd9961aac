"""Specs (generation/specs.py): invalid specs get a clear error and nothing is saved; a spec with
images is immutable, and editing it makes a new version."""

import pytest
from django.core.exceptions import ValidationError

from generation.catalog import COMPONENT_CLASSES, PIPELINE_SIZE_FACTORS, SCHEDULER_CLASSES
from generation import jobs, specs
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


@pytest.mark.django_db
def test_a_spec_without_images_is_edited_in_place():
    spec = specs.model_spec_create(name="Turbo", slug="turbo", **VALID)
    old_hash = spec.config_hash
    edited = specs.model_spec_update(spec=spec, steps=4)
    assert edited.pk == spec.pk and edited.version == 1 and edited.steps == 4
    assert edited.config_hash != old_hash and ModelSpec.objects.count() == 1


@pytest.mark.django_db
def test_a_spec_with_images_is_immutable_and_an_edit_makes_a_new_version(tiny_specs, prompt_set):
    spec = tiny_specs[0]
    job = jobs.job_create(specs=[spec], prompt_set=prompt_set, seeds=[0], display_size=64)
    image = jobs.image_batch_generate(job_id=job.pk, spec_id=spec.pk, items=[[prompt_set.prompts.first().pk, 0]])[0]
    edited = specs.model_spec_update(spec=spec, steps=2, name="Renamed")
    assert edited.pk != spec.pk and (edited.slug, edited.version, edited.steps) == (spec.slug, spec.version + 1, 2)
    spec.refresh_from_db()
    assert spec.steps == 1 and spec.name != "Renamed" and image.config_hash == spec.config_hash
    # A change that shapes no image stays in place even with images.
    assert specs.model_spec_update(spec=spec, name="Display name").pk == spec.pk


@pytest.mark.django_db
def test_an_invalid_edit_is_refused_and_changes_nothing():
    spec = specs.model_spec_create(name="Turbo", slug="turbo", **VALID)
    with pytest.raises(ValidationError) as caught:
        specs.model_spec_update(spec=spec, steps=0, height=100)
    assert set(caught.value.message_dict) == {"steps", "height"}
    spec.refresh_from_db()
    assert spec.steps == 1 and spec.height == 512


@pytest.mark.django_db
@pytest.mark.parametrize("change, message", [({"nonsense": 1}, "Not a model spec setting"), ({"slug": "Not A Slug"}, "lowercase letters")])
def test_unknown_settings_and_bad_slugs_are_refused(change, message):
    with pytest.raises(ValidationError, match=message):
        specs.model_spec_create(**{"name": "x", "slug": "x", **VALID, **change})


def test_catalog_names_classes_that_exist_in_diffusers():
    import diffusers

    for name in [*PIPELINE_SIZE_FACTORS, *SCHEDULER_CLASSES, *COMPONENT_CLASSES]:
        assert hasattr(diffusers, name), name
