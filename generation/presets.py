"""Model specs for the real distilled systems and their baselines, with the settings their
authors publish. ``python manage.py install_presets`` creates them (idempotent).

Each preset's ``source`` names the model card it follows and every choice made where the card
gives a range. Nothing is inferred from a name: each spec states its pipeline class, scheduler
(the one the repository's ``scheduler_config.json`` or the card names, stated explicitly so a
different base config cannot change it), steps, guidance, size, dtype and variant.
"""

from __future__ import annotations

SDXL_BASE = "stabilityai/stable-diffusion-xl-base-1.0"

SDXL_TURBO = {
    "weights": "stabilityai/sdxl-turbo",
    "pipeline_class": "StableDiffusionXLPipeline",
    "scheduler_class": "EulerAncestralDiscreteScheduler",
    "scheduler_config": {"timestep_spacing": "trailing"},
    "dtype": "float16",
    "variant": "fp16",
    "steps": 1,
    "guidance_scale": 0.0,
    "height": 512,
    "width": 512,
}

PRESETS: tuple[dict, ...] = (
    {
        "slug": "sdxl-turbo-1step",
        "name": "SDXL-Turbo (1 step)",
        "config": SDXL_TURBO,
        "source": (
            "https://huggingface.co/stabilityai/sdxl-turbo: AutoPipelineForText2Image, torch_dtype float16, variant fp16, "
            "num_inference_steps=1, guidance_scale=0.0 (the model does not use guidance), 512x512 (the size it was trained at). "
            "Scheduler: the repository's EulerAncestralDiscreteScheduler with timestep_spacing='trailing' (diffusers SDXL Turbo docs)."
        ),
    },
    {
        "slug": "sdxl-turbo-4step",
        "name": "SDXL-Turbo (4 steps)",
        "config": {**SDXL_TURBO, "steps": 4},
        "source": (
            "https://huggingface.co/stabilityai/sdxl-turbo and the ADD paper (arXiv 2311.17042), whose human study runs "
            "SDXL-Turbo at 1 and 4 steps; settings as the 1-step preset (guidance 0.0, Euler ancestral, trailing, 512x512), "
            "4 steps being the top of the card's 1-4 step range."
        ),
    },
    {
        "slug": "sd-turbo-1step",
        "name": "SD-Turbo (1 step)",
        "config": {
            "weights": "stabilityai/sd-turbo",
            "pipeline_class": "StableDiffusionPipeline",
            "scheduler_class": "EulerDiscreteScheduler",
            "scheduler_config": {"timestep_spacing": "trailing"},
            "dtype": "float16",
            "variant": "fp16",
            "steps": 1,
            "guidance_scale": 0.0,
            "height": 512,
            "width": 512,
        },
        "source": (
            "https://huggingface.co/stabilityai/sd-turbo: AutoPipelineForText2Image, torch_dtype float16, variant fp16, "
            "num_inference_steps=1, guidance_scale=0.0, 512x512. Scheduler: the repository's EulerDiscreteScheduler with "
            "timestep_spacing='trailing'."
        ),
    },
    {
        "slug": "sd35-large-turbo-4step",
        "name": "SD3.5-Large-Turbo (4 steps)",
        "config": {
            "weights": "stabilityai/stable-diffusion-3.5-large-turbo",
            "pipeline_class": "StableDiffusion3Pipeline",
            "scheduler_class": "FlowMatchEulerDiscreteScheduler",
            "scheduler_config": {"shift": 3.0},
            "dtype": "bfloat16",
            "steps": 4,
            "guidance_scale": 0.0,
            "height": 1024,
            "width": 1024,
        },
        "source": (
            "https://huggingface.co/stabilityai/stable-diffusion-3.5-large-turbo: StableDiffusion3Pipeline, torch_dtype "
            "bfloat16, num_inference_steps=4, guidance_scale=0.0, 1024x1024 (the pipeline default the card uses). "
            "Scheduler: the repository's FlowMatchEulerDiscreteScheduler, shift 3.0."
        ),
    },
    {
        "slug": "lcm-sdxl-4step",
        "name": "LCM-SDXL (4 steps)",
        "config": {
            "weights": SDXL_BASE,
            "pipeline_class": "StableDiffusionXLPipeline",
            "scheduler_class": "LCMScheduler",
            "component_overrides": {
                "unet": {"class": "UNet2DConditionModel", "weights": "latent-consistency/lcm-sdxl", "variant": "fp16"}
            },
            "dtype": "float16",
            "variant": "fp16",
            "steps": 4,
            "guidance_scale": 8.0,
            "height": 1024,
            "width": 1024,
        },
        "source": (
            "https://huggingface.co/latent-consistency/lcm-sdxl: UNet2DConditionModel.from_pretrained('latent-consistency/lcm-sdxl', "
            "variant fp16) on stabilityai/stable-diffusion-xl-base-1.0 (float16, fp16), LCMScheduler, num_inference_steps=4, "
            "guidance_scale=8.0 (the card's example; this UNet embeds the guidance scale, so no classifier-free pass), "
            "1024x1024 (SDXL's native size)."
        ),
    },
    {
        "slug": "lcm-lora-sdxl-4step",
        "name": "LCM-LoRA on SDXL (4 steps)",
        "config": {
            "weights": SDXL_BASE,
            "pipeline_class": "StableDiffusionXLPipeline",
            "scheduler_class": "LCMScheduler",
            "lora": {
                "weights": "latent-consistency/lcm-lora-sdxl",
                "weight_name": "pytorch_lora_weights.safetensors",
                "adapter_name": "lcm",
                "scale": 1.0,
                "fuse": True,
            },
            "dtype": "float16",
            "variant": "fp16",
            "steps": 4,
            "guidance_scale": 1.0,
            "height": 1024,
            "width": 1024,
        },
        "source": (
            "https://huggingface.co/latent-consistency/lcm-lora-sdxl: SDXL base (float16, fp16) with LCMScheduler, "
            "load_lora_weights('latent-consistency/lcm-lora-sdxl') and fuse_lora(), num_inference_steps=4. Guidance: the "
            "card recommends values between 1.0 and 2.0; we take 1.0, the bottom of that range and the value that turns "
            "classifier-free guidance off (as its example's 0 does). 1024x1024."
        ),
    },
    {
        "slug": "sdxl-lightning-4step",
        "name": "SDXL-Lightning (4 steps)",
        "config": {
            "weights": SDXL_BASE,
            "pipeline_class": "StableDiffusionXLPipeline",
            "scheduler_class": "EulerDiscreteScheduler",
            "scheduler_config": {"timestep_spacing": "trailing"},
            "component_overrides": {
                "unet": {
                    "class": "UNet2DConditionModel",
                    "weights": "ByteDance/SDXL-Lightning",
                    "weight_name": "sdxl_lightning_4step_unet.safetensors",
                }
            },
            "dtype": "float16",
            "variant": "fp16",
            "steps": 4,
            "guidance_scale": 0.0,
            "height": 1024,
            "width": 1024,
        },
        "source": (
            "https://huggingface.co/ByteDance/SDXL-Lightning: UNet2DConditionModel.from_config(base, subfolder='unet') with "
            "load_file(hf_hub_download('ByteDance/SDXL-Lightning', 'sdxl_lightning_4step_unet.safetensors')), "
            "StableDiffusionXLPipeline on SDXL base (float16, fp16), EulerDiscreteScheduler timestep_spacing='trailing', "
            "num_inference_steps=4, guidance_scale=0, 1024x1024."
        ),
    },
    {
        "slug": "hyper-sdxl-8step-lora",
        "name": "Hyper-SD 8-step LoRA on SDXL",
        "config": {
            "weights": SDXL_BASE,
            "pipeline_class": "StableDiffusionXLPipeline",
            "scheduler_class": "DDIMScheduler",
            "scheduler_config": {"timestep_spacing": "trailing"},
            "lora": {
                "weights": "ByteDance/Hyper-SD",
                "weight_name": "Hyper-SDXL-8steps-lora.safetensors",
                "adapter_name": "hyper-sd",
                "scale": 1.0,
                "fuse": True,
            },
            "dtype": "float16",
            "variant": "fp16",
            "steps": 8,
            "guidance_scale": 0.0,
            "height": 1024,
            "width": 1024,
        },
        "source": (
            "https://huggingface.co/ByteDance/Hyper-SD: SDXL base (float16, fp16), load_lora_weights of "
            "'Hyper-SDXL-8steps-lora.safetensors' then fuse_lora() (scale 1.0, the card's default), DDIMScheduler with "
            "timestep_spacing='trailing', num_inference_steps=8, guidance_scale=0, 1024x1024."
        ),
    },
    {
        "slug": "dmd2-sdxl-4step",
        "name": "DMD2 (4 steps)",
        "config": {
            "weights": SDXL_BASE,
            "pipeline_class": "StableDiffusionXLPipeline",
            "scheduler_class": "LCMScheduler",
            "component_overrides": {
                "unet": {
                    "class": "UNet2DConditionModel",
                    "weights": "tianweiy/DMD2",
                    "weight_name": "dmd2_sdxl_4step_unet_fp16.bin",
                }
            },
            "dtype": "float16",
            "variant": "fp16",
            "steps": 4,
            "guidance_scale": 0.0,
            "timesteps": [999, 749, 499, 249],
            "height": 1024,
            "width": 1024,
        },
        "source": (
            "https://huggingface.co/tianweiy/DMD2: UNet2DConditionModel.from_config(base, subfolder='unet') with "
            "torch.load(hf_hub_download('tianweiy/DMD2', 'dmd2_sdxl_4step_unet_fp16.bin')), SDXL base (float16, fp16), "
            "LCMScheduler, num_inference_steps=4, guidance_scale=0, timesteps=[999, 749, 499, 249], 1024x1024."
        ),
    },
    {
        "slug": "sdxl-base-50step",
        "name": "SDXL base (50 steps, teacher)",
        "config": {
            "weights": SDXL_BASE,
            "pipeline_class": "StableDiffusionXLPipeline",
            "scheduler_class": "EulerDiscreteScheduler",
            "dtype": "float16",
            "variant": "fp16",
            "steps": 50,
            "guidance_scale": 5.0,
            "height": 1024,
            "width": 1024,
        },
        "source": (
            "https://huggingface.co/stabilityai/stable-diffusion-xl-base-1.0: the repository's EulerDiscreteScheduler as "
            "shipped, float16 with variant fp16, and the StableDiffusionXLPipeline defaults the card relies on: "
            "num_inference_steps=50, guidance_scale=5.0, 1024x1024. The teacher of the distilled systems."
        ),
    },
    {
        "slug": "sdxl-dpmpp-8step",
        "name": "SDXL DPM-Solver++ (8 steps)",
        "config": {
            "weights": SDXL_BASE,
            "pipeline_class": "StableDiffusionXLPipeline",
            "scheduler_class": "DPMSolverMultistepScheduler",
            "scheduler_config": {"algorithm_type": "dpmsolver++", "solver_order": 2, "use_karras_sigmas": True},
            "dtype": "float16",
            "variant": "fp16",
            "steps": 8,
            "guidance_scale": 5.0,
            "height": 1024,
            "width": 1024,
        },
        "source": (
            "A training-free few-step baseline on the teacher: SDXL base (float16, fp16) with DPMSolverMultistepScheduler "
            "(algorithm_type='dpmsolver++', solver_order=2, Karras sigmas: 'DPM++ 2M Karras', diffusers scheduler docs, "
            "https://huggingface.co/docs/diffusers/api/schedulers/multistep_dpm_solver), 8 steps, and the teacher's "
            "guidance_scale=5.0, 1024x1024."
        ),
    },
)
