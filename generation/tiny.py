"""Tiny diffusers pipelines built from configs with seeded random weights.

They run the production loading code (``from_pretrained`` on a directory) on a CPU with no
download: a byte-level CLIP tokenizer with no merges covers every input string, so no
vocabulary has to be fetched. Sizes: a VAE with scale factor 8 like the real ones, UNets of a few hundred thousand parameters.

torch, diffusers and transformers are imported inside the functions: importing this module is
free, and Django start-up must not pay for torch.
"""

from __future__ import annotations

import json
from pathlib import Path

CLIP_MAX_LENGTH = 77
TEXT_HIDDEN_SIZE = 32


def _clip_vocab() -> dict[str, int]:
    from tokenizers.pre_tokenizers import ByteLevel

    alphabet = sorted(ByteLevel.alphabet())
    vocab = {symbol: i for i, symbol in enumerate(alphabet)}
    vocab.update({symbol + "</w>": len(alphabet) + i for i, symbol in enumerate(alphabet)})
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    return vocab


def write_clip_tokenizer(directory: Path, pad_token: str = "<|endoftext|>") -> None:
    """Write a CLIP tokenizer (vocab, empty merges, config) that loads with ``from_pretrained``."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "vocab.json").write_text(json.dumps(_clip_vocab()))
    (directory / "merges.txt").write_text("#version: 0.2\n")
    (directory / "tokenizer_config.json").write_text(
        json.dumps(
            {
                "tokenizer_class": "CLIPTokenizer",
                "model_max_length": CLIP_MAX_LENGTH,
                "bos_token": "<|startoftext|>",
                "eos_token": "<|endoftext|>",
                "unk_token": "<|endoftext|>",
                "pad_token": pad_token,
            }
        )
    )


def _clip_tokenizer(pad_token: str = "<|endoftext|>"):
    import tempfile

    from transformers import CLIPTokenizer

    with tempfile.TemporaryDirectory() as tmp:
        write_clip_tokenizer(Path(tmp), pad_token=pad_token)
        return CLIPTokenizer.from_pretrained(tmp)


def _clip_text_config(projection_dim: int | None = None):
    from transformers import CLIPTextConfig

    vocab_size = len(_clip_vocab())
    kwargs = dict(
        vocab_size=vocab_size,
        bos_token_id=vocab_size - 2,
        eos_token_id=vocab_size - 1,
        pad_token_id=vocab_size - 1,
        hidden_size=TEXT_HIDDEN_SIZE,
        intermediate_size=37,
        num_attention_heads=4,
        num_hidden_layers=2,
        max_position_embeddings=CLIP_MAX_LENGTH,
        layer_norm_eps=1e-5,
    )
    if projection_dim is not None:
        kwargs["projection_dim"] = projection_dim
    return CLIPTextConfig(**kwargs)


def _vae(latent_channels: int = 4, **extra):
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        block_out_channels=[8, 8, 16, 16],
        in_channels=3,
        out_channels=3,
        down_block_types=["DownEncoderBlock2D"] * 4,
        up_block_types=["UpDecoderBlock2D"] * 4,
        latent_channels=latent_channels,
        norm_num_groups=4,
        layers_per_block=1,
        sample_size=64,
        **extra,
    )


# The UNet shape every tiny pipeline shares: two resolutions, one cross-attention level.
UNET_SHAPE = dict(
    block_out_channels=(8, 16),
    layers_per_block=1,
    sample_size=8,
    in_channels=4,
    out_channels=4,
    down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
    up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
    norm_num_groups=4,
)


def _sd_unet(time_cond_proj_dim: int | None = None):
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(
        **UNET_SHAPE, cross_attention_dim=TEXT_HIDDEN_SIZE, attention_head_dim=4, time_cond_proj_dim=time_cond_proj_dim
    )


def build_sd_pipeline(seed: int = 0, scheduler_class: str = "EulerAncestralDiscreteScheduler", lcm: bool = False):
    """A tiny StableDiffusionPipeline (or LatentConsistencyModelPipeline when ``lcm``)."""
    import diffusers
    import torch
    from transformers import CLIPTextModel

    torch.manual_seed(seed)
    unet = _sd_unet(time_cond_proj_dim=TEXT_HIDDEN_SIZE if lcm else None)
    vae = _vae()
    text_encoder = CLIPTextModel(_clip_text_config())
    scheduler = getattr(diffusers, scheduler_class)(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", num_train_timesteps=1000, steps_offset=1
    )
    components = dict(
        unet=unet,
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=_clip_tokenizer(),
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
    )
    if lcm:
        return diffusers.LatentConsistencyModelPipeline(**components, requires_safety_checker=False)
    return diffusers.StableDiffusionPipeline(**components, requires_safety_checker=False, image_encoder=None)


def save_pipeline(pipe, directory: Path) -> Path:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    pipe.save_pretrained(directory, safe_serialization=True)
    return directory


# The tiny family: a one-step turbo-like spec, a 4-step LCM spec and a 25-step baseline with
# classifier-free guidance, each with its own weights so their images differ.
TINY_FAMILY = (
    {
        "slug": "tiny-turbo-1step",
        "name": "Tiny turbo (1 step)",
        "build": {"seed": 1, "scheduler_class": "EulerAncestralDiscreteScheduler"},
        "spec": {
            "pipeline_class": "StableDiffusionPipeline",
            "scheduler_class": "EulerAncestralDiscreteScheduler",
            "scheduler_config": {"timestep_spacing": "trailing"},
            "steps": 1,
            "guidance_scale": 0.0,
        },
    },
    {
        "slug": "tiny-lcm-4step",
        "name": "Tiny LCM (4 steps)",
        "build": {"seed": 2, "scheduler_class": "LCMScheduler", "lcm": True},
        "spec": {
            "pipeline_class": "LatentConsistencyModelPipeline",
            "scheduler_class": "LCMScheduler",
            "steps": 4,
            "guidance_scale": 1.0,
        },
    },
    {
        "slug": "tiny-base-25step",
        "name": "Tiny baseline (25 steps, CFG 5)",
        "build": {"seed": 3, "scheduler_class": "DPMSolverMultistepScheduler"},
        "spec": {
            "pipeline_class": "StableDiffusionPipeline",
            "scheduler_class": "DPMSolverMultistepScheduler",
            "steps": 25,
            "guidance_scale": 5.0,
        },
    },
)


def write_tiny_family(directory: Path, overwrite: bool = False) -> dict[str, Path]:
    """Write every tiny pipeline under ``directory``; returns slug -> weights directory."""
    paths = {}
    for member in TINY_FAMILY:
        target = Path(directory) / member["slug"]
        if overwrite or not (target / "model_index.json").exists():
            save_pipeline(build_sd_pipeline(**member["build"]), target)
        paths[member["slug"]] = target
    return paths


def _sdxl_unet(time_cond_proj_dim: int | None = None):
    """A tiny SDXL UNet: text-time additional embeddings over two concatenated text encoders."""
    from diffusers import UNet2DConditionModel

    addition_time_embed_dim = 8
    return UNet2DConditionModel(
        **UNET_SHAPE,
        attention_head_dim=(2, 4),
        use_linear_projection=True,
        addition_embed_type="text_time",
        addition_time_embed_dim=addition_time_embed_dim,
        # six size/crop numbers, each embedded, plus the second encoder's pooled projection
        projection_class_embeddings_input_dim=6 * addition_time_embed_dim + TEXT_HIDDEN_SIZE,
        cross_attention_dim=2 * TEXT_HIDDEN_SIZE,
        time_cond_proj_dim=time_cond_proj_dim,
    )


def _sdxl_scheduler():
    """The scheduler config stabilityai/stable-diffusion-xl-base-1.0 ships (Euler, leading)."""
    from diffusers import EulerDiscreteScheduler

    return EulerDiscreteScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        num_train_timesteps=1000,
        steps_offset=1,
        timestep_spacing="leading",
        interpolation_type="linear",
        prediction_type="epsilon",
        use_karras_sigmas=False,
    )


def build_sdxl_pipeline(seed: int = 0, time_cond_proj_dim: int | None = None):
    """A tiny StableDiffusionXLPipeline with two CLIP text encoders (the second pads with "!")."""
    import diffusers
    import torch
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    torch.manual_seed(seed)
    return diffusers.StableDiffusionXLPipeline(
        unet=_sdxl_unet(time_cond_proj_dim=time_cond_proj_dim),
        vae=_vae(),
        text_encoder=CLIPTextModel(_clip_text_config()),
        text_encoder_2=CLIPTextModelWithProjection(_clip_text_config(projection_dim=TEXT_HIDDEN_SIZE)),
        tokenizer=_clip_tokenizer(),
        tokenizer_2=_clip_tokenizer(pad_token="!"),
        scheduler=_sdxl_scheduler(),
        image_encoder=None,
        feature_extractor=None,
    )


def build_sdxl_unet(seed: int = 0, time_cond_proj_dim: int | None = None):
    """A UNet with the tiny SDXL architecture, for component overrides (distilled UNets)."""
    import torch

    torch.manual_seed(seed)
    return _sdxl_unet(time_cond_proj_dim=time_cond_proj_dim)


def _t5_tokenizer():
    from transformers import T5Tokenizer

    # A Unigram vocabulary covering printable ASCII, each piece with and without the word marker.
    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("\u2581", -1.0)]
    for code in range(33, 127):
        pieces.append((chr(code), -2.0))
        pieces.append(("\u2581" + chr(code), -2.5))
    return T5Tokenizer(vocab=pieces, extra_ids=0, model_max_length=CLIP_MAX_LENGTH)


T5_HIDDEN_SIZE = 64


def build_sd3_pipeline(seed: int = 0):
    """A tiny StableDiffusion3Pipeline: two CLIP encoders with projections and a tiny T5."""
    import diffusers
    import torch
    from transformers import CLIPTextModelWithProjection, T5Config, T5EncoderModel

    torch.manual_seed(seed)
    tokenizer_3 = _t5_tokenizer()
    transformer = diffusers.SD3Transformer2DModel(
        sample_size=8,
        patch_size=2,  # as the real SD3 models: sides must be multiples of 8 x 2 = 16
        in_channels=4,
        out_channels=4,
        num_layers=1,
        attention_head_dim=8,
        num_attention_heads=4,
        caption_projection_dim=32,
        joint_attention_dim=T5_HIDDEN_SIZE,
        pooled_projection_dim=2 * TEXT_HIDDEN_SIZE,
        pos_embed_max_size=32,  # in patches: covers images up to 512 x 512
    )
    text_encoder_3 = T5EncoderModel(
        T5Config(
            vocab_size=len(tokenizer_3),
            d_model=T5_HIDDEN_SIZE,
            d_kv=8,
            d_ff=37,
            num_layers=2,
            num_heads=4,
            pad_token_id=0,
            eos_token_id=1,
            decoder_start_token_id=0,
        )
    )
    return diffusers.StableDiffusion3Pipeline(
        transformer=transformer,
        vae=_vae(shift_factor=0.0609, scaling_factor=1.5035, use_quant_conv=False, use_post_quant_conv=False),
        text_encoder=CLIPTextModelWithProjection(_clip_text_config(projection_dim=TEXT_HIDDEN_SIZE)),
        text_encoder_2=CLIPTextModelWithProjection(_clip_text_config(projection_dim=TEXT_HIDDEN_SIZE)),
        text_encoder_3=text_encoder_3,
        tokenizer=_clip_tokenizer(),
        tokenizer_2=_clip_tokenizer(),
        tokenizer_3=tokenizer_3,
        scheduler=diffusers.FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=3.0),
    )


def write_lora(pipe, directory: Path, *, seed: int = 0, rank: int = 4, weight_name: str = "pytorch_lora_weights.safetensors") -> Path:
    """A LoRA for ``pipe``'s UNet with random non-zero weights, saved with ``save_lora_weights``."""
    import torch
    from peft import LoraConfig, get_peft_model_state_dict

    torch.manual_seed(seed)
    unet = pipe.unet
    config = LoraConfig(r=rank, lora_alpha=rank, init_lora_weights=False, target_modules=["to_q", "to_k", "to_v", "to_out.0"])
    unet.add_adapter(config, adapter_name="tiny-lora")
    state = get_peft_model_state_dict(unet, adapter_name="tiny-lora")
    unet.delete_adapters("tiny-lora")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    type(pipe).save_lora_weights(directory, unet_lora_layers=state, weight_name=weight_name, safe_serialization=True)
    return directory / weight_name
