"""The diffusers classes a spec may name, with the size factor each pipeline requires.

A static list, so that validating a spec never imports diffusers in the web process; a test
checks that every name here exists in the installed diffusers.
"""

# Image sides must be a multiple of this (the VAE's scale factor times the latent patch size).
PIPELINE_SIZE_FACTORS: dict[str, int] = {
    "StableDiffusionPipeline": 8,
    "StableDiffusionXLPipeline": 8,
    "LatentConsistencyModelPipeline": 8,
    "StableDiffusion3Pipeline": 16,
    "FluxPipeline": 16,
    "PixArtSigmaPipeline": 8,
    "SanaPipeline": 32,
}

SCHEDULER_CLASSES: frozenset[str] = frozenset(
    {
        "DDIMScheduler",
        "DDPMScheduler",
        "DPMSolverMultistepScheduler",
        "DPMSolverSinglestepScheduler",
        "EulerAncestralDiscreteScheduler",
        "EulerDiscreteScheduler",
        "FlowMatchEulerDiscreteScheduler",
        "HeunDiscreteScheduler",
        "LCMScheduler",
        "PNDMScheduler",
        "TCDScheduler",
        "UniPCMultistepScheduler",
    }
)

COMPONENT_CLASSES: frozenset[str] = frozenset(
    {"UNet2DConditionModel", "SD3Transformer2DModel", "FluxTransformer2DModel", "AutoencoderKL"}
)

# The largest image side a spec or an uploaded image may have (SD3.5 and SDXL top out at
# about 1536; 4096 leaves room without letting a typo allocate a terabyte).
MAX_IMAGE_SIDE = 4096

# More sampling steps than any scheduler's training schedule has (1000) is a mistake.
MAX_STEPS = 1000

# Pipeline call arguments the spec's validated fields (or the worker) set: extra_call_kwargs
# may not override them (an 8x8200 image through "height"/"width", another batch size...).
SHADOWED_CALL_KWARGS = frozenset({
    "prompt", "prompt_2", "prompt_3", "negative_prompt", "negative_prompt_2", "negative_prompt_3",
    "prompt_embeds", "negative_prompt_embeds", "pooled_prompt_embeds", "negative_pooled_prompt_embeds",
    "num_inference_steps", "timesteps", "sigmas", "guidance_scale", "height", "width", "generator", "latents",
    "num_images_per_prompt", "output_type", "return_dict", "callback", "callback_on_step_end", "callback_steps",
})
