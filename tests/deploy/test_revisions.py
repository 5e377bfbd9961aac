"""Weights that are pinned: a spec may pin a hub revision (validated, through the API too),
every image records the snapshot commit of every weight it used, the images export shows it,
and a spec whose weights cannot be read fails its batches once with a message that says why."""

import hashlib
import json
import logging
import zipfile

import pytest
from django.core.exceptions import ValidationError

from generation import jobs, pipelines, specs
from generation.models import GenerationBatch, Image, ModelSpec
from generation.configs import config_hash, spec_config


def fake_commit(repo_id: str) -> str:
    # tests/generation/fake_hub.py writes refs/main -> sha1(repo id).
    return hashlib.sha1(repo_id.encode()).hexdigest()


@pytest.mark.django_db
def test_a_revision_is_validated_and_pins_hub_weights_only(tiny_weights):
    base = {"pipeline_class": "StableDiffusionXLPipeline", "steps": 1, "height": 64, "width": 64}
    spec = specs.model_spec_create(name="Turbo pinned", slug="turbo-pinned", weights="stabilityai/sdxl-turbo", revision="a" * 40, **base)
    assert spec.revision == "a" * 40
    unpinned = specs.model_spec_create(name="Turbo", slug="turbo", weights="stabilityai/sdxl-turbo", **base)
    assert spec.config_hash != unpinned.config_hash, "the revision shapes the image, so it is in the hash"
    # Specs made before revisions existed keep their hash: an empty revision is left out of it.
    assert unpinned.config_hash == config_hash({k: v for k, v in spec_config(unpinned).items() if k != "revision"})
    with pytest.raises(ValidationError) as bad:
        specs.model_spec_create(name="x", slug="x", weights="stabilityai/sdxl-turbo", revision="main; rm -rf", **base)
    assert "not a hub revision" in str(bad.value.message_dict["revision"])
    local = str(next(iter(tiny_weights.values())))
    with pytest.raises(ValidationError) as bad:
        specs.model_spec_create(name="x", slug="x", weights=local, revision="main", **base)
    assert "local directory" in bad.value.message_dict["revision"][0]
    with pytest.raises(ValidationError) as bad:
        specs.model_spec_create(
            name="x", slug="x", weights="stabilityai/sdxl-turbo", lora={"weights": "org/lora", "revision": "../x"}, **base
        )
    assert "LoRA revision" in bad.value.message_dict["lora"][0]


@pytest.mark.django_db
def test_the_api_takes_and_shows_a_revision(client, django_user_model):
    from common.api import RESEARCHERS_GROUP
    from django.contrib.auth.models import Group

    user = django_user_model.objects.create_user("researcher", password="pw-12345678")
    user.groups.add(Group.objects.get_or_create(name=RESEARCHERS_GROUP)[0])
    client.force_login(user)
    body = {"name": "Turbo", "slug": "turbo-api", "weights": "stabilityai/sdxl-turbo", "revision": "v1.0",
            "pipeline_class": "StableDiffusionXLPipeline", "steps": 1}
    created = client.post("/api/v1/specs/", body, content_type="application/json")
    assert created.status_code == 201, created.content
    assert created.json()["revision"] == "v1.0"
    refused = client.post("/api/v1/specs/", {**body, "revision": "bad revision!"}, content_type="application/json")
    assert refused.status_code == 400
    assert "not a hub revision" in json.dumps(refused.json())


@pytest.mark.django_db
@pytest.mark.parametrize(
    "slug, roles",
    [
        ("sdxl-turbo-1step", {"weights": "stabilityai/sdxl-turbo"}),
        ("sdxl-lightning-4step", {"weights": "stabilityai/stable-diffusion-xl-base-1.0", "unet": "ByteDance/SDXL-Lightning"}),
        ("lcm-lora-sdxl-4step", {"weights": "stabilityai/stable-diffusion-xl-base-1.0", "lora": "latent-consistency/lcm-lora-sdxl"}),
    ],
)
def test_every_image_records_the_commit_of_every_weight_it_used_and_the_export_shows_it(slug, roles, fake_hub, prompt_set, tmp_path):
    preset = dict((s.slug, s) for s, _ in specs.presets_install())[slug]
    spec = specs.model_spec_update(spec=preset, height=64, width=64, steps=1, timesteps=None) if preset.timesteps else specs.model_spec_update(spec=preset, height=64, width=64)
    job = jobs.job_create(specs=[spec], prompt_set=prompt_set, seeds=[0], display_size=32)
    pipelines._resident = None
    made = jobs.image_batch_generate(job_id=job.pk, spec_id=spec.pk, items=[[prompt_set.prompts.first().pk, 0]])
    assert len(made) == 1
    recorded = Image.objects.get(pk=made[0].pk).weights_revisions
    assert recorded == {role: {"repo": repo, "revision": "main", "commit": fake_commit(repo)} for role, repo in roles.items()}

    from ratings.results.image_exports import image_metadata

    assert image_metadata(Image.objects.select_related("spec", "prompt").get(pk=made[0].pk), "x.png")["weights_revisions"] == recorded


@pytest.mark.django_db
def test_a_pinned_commit_is_loaded_and_recorded_as_pinned(fake_hub, prompt_set):
    commit = fake_commit("stabilityai/sdxl-turbo")
    spec = specs.model_spec_create(
        name="Turbo pinned", slug="turbo-pinned", weights="stabilityai/sdxl-turbo", revision=commit,
        pipeline_class="StableDiffusionXLPipeline", steps=1, height=64, width=64,
    )
    job = jobs.job_create(specs=[spec], prompt_set=prompt_set, seeds=[0], display_size=32)
    pipelines._resident = None
    made = jobs.image_batch_generate(job_id=job.pk, spec_id=spec.pk, items=[[prompt_set.prompts.first().pk, 0]])
    assert made[0].weights_revisions["weights"] == {"repo": "stabilityai/sdxl-turbo", "revision": commit, "commit": commit}


@pytest.fixture
def cache_without_the_weights(tmp_path, monkeypatch):
    """An offline Hugging Face cache that knows the gated repository's ref but lacks its files,
    as on a GPU worker that never had a token to download them."""
    import huggingface_hub.constants as hub_constants

    cache = tmp_path / "hf-cache"
    repo = cache / "models--stabilityai--stable-diffusion-3.5-large-turbo"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("b" * 40)
    (repo / "snapshots" / ("b" * 40)).mkdir(parents=True)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", True)
    return cache


@pytest.mark.django_db
def test_gated_weights_that_cannot_be_read_fail_every_batch_of_the_spec_once_with_a_message_that_says_so(
    cache_without_the_weights, tiny_specs, prompt_set, django_capture_on_commit_callbacks, caplog
):
    gated = specs.model_spec_create(
        name="SD3.5 Large Turbo", slug="sd35-large-turbo", weights="stabilityai/stable-diffusion-3.5-large-turbo",
        pipeline_class="StableDiffusion3Pipeline", steps=4, height=64, width=64,
    )
    job = jobs.job_create(specs=[gated, tiny_specs[0]], prompt_set=prompt_set, seeds=[0], display_size=32)
    with django_capture_on_commit_callbacks():
        jobs.job_enqueue(job=job, batch_size=2)
    gated_batches = list(GenerationBatch.objects.filter(job=job, spec=gated).order_by("pk"))
    assert len(gated_batches) == 4
    pipelines._resident = None
    caplog.set_level(logging.INFO)
    assert jobs.batch_run(batch_id=gated_batches[0].pk) == 0
    statuses = {b.status for b in GenerationBatch.objects.filter(job=job, spec=gated)}
    assert statuses == {GenerationBatch.Status.ABANDONED}, "no batch of the spec is retried: retrying cannot help"
    errors = {b.error for b in GenerationBatch.objects.filter(job=job, spec=gated)}
    assert len(errors) == 1
    message = errors.pop()
    assert "'stabilityai/stable-diffusion-3.5-large-turbo' cannot be read" in message and "HF_TOKEN" in message
    # The next batches of the spec are skipped without loading anything or logging another error.
    for batch in gated_batches[1:]:
        assert jobs.batch_run(batch_id=batch.pk) == 0
    failures = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(failures) == 1 and "4 batch(es)" in failures[0].getMessage(), [r.getMessage() for r in failures]
    # The study's other model goes on.
    other = GenerationBatch.objects.filter(job=job, spec=tiny_specs[0]).first()
    assert jobs.batch_run(batch_id=other.pk) == 2
    assert Image.objects.filter(spec=gated).count() == 0


def test_only_errors_that_retrying_cannot_fix_count_as_unreadable_weights(monkeypatch):
    import huggingface_hub.constants as hub_constants
    from huggingface_hub.errors import LocalEntryNotFoundError

    config = {"weights": "stabilityai/sdxl-turbo"}
    network_blip = LocalEntryNotFoundError("An error happened while trying to locate the file on the Hub and we cannot find it in the local cache.")
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", False)
    assert pipelines.weights_unavailable_reason(network_blip, config) is None, "online, a failed download may pass: retried"
    assert pipelines.weights_unavailable_reason(RuntimeError("CUDA out of memory"), config) is None
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", True)
    reason = pipelines.weights_unavailable_reason(network_blip, config)
    assert reason.startswith("The weights 'stabilityai/sdxl-turbo' cannot be read")
