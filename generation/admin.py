from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from . import services
from .models import DisplayCopy, GenerationBatch, GenerationJob, Image, ModelSpec, Prompt, PromptSet, SpeedMeasurement
from .services import SPEC_DEFAULTS
from .specs import CONFIG_FIELDS, validate_config


class ModelSpecForm(forms.ModelForm):
    """Runs the same validation as the API and the command line (``validate_config``)."""

    class Meta:
        model = ModelSpec
        fields = ["name", "slug", "source", *CONFIG_FIELDS]

    def clean(self):
        cleaned = super().clean()
        config = {**SPEC_DEFAULTS, **{field: cleaned.get(field) for field in CONFIG_FIELDS if field in cleaned}}
        for field in ("scheduler_class", "variant"):
            config[field] = config[field] or ""
        for field in ("scheduler_config", "component_overrides", "extra_call_kwargs"):
            config[field] = config[field] if config[field] is not None else {}
        try:
            validate_config(config)
        except ValidationError as error:
            for field, messages in error.message_dict.items():
                self.add_error(field if field in self.fields else None, messages)
        return cleaned

    def validate_unique(self):
        # The service numbers versions: a slug that exists gets its next version, not an error.
        pass


@admin.register(ModelSpec)
class ModelSpecAdmin(admin.ModelAdmin):
    form = ModelSpecForm
    list_display = ("slug", "version", "name", "pipeline_class", "scheduler_class", "steps", "guidance_scale", "width", "height", "dtype")
    list_filter = ("pipeline_class", "scheduler_class", "dtype")
    search_fields = ("slug", "name", "weights")
    readonly_fields = ("version", "config_hash", "created_at")

    def save_model(self, request, obj, form, change):
        # Through the services: a spec with images is never edited in place, a change makes a new version.
        values = {field: form.cleaned_data[field] for field in form.Meta.fields if field in form.cleaned_data}
        values["scheduler_config"] = values.get("scheduler_config") or {}
        values["component_overrides"] = values.get("component_overrides") or {}
        values["extra_call_kwargs"] = values.get("extra_call_kwargs") or {}
        if not change:
            saved = services.model_spec_create(**values)
        else:
            original = ModelSpec.objects.get(pk=obj.pk)
            saved = services.model_spec_update(spec=original, **{k: v for k, v in values.items() if k != "slug"})
            if saved.pk != original.pk:
                messages.info(request, f"{original} has images, so it was left unchanged and the edit was saved as version {saved.version}.")
        obj.pk, obj.version, obj.config_hash = saved.pk, saved.version, saved.config_hash
        obj.refresh_from_db()

    def get_readonly_fields(self, request, obj=None):
        # The slug names a line of versions; changing it would orphan them.
        return (*self.readonly_fields, "slug") if obj is not None else self.readonly_fields


@admin.register(PromptSet)
class PromptSetAdmin(admin.ModelAdmin):
    list_display = ("name", "source", "created_at")


@admin.register(Prompt)
class PromptAdmin(admin.ModelAdmin):
    list_display = ("text", "prompt_set", "category", "challenge")
    list_filter = ("prompt_set", "category", "challenge")
    search_fields = ("text",)


@admin.register(GenerationJob)
class GenerationJobAdmin(admin.ModelAdmin):
    list_display = ("pk", "prompt_set", "status", "created_at", "finished_at")
    list_filter = ("status",)


@admin.register(Image)
class ImageAdmin(admin.ModelAdmin):
    list_display = ("pk", "spec", "prompt", "seed", "latency_s", "batch_size", "device", "created_at")
    list_filter = ("spec", "device")
    readonly_fields = [f.name for f in Image._meta.fields]


admin.site.register(DisplayCopy)


@admin.register(GenerationBatch)
class GenerationBatchAdmin(admin.ModelAdmin):
    list_display = ("pk", "job", "spec", "status", "attempt", "queued_at", "heartbeat_at", "worker")
    list_filter = ("status",)
    readonly_fields = [f.name for f in GenerationBatch._meta.fields]


@admin.register(SpeedMeasurement)
class SpeedMeasurementAdmin(admin.ModelAdmin):
    list_display = ("spec", "median_s", "p10_s", "p90_s", "runs", "device", "gpu_name", "measured_at")
    readonly_fields = [f.name for f in SpeedMeasurement._meta.fields]
