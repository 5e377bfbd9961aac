"""Serializers of the generation API: model specs (generated and external), their uploaded
images, and prompt sets. Validation of a spec's settings is the service's, not repeated here."""

from __future__ import annotations

from rest_framework import serializers

from ..models import ModelSpec, Prompt, PromptSet
from ..prompt_imports import FORMATS
from ..specs import CONFIG_FIELDS


class ModelSpecSerializer(serializers.ModelSerializer):
    images = serializers.IntegerField(read_only=True, source="image_count", help_text="Images made or uploaded with this spec.")

    class Meta:
        model = ModelSpec
        fields = ["id", "name", "slug", "version", "is_external", *CONFIG_FIELDS, "source", "config_hash", "images", "created_at"]
        read_only_fields = fields


class ModelSpecCreateSerializer(serializers.Serializer):
    """A generated system, described explicitly; settings left out take the defaults shown."""

    name = serializers.CharField(max_length=200)
    slug = serializers.SlugField(max_length=200, help_text="Creating a slug that exists makes its next version.")
    source = serializers.CharField(required=False, allow_blank=True, default="", help_text="Model card or paper the settings come from.")
    weights = serializers.CharField(max_length=500, help_text="Hugging Face hub id (org/name) or a local directory on the workers.")
    pipeline_class = serializers.CharField(max_length=100, help_text="diffusers pipeline class, e.g. StableDiffusionXLPipeline.")
    scheduler_class = serializers.CharField(max_length=100, required=False, allow_blank=True)
    scheduler_config = serializers.JSONField(required=False)
    lora = serializers.JSONField(required=False, allow_null=True)
    component_overrides = serializers.JSONField(required=False)
    dtype = serializers.ChoiceField(choices=ModelSpec.DType.choices, required=False)
    variant = serializers.CharField(max_length=20, required=False, allow_blank=True)
    revision = serializers.CharField(
        max_length=100, required=False, allow_blank=True,
        help_text="Hub revision of the base weights (a commit hash, tag or branch); empty means main. Component overrides and a LoRA take their own \"revision\" key.",
    )
    steps = serializers.IntegerField()
    guidance_scale = serializers.FloatField(required=False)
    height = serializers.IntegerField(required=False)
    width = serializers.IntegerField(required=False)
    timesteps = serializers.ListField(child=serializers.IntegerField(), required=False, allow_null=True)
    extra_call_kwargs = serializers.JSONField(required=False)


class ExternalSpecCreateSerializer(serializers.Serializer):
    """A system whose images are uploaded (e.g. Midjourney v6, DALL-E 3)."""

    name = serializers.CharField(max_length=200)
    slug = serializers.SlugField(max_length=200)
    width = serializers.IntegerField(min_value=1, help_text="Width in pixels of every uploaded image.")
    height = serializers.IntegerField(min_value=1, help_text="Height in pixels of every uploaded image.")
    source = serializers.CharField(required=False, allow_blank=True, default="", help_text="How the images were obtained.")


class ExternalImagesUploadSerializer(serializers.Serializer):
    prompt_set = serializers.PrimaryKeyRelatedField(queryset=PromptSet.objects.all())
    seeds = serializers.ListField(child=serializers.IntegerField(), min_length=1, help_text="Seeds covered; repeat the field per seed.")
    file = serializers.FileField(
        help_text="A zip holding one image per prompt x seed, named <prompt position>_<seed>.png (or .jpg, .webp)."
    )
    latency_s = serializers.FloatField(required=False, default=0.0, min_value=0.0, help_text="Reported seconds per image; 0 = unknown.")


class ExternalImagesReportSerializer(serializers.Serializer):
    spec = serializers.IntegerField()
    prompt_set = serializers.IntegerField()
    seeds = serializers.ListField(child=serializers.IntegerField())
    images = serializers.IntegerField(help_text="Images imported.")


class PromptSerializer(serializers.ModelSerializer):
    class Meta:
        model = Prompt
        fields = ["id", "position", "text", "category", "challenge", "source_id"]


class PromptSetSerializer(serializers.ModelSerializer):
    prompts = serializers.IntegerField(read_only=True, source="prompt_count")

    class Meta:
        model = PromptSet
        fields = ["id", "name", "source", "prompts", "created_at"]


class PromptSetUploadSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    file = serializers.FileField(help_text="PartiPrompts TSV, DrawBench CSV, plain text (one prompt a line) or JSON lines.")
    format = serializers.ChoiceField(choices=list(FORMATS), required=False, help_text="Guessed from the file name when left out.")
    strict = serializers.BooleanField(required=False, default=False, help_text="Save nothing if any row is refused.")


class RefusedRowSerializer(serializers.Serializer):
    line = serializers.IntegerField()
    reason = serializers.CharField()


class PromptSetReportSerializer(serializers.Serializer):
    prompt_set = PromptSetSerializer()
    format = serializers.CharField()
    taken = serializers.IntegerField(help_text="Rows saved as prompts.")
    refused = RefusedRowSerializer(many=True, help_text="Rows left out, with the line number and why.")
