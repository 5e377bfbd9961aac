"""Serializers of the generation API: model specs (generated and external), their uploaded
images, and prompt sets. Validation of a spec's settings is the service's, not repeated here."""

from __future__ import annotations

from pathlib import PurePosixPath

from django.contrib.auth import get_user_model
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from common.api import is_researcher

from ..models import ModelSpec, Prompt, PromptSet
from ..builtin_prompts import BUILTIN_PROMPT_SETS
from ..prompt_imports import FORMATS
from ..selectors import prompt_sets_usable_by
from ..configs import CONFIG_FIELDS


def _local_path_hidden(value):
    """A local weights path shown as ``local:<its last part>``: where files lie on the server is
    for the operator and the spec's owner, not for every researcher."""
    if isinstance(value, str) and PurePosixPath(value).is_absolute():
        return f"local:{PurePosixPath(value).name}"
    return value


class ModelSpecSerializer(serializers.ModelSerializer):
    """A spec; its local weights paths (base, LoRA, components) are shown in full only to its owner
    and staff (``context["request"]``), as ``local:<directory name>`` to everyone else."""

    images = serializers.IntegerField(read_only=True, source="image_count", help_text="Images made or uploaded with this spec.")
    owner = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True, help_text="null for system-owned specs (presets).")

    class Meta:
        model = ModelSpec
        fields = ["id", "name", "slug", "version", "owner", "is_external", *CONFIG_FIELDS, "source", "config_hash", "images", "created_at"]
        read_only_fields = fields

    def to_representation(self, spec):
        data = super().to_representation(spec)
        request = self.context.get("request")
        user = getattr(request, "user", None)
        if user is not None and (user.is_staff or (spec.owner_id is not None and spec.owner_id == user.pk)):
            return data
        data["weights"] = _local_path_hidden(data["weights"])
        if isinstance(data.get("lora"), dict):
            data["lora"] = {**data["lora"], "weights": _local_path_hidden(data["lora"].get("weights"))}
        if isinstance(data.get("component_overrides"), dict):
            data["component_overrides"] = {
                name: {key: _local_path_hidden(value) if key in ("weights", "config") else value for key, value in override.items()}
                if isinstance(override, dict) else override
                for name, override in data["component_overrides"].items()
            }
        return data


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


class SpecSweepSerializer(serializers.Serializer):
    """Versions of a spec at several step counts (and guidance scales), everything else unchanged."""

    steps = serializers.ListField(
        child=serializers.IntegerField(), min_length=1, max_length=64,
        help_text="Step counts, e.g. [1, 2, 4, 8]; each becomes a version of the spec's slug (one that exists is reused).",
    )
    guidance_scales = serializers.ListField(
        child=serializers.FloatField(), min_length=1, max_length=64, required=False,
        help_text="Guidance scales to cross with the step counts (default: the spec's own).",
    )
    measure_speed = serializers.BooleanField(
        default=True, help_text="Queue a batch-1 speed measurement on the gpu queue for each version that has none.",
    )
    runs = serializers.IntegerField(default=10, min_value=1, max_value=100, help_text="Timed runs per measurement.")
    warmup = serializers.IntegerField(default=2, min_value=0, max_value=20, help_text="Untimed warm-up runs per measurement.")


class SpecSweepVersionSerializer(ModelSpecSerializer):
    created = serializers.BooleanField(read_only=True, help_text="False: this version existed already and is reused.")

    class Meta(ModelSpecSerializer.Meta):
        fields = [*ModelSpecSerializer.Meta.fields, "created"]
        read_only_fields = fields


class SpecSweepResultSerializer(serializers.Serializer):
    versions = SpecSweepVersionSerializer(many=True)
    speed_measurements_queued = serializers.IntegerField(help_text="Versions whose speed is being measured on a GPU worker.")


class ExternalSpecCreateSerializer(serializers.Serializer):
    """A system whose images are uploaded (e.g. Midjourney v6, DALL-E 3)."""

    name = serializers.CharField(max_length=200)
    slug = serializers.SlugField(max_length=200)
    width = serializers.IntegerField(min_value=1, help_text="Width in pixels of every uploaded image.")
    height = serializers.IntegerField(min_value=1, help_text="Height in pixels of every uploaded image.")
    source = serializers.CharField(required=False, allow_blank=True, default="", help_text="How the images were obtained.")


@extend_schema_field(OpenApiTypes.INT)
class UsablePromptSetField(serializers.PrimaryKeyRelatedField):
    """A prompt set the requesting researcher may use (theirs, shared with them, or system-owned)."""

    def get_queryset(self):
        request = self.context.get("request")
        return prompt_sets_usable_by(user=request.user) if request is not None else PromptSet.objects.none()


class ExternalImagesUploadSerializer(serializers.Serializer):
    prompt_set = UsablePromptSetField()
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
    owner = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True, help_text="null for system-owned prompt sets.")

    class Meta:
        model = PromptSet
        fields = ["id", "name", "source", "owner", "prompts", "created_at"]


class ShareSerializer(serializers.Serializer):
    """Whom to share with: researchers' usernames. An unknown name and a rater's account get one
    answer, so the form tells nobody which usernames exist. Removing takes the names it is shared
    with (``context["shared_with"]``, the thing's users), which the owner already sees."""

    usernames = serializers.ListField(child=serializers.CharField(max_length=150), min_length=1, max_length=100)
    remove = serializers.BooleanField(default=False, help_text="Stop sharing with these researchers instead.")

    def validate(self, attrs):
        names = list(dict.fromkeys(attrs["usernames"]))
        if attrs["remove"]:
            shared = self.context.get("shared_with")
            users = list(shared.filter(username__in=names)) if shared is not None else []
            missing = [name for name in names if name not in {user.username for user in users}]
            if missing:
                raise serializers.ValidationError({"usernames": [f"It is not shared with '{name}'." for name in missing]})
        else:
            candidates = get_user_model().objects.filter(username__in=names, is_active=True)
            users = [user for user in candidates if is_researcher(user)]
            refused = [name for name in names if name not in {user.username for user in users}]
            if refused:
                raise serializers.ValidationError({"usernames": [
                    f"No researcher named '{name}': share only with researchers' usernames (an unknown name and a "
                    "rater's account get this same answer)." for name in refused
                ]})
        return {**attrs, "usernames": users}


class SharedWithSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    shared_with = serializers.ListField(child=serializers.CharField(), help_text="Usernames it is shared with.")


class PromptSetUploadSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False, help_text="Required with a file; a built-in set's own name by default.")
    file = serializers.FileField(
        required=False, help_text="PartiPrompts TSV, DrawBench CSV, plain text (one prompt a line) or JSON lines."
    )
    builtin = serializers.ChoiceField(
        choices=sorted(BUILTIN_PROMPT_SETS), required=False,
        error_messages={"invalid_choice": f'"{{input}}" is not a built-in prompt set; known: {", ".join(sorted(BUILTIN_PROMPT_SETS))}.'},
        help_text="Instead of a file: a prompt set that ships with the project (partiprompts: PartiPrompts, Apache-2.0).",
    )
    format = serializers.ChoiceField(choices=list(FORMATS), required=False, help_text="Guessed from the file name when left out.")
    strict = serializers.BooleanField(required=False, default=False, help_text="Save nothing if any row is refused.")

    def validate(self, attrs):
        if ("file" in attrs) == ("builtin" in attrs):
            raise serializers.ValidationError({"file": ["Give either a file or builtin (e.g. \"partiprompts\"), not both or neither."]})
        if "file" in attrs and not attrs.get("name"):
            raise serializers.ValidationError({"name": ["Give the new prompt set's name."]})
        return attrs


class RefusedRowSerializer(serializers.Serializer):
    line = serializers.IntegerField()
    reason = serializers.CharField()


class PromptSetReportSerializer(serializers.Serializer):
    prompt_set = PromptSetSerializer()
    format = serializers.CharField()
    taken = serializers.IntegerField(help_text="Rows saved as prompts.")
    refused = RefusedRowSerializer(many=True, help_text="Rows left out, with the line number and why.")
