"""A Hugging Face cache, written by hand, in which every hub id the presets name resolves to
tiny weights of the same kind: a pipeline repository to a tiny pipeline of the same class, a
UNet repository to a tiny UNet, a single-file checkpoint to a tiny state dict, a LoRA
repository to a tiny LoRA. With ``HF_HUB_OFFLINE=1`` the production loading code
(``from_pretrained``, ``hf_hub_download``, ``load_lora_weights``) runs unchanged on them.

Layout (what huggingface_hub reads offline): ``models--org--name/refs/main`` holds a commit
hash and ``models--org--name/snapshots/<hash>/`` holds the files.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from generation import tiny

SDXL_BASE = "stabilityai/stable-diffusion-xl-base-1.0"


def snapshot_dir(cache: Path, repo_id: str) -> Path:
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    commit = hashlib.sha1(repo_id.encode()).hexdigest()
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(commit)
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True, exist_ok=True)
    return snapshot


def _save_with_fp16_variant(model, directory: Path) -> None:
    """Default (float32) files and the ``fp16`` variant, as the real repositories ship both."""
    import torch

    model.save_pretrained(directory, safe_serialization=True)
    model.to(torch.float16).save_pretrained(directory, safe_serialization=True, variant="fp16")
    model.to(torch.float32)


class FakeHub:
    """Builds each tiny pipeline once and writes the repositories the presets need."""

    def __init__(self, cache: Path):
        self.cache = Path(cache)
        self._sdxl = None

    @property
    def sdxl(self):
        if self._sdxl is None:
            self._sdxl = tiny.build_sdxl_pipeline(seed=10)
        return self._sdxl

    def sdxl_pipeline(self, repo_id: str) -> None:
        _save_with_fp16_variant(self.sdxl, snapshot_dir(self.cache, repo_id))

    def sd_pipeline(self, repo_id: str) -> None:
        _save_with_fp16_variant(tiny.build_sd_pipeline(seed=11), snapshot_dir(self.cache, repo_id))

    def sd3_pipeline(self, repo_id: str) -> None:
        tiny.save_pipeline(tiny.build_sd3_pipeline(seed=12), snapshot_dir(self.cache, repo_id))

    def lcm_unet(self, repo_id: str) -> None:
        # LCM-SDXL's UNet embeds the guidance scale (time_cond_proj_dim), as the real one does.
        unet = tiny.build_sdxl_unet(seed=13, time_cond_proj_dim=tiny.TEXT_HIDDEN_SIZE)
        _save_with_fp16_variant(unet, snapshot_dir(self.cache, repo_id))

    def unet_safetensors(self, repo_id: str, weight_name: str) -> None:
        from safetensors.torch import save_file

        unet = tiny.build_sdxl_unet(seed=14)
        save_file({k: v.contiguous() for k, v in unet.state_dict().items()}, snapshot_dir(self.cache, repo_id) / weight_name)

    def unet_torch_bin(self, repo_id: str, weight_name: str) -> None:
        import torch

        unet = tiny.build_sdxl_unet(seed=15).to(torch.float16)
        torch.save(unet.state_dict(), snapshot_dir(self.cache, repo_id) / weight_name)

    def sdxl_lora(self, repo_id: str, weight_name: str = "pytorch_lora_weights.safetensors") -> None:
        tiny.write_lora(self.sdxl, snapshot_dir(self.cache, repo_id), seed=16, weight_name=weight_name)


# Every hub repository a preset names -> how its tiny stand-in is written.
REPOSITORIES = {
    "stabilityai/sdxl-turbo": lambda hub: hub.sdxl_pipeline("stabilityai/sdxl-turbo"),
    "stabilityai/sd-turbo": lambda hub: hub.sd_pipeline("stabilityai/sd-turbo"),
    "stabilityai/stable-diffusion-3.5-large-turbo": lambda hub: hub.sd3_pipeline("stabilityai/stable-diffusion-3.5-large-turbo"),
    SDXL_BASE: lambda hub: hub.sdxl_pipeline(SDXL_BASE),
    "latent-consistency/lcm-sdxl": lambda hub: hub.lcm_unet("latent-consistency/lcm-sdxl"),
    "latent-consistency/lcm-lora-sdxl": lambda hub: hub.sdxl_lora("latent-consistency/lcm-lora-sdxl"),
    "ByteDance/SDXL-Lightning": lambda hub: hub.unet_safetensors("ByteDance/SDXL-Lightning", "sdxl_lightning_4step_unet.safetensors"),
    "ByteDance/Hyper-SD": lambda hub: hub.sdxl_lora("ByteDance/Hyper-SD", "Hyper-SDXL-8steps-lora.safetensors"),
    "tianweiy/DMD2": lambda hub: hub.unet_torch_bin("tianweiy/DMD2", "dmd2_sdxl_4step_unet_fp16.bin"),
}


def preset_repositories(config: dict) -> set[str]:
    """Every hub repository a preset's config loads from."""
    repos = {config["weights"]}
    repos.update(override["weights"] for override in (config.get("component_overrides") or {}).values())
    if config.get("lora"):
        repos.add(config["lora"]["weights"])
    return repos


def write_fake_hub(cache: Path) -> Path:
    hub = FakeHub(cache)
    for write in REPOSITORIES.values():
        write(hub)
    return Path(cache)
