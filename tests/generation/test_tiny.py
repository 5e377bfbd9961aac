"""The tiny model family: real diffusers pipelines with random weights, saved to disk and
loaded back through the same from_pretrained code that loads hub weights."""

import json
from pathlib import Path

import numpy as np
import pytest
from django.core.files.storage import default_storage
from PIL import Image as PILImage

from generation import jobs, pipelines, specs
from generation.models import Image
from generation.configs import spec_config


def test_family_has_a_turbo_an_lcm_and_a_cfg_baseline():
    from generation.tiny import TINY_FAMILY

    by_steps = {member["spec"]["steps"]: member["spec"] for member in TINY_FAMILY}
    assert by_steps[1]["guidance_scale"] == 0.0
    assert by_steps[4]["scheduler_class"] == "LCMScheduler"
    assert max(by_steps) >= 25 and by_steps[max(by_steps)]["guidance_scale"] > 1.0


@pytest.mark.django_db
def test_tiny_specs_load_through_from_pretrained_and_make_images(tiny_specs):
    assert len(tiny_specs) == 3
    for spec in tiny_specs:
        index = json.loads((Path(spec.weights) / "model_index.json").read_text())
        assert index["_class_name"] == spec.pipeline_class
        config = spec_config(spec)
        pipe = pipelines.load_pipeline(config, "cpu")
        assert type(pipe).__name__ == spec.pipeline_class
        if spec.scheduler_class:
            assert type(pipe.scheduler).__name__ == spec.scheduler_class
        batch = pipelines.sample(pipe, config, ["a red cube", "a blue ball"], [0, 1], "cpu")
        assert [im.size for im in batch.images] == [(spec.width, spec.height)] * 2
        assert not np.array_equal(np.asarray(batch.images[0]), np.asarray(batch.images[1]))


@pytest.mark.django_db
def test_installing_the_family_twice_creates_no_new_specs(tiny_specs, tiny_weights):
    from django.conf import settings

    again = specs.tiny_family_install(directory=settings.EVALSITE_MODELS_DIR / "tiny")
    assert [s.pk for s in again] == [s.pk for s in tiny_specs]


@pytest.mark.django_db
def test_batch_generation_is_idempotent_and_files_carry_no_model_name(tiny_specs, prompt_set):
    job = jobs.job_create(specs=tiny_specs[:1], prompt_set=prompt_set, seeds=[7], display_size=48)
    items = [[p.pk, 7] for p in prompt_set.prompts.all()[:3]]
    made = jobs.image_batch_generate(job_id=job.pk, spec_id=tiny_specs[0].pk, items=items)
    assert len(made) == 3
    assert jobs.image_batch_generate(job_id=job.pk, spec_id=tiny_specs[0].pk, items=items) == []
    assert Image.objects.count() == 3
    image = made[0]
    assert image.config_hash == tiny_specs[0].config_hash and image.latency_s > 0 and image.device == "cpu"
    for name in [image.file.name, image.display_copies.get().file.name]:
        assert tiny_specs[0].slug not in name
        with default_storage.open(name) as handle:
            raw = handle.read()
            assert b"tiny" not in raw.lower() and b"tEXt" not in raw and b"iTXt" not in raw
            handle.seek(0)
    with default_storage.open(image.display_copies.get().file.name) as handle:
        assert PILImage.open(handle).size == (48, 48)


@pytest.mark.django_db
def test_same_seed_gives_the_same_image_alone_and_in_a_batch(tiny_specs):
    spec = tiny_specs[0]
    config = spec_config(spec)
    pipe = pipelines.load_pipeline(config, "cpu")
    alone = pipelines.sample(pipe, config, ["a red cube"], [3], "cpu").images[0]
    batched = pipelines.sample(pipe, config, ["a blue ball", "a red cube"], [5, 3], "cpu").images[1]
    difference = np.abs(np.asarray(alone, dtype=int) - np.asarray(batched, dtype=int))
    assert difference.max() <= 1


@pytest.mark.parametrize(
    "repo_id, pipeline_class",
    [
        ("stabilityai/sd-turbo", "StableDiffusionPipeline"),
        ("stabilityai/sdxl-turbo", "StableDiffusionXLPipeline"),
        ("stabilityai/stable-diffusion-3.5-large-turbo", "StableDiffusion3Pipeline"),
    ],
)
def test_tiny_sd_sdxl_and_sd3_pipelines_load_from_disk_as_their_own_class(repo_id, pipeline_class, fake_hub):
    import torch
    from diffusers import AutoPipelineForText2Image

    pipe = AutoPipelineForText2Image.from_pretrained(repo_id, torch_dtype=torch.float32)
    assert type(pipe).__name__ == pipeline_class
    if pipeline_class == "StableDiffusionXLPipeline":
        assert pipe.tokenizer_2.pad_token == "!" and pipe.text_encoder_2.config.projection_dim > 0
    if pipeline_class == "StableDiffusion3Pipeline":
        assert pipe.text_encoder_3 is not None and pipe.transformer.config.pos_embed_max_size * 16 >= 64
    generators = [torch.Generator().manual_seed(seed) for seed in (0, 1)]
    images = pipe(["a red cube", "a blue ball"], num_inference_steps=2, guidance_scale=3.0, height=64, width=64, generator=generators).images
    assert [im.size for im in images] == [(64, 64)] * 2
    assert not np.array_equal(np.asarray(images[0]), np.asarray(images[1]))
