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
        ({"weights": "0" * 5000}, "weights", "is neither a hub id (org/name, as on huggingface.co) nor an absolute path"),
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


@pytest.mark.django_db
def test_measured_speed_is_steady_state_so_more_steps_never_measure_faster(tiny_specs):
    """The demo's plot gave a 1-step model 0.314 s and a 4-step one 0.209 s (the first model timed
    paid the one-time costs, or a passing load). The same tiny pipeline at 1 and 8 steps, the
    1-step measured first (the order that would hide a missing warm-up), one at a time and
    interleaved: 8 steps measure slower, every time."""
    from generation.models import SpeedMeasurement
    from generation.configs import spec_config
    from generation.specs import MAX_EXTRA_WARMUP, model_spec_ensure, spec_speed_measure, specs_speed_measure

    turbo = next(spec for spec in tiny_specs if spec.slug == "tiny-turbo-1step")
    config = {field: value for field, value in spec_config(turbo).items() if value is not None}
    one, _ = model_spec_ensure(name="Steps 1", slug="steps-1", **{**config, "steps": 1})
    eight, _ = model_spec_ensure(name="Steps 8", slug="steps-8", **{**config, "steps": 8})
    fast = spec_speed_measure(spec=one, runs=3, warmup=1)
    slow = spec_speed_measure(spec=eight, runs=3, warmup=1)
    # Interleaved, as the demo measures its models on a machine it shares with a browser.
    fast_together, slow_together = specs_speed_measure(specs=[one, eight], runs=3, warmup=1)
    assert slow_together.median_s > 1.2 * fast_together.median_s, (fast_together.median_s, slow_together.median_s)
    assert 1 <= fast.warmup_runs <= 1 + MAX_EXTRA_WARMUP and 1 <= slow.warmup_runs <= 1 + MAX_EXTRA_WARMUP
    print(f"steady-state medians: 1 step {fast.median_s:.3f} s, 8 steps {slow.median_s:.3f} s (warm-up calls {fast.warmup_runs}, {slow.warmup_runs})")
    assert slow.median_s > 1.2 * fast.median_s, (fast.median_s, slow.median_s)
    assert SpeedMeasurement.objects.filter(spec__in=[one, eight]).count() == 4
