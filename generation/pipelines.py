"""Loading diffusers pipelines from a spec's configuration and sampling images with them.

Everything heavy (torch, diffusers) is imported inside functions: only code paths that
generate images pay for it. One pipeline stays resident per worker process.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)

# The resident pipeline of this process: (config_hash, device, pipeline).
_resident: tuple[str, str, Any] | None = None


@dataclass(frozen=True)
class SampledBatch:
    images: list  # PIL images, in the order of the requested seeds
    seconds: float  # wall time of the pipeline call, load and warm-up excluded
    device: str
    gpu_name: str
    torch_version: str
    diffusers_version: str


def quiet_progress_bars() -> None:
    import diffusers
    import transformers

    diffusers.utils.logging.disable_progress_bar()
    diffusers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()


def resolve_device(setting: str = "auto") -> str:
    import torch

    if setting != "auto":
        return setting
    return "cuda" if torch.cuda.is_available() else "cpu"


def load_pipeline(config: dict, device: str):
    """Build the pipeline a spec describes, through ``from_pretrained`` as for hub weights."""
    import diffusers
    import torch

    quiet_progress_bars()
    dtype = getattr(torch, config["dtype"])
    pipeline_cls = getattr(diffusers, config["pipeline_class"])
    load_kwargs: dict[str, Any] = {"torch_dtype": dtype}
    if config.get("variant"):
        load_kwargs["variant"] = config["variant"]
    for component, override in (config.get("component_overrides") or {}).items():
        load_kwargs[component] = _load_component(override, dtype)
    pipe = pipeline_cls.from_pretrained(config["weights"], **load_kwargs)
    if config.get("scheduler_class"):
        scheduler_cls = getattr(diffusers, config["scheduler_class"])
        pipe.scheduler = scheduler_cls.from_config(pipe.scheduler.config, **(config.get("scheduler_config") or {}))
    elif config.get("scheduler_config"):
        pipe.scheduler = type(pipe.scheduler).from_config(pipe.scheduler.config, **config["scheduler_config"])
    lora = config.get("lora")
    if lora:
        adapter = lora.get("adapter_name") or "lora"
        kwargs = {"adapter_name": adapter}
        if lora.get("weight_name"):
            kwargs["weight_name"] = lora["weight_name"]
        pipe.load_lora_weights(lora["weights"], **kwargs)
        scale = float(lora.get("scale", 1.0))
        if lora.get("fuse"):
            pipe.fuse_lora(lora_scale=scale, adapter_names=[adapter])
        else:
            pipe.set_adapters([adapter], adapter_weights=[scale])
    pipe.to(device)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _load_component(override: dict, dtype):
    """A component from another repository, e.g. a distilled UNet replacing the base one."""
    import diffusers

    component_cls = getattr(diffusers, override["class"])
    if override.get("single_file"):
        from huggingface_hub import hf_hub_download

        path = override["weights"]
        if override.get("weight_name"):
            path = hf_hub_download(override["weights"], override["weight_name"])
        config = override.get("config")
        if config:
            component = component_cls.from_config(component_cls.load_config(config, subfolder=override.get("config_subfolder")))
            from safetensors.torch import load_file

            component.load_state_dict(load_file(path))
            return component.to(dtype)
        return component_cls.from_single_file(path, torch_dtype=dtype)
    kwargs = {"torch_dtype": dtype}
    if override.get("subfolder"):
        kwargs["subfolder"] = override["subfolder"]
    return component_cls.from_pretrained(override["weights"], **kwargs)


def resident_pipeline(config: dict, config_hash: str, device: str):
    """The pipeline for ``config``, loaded lazily; loading another spec evicts the previous one."""
    global _resident
    if _resident is not None and _resident[0] == config_hash and _resident[1] == device:
        return _resident[2]
    _resident = None  # drop the old pipeline before loading the next: one resident at a time
    _free_accelerator_memory()
    started = time.perf_counter()
    pipe = load_pipeline(config, device)
    # One untimed call first, so no image's latency includes kernel selection or lazy init.
    sample(pipe, config, ["warm-up"], [0], device)
    logger.info("loaded pipeline %s on %s in %.1f s", config["pipeline_class"], device, time.perf_counter() - started)
    _resident = (config_hash, device, pipe)
    return pipe


def _free_accelerator_memory() -> None:
    import gc

    gc.collect()
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def sample(pipe, config: dict, prompts: list[str], seeds: list[int], device: str) -> SampledBatch:
    """One pipeline call for a batch; each image has its own seeded ``torch.Generator``."""
    import diffusers
    import torch

    generator_device = "cpu" if device == "cpu" else device
    generators = [torch.Generator(generator_device).manual_seed(int(seed)) for seed in seeds]
    call_kwargs: dict[str, Any] = dict(
        prompt=list(prompts),
        num_inference_steps=config["steps"],
        guidance_scale=config["guidance_scale"],
        height=config["height"],
        width=config["width"],
        generator=generators,
        output_type="pil",
    )
    if config.get("timesteps"):
        call_kwargs["timesteps"] = list(config["timesteps"])
        call_kwargs.pop("num_inference_steps")
    call_kwargs.update(config.get("extra_call_kwargs") or {})
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    started = time.perf_counter()
    with torch.inference_mode():
        images = pipe(**call_kwargs).images
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    gpu_name = torch.cuda.get_device_name(torch.device(device)) if device.startswith("cuda") else ""
    return SampledBatch(
        images=images,
        seconds=seconds,
        device=device,
        gpu_name=gpu_name,
        torch_version=torch.__version__,
        diffusers_version=diffusers.__version__,
    )
