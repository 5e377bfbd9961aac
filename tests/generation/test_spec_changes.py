"""A spec with images is immutable: editing makes a new version, through the service, the admin
and the command line alike; invalid specs are refused everywhere with the same messages."""

import json

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError

from generation import jobs, specs
from generation.models import ModelSpec

VALID = dict(weights="stabilityai/sdxl-turbo", pipeline_class="StableDiffusionXLPipeline", steps=1, guidance_scale=0.0, height=512, width=512)


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


@pytest.fixture
def staff_client(client, db):
    client.force_login(get_user_model().objects.create_superuser("admin", "admin@example.com", "pw"))
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


@pytest.mark.django_db
def test_create_spec_command_creates_from_json(tmp_path, capsys):
    path = tmp_path / "spec.json"
    path.write_text(json.dumps({"name": "SDXL-Turbo", "slug": "sdxl-turbo", **VALID}))
    call_command("create_spec", "--json", str(path))
    assert "Created sdxl-turbo v1" in capsys.readouterr().out
    assert ModelSpec.objects.get().steps == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "content, message",
    [
        (json.dumps({"name": "x", "slug": "x", **VALID, "steps": 0, "weights": "/no/such/dir"}), "steps: Steps must be a whole number"),
        ("{not json", "is not valid UTF-8 JSON"),
        (json.dumps([1, 2]), "must hold one JSON object"),
        (json.dumps({"slug": "x"}), "lacks name"),
    ],
)
def test_create_spec_command_refuses_bad_input_with_exit_code_2(tmp_path, content, message):
    path = tmp_path / "spec.json"
    path.write_text(content)
    with pytest.raises(CommandError) as caught:
        call_command("create_spec", "--json", str(path))
    assert caught.value.returncode == 2 and message in str(caught.value)
    assert ModelSpec.objects.count() == 0


@pytest.mark.django_db
def test_create_spec_command_exits_2_from_the_shell(tmp_path):
    import subprocess
    import sys

    from django.conf import settings
    from django.db import connection

    path = tmp_path / "spec.json"
    path.write_text(json.dumps({"name": "x", "slug": "x", **VALID, "guidance_scale": -1}))
    db = connection.settings_dict
    env = {"DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}", "EVALSITE_DATA_DIR": str(settings.DATA_DIR), "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "manage.py", "create_spec", "--json", str(path)], capture_output=True, text=True, env=env, cwd=settings.BASE_DIR)
    assert result.returncode == 2
    assert "guidance_scale: Guidance scale must be a number of at least 0" in result.stderr
