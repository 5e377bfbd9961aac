"""Every preset loads exactly as configured, through the production loading code, from hub ids
that resolve offline to tiny weights of the same pipeline class, and makes an image."""

import pytest

from generation import configs, pipelines, specs
from generation.models import ModelSpec
from generation.presets import PRESETS
from generation.configs import spec_config, validate_config
from tests.generation.fake_hub import REPOSITORIES, preset_repositories

# The published settings, restated here so a typo in presets.py cannot pass unnoticed.
EXPECTED = {
    "sdxl-turbo-1step": ("StableDiffusionXLPipeline", "EulerAncestralDiscreteScheduler", 1, 0.0, 512),
    "sdxl-turbo-4step": ("StableDiffusionXLPipeline", "EulerAncestralDiscreteScheduler", 4, 0.0, 512),
    "sd-turbo-1step": ("StableDiffusionPipeline", "EulerDiscreteScheduler", 1, 0.0, 512),
    "sd35-large-turbo-4step": ("StableDiffusion3Pipeline", "FlowMatchEulerDiscreteScheduler", 4, 0.0, 1024),
    "lcm-sdxl-4step": ("StableDiffusionXLPipeline", "LCMScheduler", 4, 8.0, 1024),
    "lcm-lora-sdxl-4step": ("StableDiffusionXLPipeline", "LCMScheduler", 4, 1.0, 1024),
    "sdxl-lightning-4step": ("StableDiffusionXLPipeline", "EulerDiscreteScheduler", 4, 0.0, 1024),
    "hyper-sdxl-8step-lora": ("StableDiffusionXLPipeline", "DDIMScheduler", 8, 0.0, 1024),
    "dmd2-sdxl-4step": ("StableDiffusionXLPipeline", "LCMScheduler", 4, 0.0, 1024),
    "sdxl-base-50step": ("StableDiffusionXLPipeline", "EulerDiscreteScheduler", 50, 5.0, 1024),
    "sdxl-dpmpp-8step": ("StableDiffusionXLPipeline", "DPMSolverMultistepScheduler", 8, 5.0, 1024),
}


def test_presets_state_the_published_settings_and_their_sources():
    assert {p["slug"] for p in PRESETS} == set(EXPECTED)
    for preset in PRESETS:
        config = {**configs.SPEC_DEFAULTS, **preset["config"]}
        validate_config(config)
        assert (config["pipeline_class"], config["scheduler_class"], config["steps"], config["guidance_scale"], config["width"]) == EXPECTED[preset["slug"]]
        assert "https://" in preset["source"], preset["slug"]
    by_slug = {p["slug"]: p["config"] for p in PRESETS}
    assert by_slug["dmd2-sdxl-4step"]["timesteps"] == [999, 749, 499, 249]
    assert by_slug["hyper-sdxl-8step-lora"]["lora"]["weight_name"] == "Hyper-SDXL-8steps-lora.safetensors"
    for slug in ("sdxl-turbo-1step", "sdxl-lightning-4step", "hyper-sdxl-8step-lora"):
        assert by_slug[slug]["scheduler_config"]["timestep_spacing"] == "trailing"


@pytest.mark.django_db
def test_install_presets_is_idempotent():
    first = specs.presets_install()
    assert all(created for _, created in first) and len(first) == len(PRESETS)
    second = specs.presets_install()
    assert not any(created for _, created in second)
    assert [s.pk for s, _ in first] == [s.pk for s, _ in second]
    assert ModelSpec.objects.count() == len(PRESETS)


def test_the_fake_hub_covers_every_repository_a_preset_names():
    named = set().union(*(preset_repositories(p["config"]) for p in PRESETS))
    assert named == set(REPOSITORIES)


def _unet_matches(unet, state_dict) -> bool:
    import torch

    own = unet.state_dict()
    return all(torch.equal(own[key], value.to(own[key].dtype)) for key, value in state_dict.items())


@pytest.mark.django_db
@pytest.mark.parametrize("slug", list(EXPECTED))
def test_preset_builds_its_pipeline_and_scheduler_exactly_as_configured_and_makes_an_image(slug, fake_hub):
    import diffusers
    import numpy as np

    spec = dict((s.slug, s) for s, _ in specs.presets_install())[slug]
    # Only the size changes, for speed: everything else is the preset as installed.
    config = {**spec_config(spec), "height": 64, "width": 64}
    pipe = pipelines.load_pipeline(config, "cpu")

    assert type(pipe).__name__ == spec.pipeline_class
    assert type(pipe.scheduler).__name__ == spec.scheduler_class
    for key, value in spec.scheduler_config.items():
        assert pipe.scheduler.config[key] == value, key
    import torch

    denoiser = pipe.transformer if hasattr(pipe, "transformer") else pipe.unet
    assert denoiser.dtype == getattr(torch, spec.dtype)

    unet_override = spec.component_overrides.get("unet")
    if unet_override and unet_override.get("weight_name"):
        path = pipelines.weights_file(unet_override["weights"], unet_override["weight_name"])
        if path.endswith(".safetensors"):
            from safetensors.torch import load_file

            expected = load_file(path)
        else:
            expected = torch.load(path, weights_only=True)
        assert _unet_matches(pipe.unet, expected), "the distilled UNet's weights replaced the base UNet's"
    elif unet_override:
        assert pipe.unet.config.time_cond_proj_dim is not None, "LCM-SDXL's own UNet (guidance embedding) was loaded"
    elif spec.lora:
        from peft.tuners.tuners_utils import BaseTunerLayer

        lora_layers = [m for m in pipe.unet.modules() if isinstance(m, BaseTunerLayer)]
        assert lora_layers and all(m.merged for m in lora_layers), "the LoRA is loaded into the UNet and fused"
        assert spec.lora["adapter_name"] in pipe.get_list_adapters()["unet"]
    else:
        base = getattr(diffusers, spec.pipeline_class).from_pretrained(spec.weights, torch_dtype=getattr(torch, spec.dtype), variant=spec.variant or None)
        base_denoiser = base.transformer if hasattr(base, "transformer") else base.unet
        assert _unet_matches(denoiser, base_denoiser.state_dict()), "the repository's own weights, unchanged"

    batch = pipelines.sample(pipe, config, ["a red cube on a blue table"], [0], "cpu")
    image = np.asarray(batch.images[0])
    assert image.shape == (64, 64, 3)
    assert image.std() > 0, "the image is not a flat colour"
