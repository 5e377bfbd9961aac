"""The spec admin: the same validation as the API and the command line, and a spec with images
is never edited in place."""

import json

import pytest

from generation import jobs
from generation.models import ModelSpec
from tests.factories import UserFactory


@pytest.fixture
def staff_client(client, db):
    client.force_login(UserFactory(username="admin", superuser=True))
    return client


def admin_form(**overrides):
    form = {
        "name": "SDXL-Turbo", "slug": "sdxl-turbo", "source": "", "weights": "stabilityai/sdxl-turbo",
        "pipeline_class": "StableDiffusionXLPipeline", "scheduler_class": "", "scheduler_config": "{}", "lora": "null",
        "component_overrides": "{}", "dtype": "float16", "variant": "fp16", "steps": "1", "guidance_scale": "0",
        "height": "512", "width": "512", "timesteps": "null", "extra_call_kwargs": "{}",
    }
    return {**form, **overrides}


@pytest.mark.django_db
def test_admin_refuses_an_invalid_spec_with_the_validation_messages(staff_client):
    response = staff_client.post("/admin/generation/modelspec/add/", admin_form(pipeline_class="NoSuchPipeline", height="500", scheduler_class="Magic"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Unknown pipeline class" in html and "Unknown scheduler class" in html
    assert ModelSpec.objects.count() == 0


@pytest.mark.django_db
def test_admin_creates_a_valid_spec_with_its_hash(staff_client):
    response = staff_client.post("/admin/generation/modelspec/add/", admin_form())
    assert response.status_code == 302
    spec = ModelSpec.objects.get()
    assert spec.variant == "fp16" and len(spec.config_hash) == 64


@pytest.mark.django_db
def test_admin_edit_of_a_spec_with_images_saves_a_new_version(staff_client, tiny_specs, prompt_set):
    spec = tiny_specs[0]
    job = jobs.job_create(specs=[spec], prompt_set=prompt_set, seeds=[0], display_size=64)
    jobs.image_batch_generate(job_id=job.pk, spec_id=spec.pk, items=[[prompt_set.prompts.first().pk, 0]])
    form = admin_form(
        name=spec.name, weights=spec.weights, pipeline_class=spec.pipeline_class, scheduler_class=spec.scheduler_class,
        scheduler_config=json.dumps(spec.scheduler_config), dtype="float32", variant="", steps="3", height="64", width="64",
    )
    form.pop("slug")
    response = staff_client.post(f"/admin/generation/modelspec/{spec.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    spec.refresh_from_db()
    assert spec.steps == 1
    new = ModelSpec.objects.get(slug=spec.slug, version=spec.version + 1)
    assert new.steps == 3 and new.config_hash != spec.config_hash
