"""Loading diffusers pipelines from a spec's configuration and sampling images with them.

Everything heavy (torch, diffusers) is imported inside functions: only code paths that
generate images pay for it. One pipeline stays resident per worker process.
"""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path
from dataclasses import dataclass, field
from typing import Any

from .catalog import SHADOWED_CALL_KWARGS
from .weights import HUB_ID, is_local_weights

logger = logging.getLogger(__name__)

# The resident pipeline of this process: (config_hash, device, pipeline).
_resident: tuple[str, str, Any] | None = None
# id(pipeline) -> the hub commits it was loaded from.
_revisions: dict[int, dict] = {}


@dataclass(frozen=True)
class SampledBatch:
    images: list  # PIL images, in the order of the requested seeds
    seconds: float  # wall time of the pipeline call, load and warm-up excluded
    device: str
    gpu_name: str
    torch_version: str
    diffusers_version: str
    # Hub snapshot commit of every weight the pipeline was loaded from (see weights_revisions).
    weights_revisions: dict = field(default_factory=dict)


class WeightsUnavailable(Exception):
    """A spec's weights cannot be read here: a gated or missing hub repository, or files absent
    from an offline cache. Retrying does not help until an operator acts, so every batch of the
    spec fails with this one message."""


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


def weights_sources(config: dict) -> list[str]:
    """Every weights source a spec's config names: base, components (and their configs), LoRA."""
    sources = [config["weights"]]
    for override in (config.get("component_overrides") or {}).values():
        sources += [override[key] for key in ("weights", "config") if override.get(key)]
    if config.get("lora"):
        sources.append(config["lora"]["weights"])
    return sources


_EMPTY_DIRECTORY: str | None = None


def _empty_directory() -> str:
    global _EMPTY_DIRECTORY
    if _EMPTY_DIRECTORY is None:
        import tempfile

        _EMPTY_DIRECTORY = tempfile.mkdtemp(prefix="evalsite-hub-only-")
    return _EMPTY_DIRECTORY


def load_pipeline(config: dict, device: str):
    """The spec's pipeline (``build_pipeline``), with every weights source either an absolute
    local path or a hub id resolved only against the hub or its cache: diffusers and transformers
    try a hub id as a folder relative to the working directory first, so loading runs from an
    empty one ("generation/data" is then never this worker's own folder). A source that is
    neither is refused with one message, without looking at the disk."""
    import contextlib

    for source in weights_sources(config):
        if not (isinstance(source, str) and (is_local_weights(source) or HUB_ID.match(source))):
            raise WeightsUnavailable(
                f"The weights '{source}' are neither a hub id (org/name) nor an absolute path under the models directory "
                "(EVALSITE_MODELS_DIR): fix the spec (make a new version with the weights named either way)."
            )
    with contextlib.chdir(_empty_directory()):
        return build_pipeline(config, device)


def build_pipeline(config: dict, device: str):
    """Build the pipeline a spec describes, the way the model cards do: ``from_pretrained`` on
    the base weights, components from other repositories passed in, then the scheduler swap
    and the LoRA. Call ``load_pipeline``, which checks where the weights come from."""
    import diffusers
    import torch

    quiet_progress_bars()
    dtype = getattr(torch, config["dtype"])
    pipeline_cls = getattr(diffusers, config["pipeline_class"])
    load_kwargs: dict[str, Any] = {"torch_dtype": dtype}
    if config.get("variant"):
        load_kwargs["variant"] = config["variant"]
    if config.get("revision"):
        load_kwargs["revision"] = config["revision"]
    for component, override in (config.get("component_overrides") or {}).items():
        load_kwargs[component] = load_component(component, override, dtype, base_weights=config["weights"], base_revision=config.get("revision") or None)
    pipe = pipeline_cls.from_pretrained(config["weights"], **load_kwargs)
    scheduler_cls = getattr(diffusers, config["scheduler_class"]) if config.get("scheduler_class") else type(pipe.scheduler)
    if config.get("scheduler_class") or config.get("scheduler_config"):
        # Overrides apply on top of the base repository's own scheduler config, as every card does.
        pipe.scheduler = scheduler_cls.from_config(pipe.scheduler.config, **(config.get("scheduler_config") or {}))
    lora = config.get("lora")
    if lora:
        adapter = lora.get("adapter_name") or "lora"
        kwargs = {"adapter_name": adapter}
        if lora.get("weight_name"):
            kwargs["weight_name"] = lora["weight_name"]
        if lora.get("revision"):
            kwargs["revision"] = lora["revision"]
        pipe.load_lora_weights(lora["weights"], **kwargs)
        scale = float(lora.get("scale", 1.0))
        if lora.get("fuse"):
            pipe.fuse_lora(lora_scale=scale, adapter_names=[adapter])
        else:
            pipe.set_adapters([adapter], adapter_weights=[scale])
    pipe.to(device)
    pipe.set_progress_bar_config(disable=True)
    # Resolved now, from the cache the load just filled: the exact snapshot this pipeline holds.
    _revisions[id(pipe)] = weights_revisions(config)
    return pipe


def weights_file(weights: str, weight_name: str, revision: str | None = None) -> str:
    """A single weights file: inside a local directory, or downloaded (or found in the cache)."""
    if is_local_weights(weights):
        path = Path(weights)
        return str(path / weight_name if path.is_dir() else path)
    from huggingface_hub import hf_hub_download

    return hf_hub_download(weights, weight_name, revision=revision)


def load_component(name: str, override: dict, dtype, *, base_weights: str, base_revision: str | None = None):
    """A component from another repository replacing the base pipeline's, e.g. a distilled UNet.

    Two shapes, as the model cards load them:
    - a diffusers-format folder (``weights`` [+ ``subfolder``, ``variant``]): ``from_pretrained``,
      as LCM-SDXL ships its UNet;
    - a single state-dict file (``weight_name``, ``.safetensors`` or a torch ``.bin``): the
      architecture from a config (``config``, default the base weights, in ``config_subfolder``,
      default the component's name) and the file's tensors loaded into it, as SDXL-Lightning
      (``load_file``) and DMD2 (``torch.load``) document.
    """
    import diffusers
    import torch

    component_cls = getattr(diffusers, override["class"])
    weight_name = override.get("weight_name")
    if weight_name:
        config_source = override.get("config") or base_weights
        config_revision = None if override.get("config") else base_revision
        component = component_cls.from_config(
            component_cls.load_config(config_source, subfolder=override.get("config_subfolder", name), revision=config_revision)
        )
        path = weights_file(override["weights"], weight_name, override.get("revision") or None)
        if path.endswith(".safetensors"):
            from safetensors.torch import load_file

            state_dict = load_file(path)
        else:
            state_dict = torch.load(path, map_location="cpu", weights_only=True)
        component.load_state_dict(state_dict)
        return component.to(dtype)
    kwargs: dict[str, Any] = {"torch_dtype": dtype}
    if override.get("subfolder"):
        kwargs["subfolder"] = override["subfolder"]
    if override.get("variant"):
        kwargs["variant"] = override["variant"]
    if override.get("revision"):
        kwargs["revision"] = override["revision"]
    return component_cls.from_pretrained(override["weights"], **kwargs)


COMMIT = re.compile(r"^[0-9a-f]{40}$")


def resolved_commit(repo_id: str, revision: str = "") -> str:
    """The snapshot commit a hub revision resolved to, read from the Hugging Face cache that the
    load just used ("" when unknown): ``refs/<revision>`` holds it, a commit is itself."""
    from huggingface_hub import constants

    revision = revision or "main"
    if COMMIT.match(revision):
        return revision
    ref = Path(constants.HF_HUB_CACHE) / ("models--" + repo_id.replace("/", "--")) / "refs" / revision
    try:
        return ref.read_text().strip()
    except OSError:
        return ""


def weights_revisions(config: dict) -> dict:
    """``{"weights" | component | "lora": {"repo", "revision", "commit"}}`` for every hub weight of
    a spec's config (local directories have no commit and are left out)."""
    sources = {"weights": (config["weights"], config.get("revision") or "")}
    for component, override in (config.get("component_overrides") or {}).items():
        sources[component] = (override["weights"], override.get("revision") or "")
    if config.get("lora"):
        sources["lora"] = (config["lora"]["weights"], config["lora"].get("revision") or "")
    return {
        role: {"repo": repo, "revision": revision or "main", "commit": resolved_commit(repo, revision)}
        for role, (repo, revision) in sources.items()
        if not is_local_weights(repo)
    }


def weights_unavailable_reason(error: BaseException, config: dict) -> str | None:
    """An English explanation when ``error`` says a spec's hub weights cannot be read (gated,
    missing, not in an offline cache); None for any other error."""
    from huggingface_hub.errors import GatedRepoError, LocalEntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError

    repos = ", ".join(f"'{r['repo']}'" for r in weights_revisions(config).values()) or f"'{config['weights']}'"
    chain, cause = [], error
    while cause is not None and len(chain) < 10:
        chain.append(cause)
        cause = cause.__cause__ or cause.__context__
    text = " ".join(str(e) for e in chain)
    if any(isinstance(e, GatedRepoError) for e in chain):
        return (
            f"The weights {repos} are gated and this worker may not read them: accept the licence on huggingface.co "
            "with the account whose token the GPU workers use (HF_TOKEN in .env), then restart the study's generation."
        )
    if any(isinstance(e, RevisionNotFoundError) for e in chain):
        return f"The revision pinned for {repos} does not exist on the hub: fix the spec's revision."
    from huggingface_hub import constants
    from huggingface_hub.errors import EntryNotFoundError

    # Missing on the hub (or hidden from this token): retrying cannot help.
    hub_missing = any(
        isinstance(e, RepositoryNotFoundError) or (isinstance(e, EntryNotFoundError) and not isinstance(e, LocalEntryNotFoundError))
        for e in chain
    )
    # Missing from an offline worker's cache. Online, a failed download may be a passing network
    # fault: that stays an ordinary batch failure, retried by reconciliation.
    lowered = text.lower()
    cache_missing = bool(constants.HF_HUB_OFFLINE) and (
        any(isinstance(e, LocalEntryNotFoundError) for e in chain)
        or any(phrase in lowered for phrase in ("cannot find", "not found", "does not appear to have", "couldn't connect", "not cached", "offline"))
    )
    if hub_missing or cache_missing:
        return (
            f"The weights {repos} cannot be read: they are not in this worker's Hugging Face cache and could not be "
            "downloaded (a gated repository needs HF_TOKEN in .env with its licence accepted; an offline worker needs "
            f"them in the shared cache volume first). The loader said: {str(error).strip()[:300]}"
        )
    return None


def resident_pipeline(config: dict, config_hash: str, device: str):
    """The pipeline for ``config``, loaded lazily; loading another spec evicts the previous one."""
    global _resident
    if _resident is not None and _resident[0] == config_hash and _resident[1] == device:
        return _resident[2]
    if _resident is not None:
        _revisions.pop(id(_resident[2]), None)
    _resident = None  # drop the old pipeline before loading the next: one resident at a time
    _free_accelerator_memory()
    started = time.perf_counter()
    try:
        pipe = load_pipeline(config, device)
    except Exception as error:
        reason = weights_unavailable_reason(error, config)
        if reason:
            raise WeightsUnavailable(reason) from error
        raise
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
    # Never over what the validated fields set (a spec saved before that was checked included).
    call_kwargs.update({k: v for k, v in (config.get("extra_call_kwargs") or {}).items() if k not in SHADOWED_CALL_KWARGS})
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
        weights_revisions=_revisions.get(id(pipe), {}),
    )


def is_out_of_memory(error: BaseException) -> bool:
    import torch

    return isinstance(error, torch.cuda.OutOfMemoryError) or (
        isinstance(error, RuntimeError) and "out of memory" in str(error).lower()
    )


def sample_halving_on_oom(pipe, config: dict, prompts: list[str], seeds: list[int], device: str) -> list[tuple[int, SampledBatch]]:
    """Sample a batch; on out-of-memory split it in halves and sample each, recursively.

    Returns (offset of the sub-batch in the request, its images) pairs in order. A single image
    that does not fit raises the error.
    """
    try:
        return [(0, sample(pipe, config, prompts, seeds, device))]
    except Exception as error:
        if not is_out_of_memory(error) or len(prompts) == 1:
            raise
        logger.warning("out of memory on a batch of %d; retrying as two batches of %d and %d", len(prompts), len(prompts) // 2, len(prompts) - len(prompts) // 2)
    _free_accelerator_memory()
    half = len(prompts) // 2
    first = sample_halving_on_oom(pipe, config, prompts[:half], seeds[:half], device)
    second = sample_halving_on_oom(pipe, config, prompts[half:], seeds[half:], device)
    return first + [(offset + half, batch) for offset, batch in second]
