"""The admin of the generation app: every model with useful columns, filters and search.
Specs are created and edited through the services: a spec with images is never edited in place,
an edit makes a new version."""

from django import forms
from django.contrib import admin, messages
from django.db.models import Count
from django.core.exceptions import ValidationError

from .models import DisplayCopy, GenerationBatch, GenerationJob, Image, ImageMetric, ModelSpec, Prompt, PromptSet, SpeedMeasurement
from .selectors import job_progress
from .configs import CONFIG_FIELDS, SPEC_DEFAULTS, validate_config
from .specs import model_spec_create, model_spec_sweep, model_spec_update, spec_speeds_queue


def _numbers(text: str, kind, what: str) -> list:
    values = []
    for part in text.replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        try:
            values.append(kind(part))
        except ValueError:
            raise forms.ValidationError(f"'{part}' is not a {what}; separate values with commas, e.g. 1, 2, 4, 8.") from None
    return values


class SweepForm(forms.Form):
    steps = forms.CharField(help_text="Step counts separated by commas, e.g. 1, 2, 4, 8.")
    guidance_scales = forms.CharField(required=False, help_text="Guidance scales separated by commas (empty: each spec's own).")
    measure_speed = forms.BooleanField(required=False, initial=True, help_text="Queue a speed measurement on the gpu queue for each new version.")

    def clean_steps(self):
        values = _numbers(self.cleaned_data["steps"], int, "whole number of steps")
        if not values:
            raise forms.ValidationError("Give at least one step count.")
        return values

    def clean_guidance_scales(self):
        return _numbers(self.cleaned_data["guidance_scales"], float, "number") or None


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
    list_display = ("slug", "version", "name", "is_external", "pipeline_class", "scheduler_class", "steps", "guidance_scale", "size", "dtype", "image_count", "created_at")
    list_filter = ("is_external", "pipeline_class", "scheduler_class", "dtype", "steps")
    search_fields = ("slug", "name", "weights", "source", "config_hash")
    readonly_fields = ("version", "config_hash", "created_at")
    actions = ["sweep_steps"]

    @admin.action(description="Make versions of the selected specs at other step counts (a step sweep)")
    def sweep_steps(self, request, queryset):
        from django.template.response import TemplateResponse

        form = SweepForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            made = queued = 0
            for spec in queryset:
                try:
                    versions = model_spec_sweep(spec=spec, steps=form.cleaned_data["steps"], guidance_scales=form.cleaned_data["guidance_scales"])
                except ValidationError as error:
                    self.message_user(request, f"{spec}: {' '.join(m for ms in error.message_dict.values() for m in ms)}", messages.ERROR)
                    continue
                made += sum(created for _, created in versions)
                if form.cleaned_data["measure_speed"]:
                    queued += spec_speeds_queue(specs=[version for version, _ in versions])
            self.message_user(request, f"{made} new version(s) made; {queued} speed measurement(s) queued on the gpu queue.")
            return None
        context = {**self.admin_site.each_context(request), "title": "Step sweep", "form": form, "specs": list(queryset), "opts": self.model._meta}
        return TemplateResponse(request, "admin/generation/modelspec/sweep.html", context)

    def save_model(self, request, obj, form, change):
        # Through the services: a spec with images is never edited in place, a change makes a new version.
        values = {field: form.cleaned_data[field] for field in form.Meta.fields if field in form.cleaned_data}
        values["scheduler_config"] = values.get("scheduler_config") or {}
        values["component_overrides"] = values.get("component_overrides") or {}
        values["extra_call_kwargs"] = values.get("extra_call_kwargs") or {}
        if not change:
            saved = model_spec_create(**values)
        else:
            original = ModelSpec.objects.get(pk=obj.pk)
            saved = model_spec_update(spec=original, **{k: v for k, v in values.items() if k != "slug"})
            if saved.pk != original.pk:
                messages.info(request, f"{original} has images, so it was left unchanged and the edit was saved as version {saved.version}.")
        obj.pk, obj.version, obj.config_hash = saved.pk, saved.version, saved.config_hash
        obj.refresh_from_db()

    def get_readonly_fields(self, request, obj=None):
        # The slug names a line of versions; changing it would orphan them.
        return (*self.readonly_fields, "slug") if obj is not None else self.readonly_fields

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(image_count=Count("images"))

    @admin.display(description="size")
    def size(self, spec):
        return f"{spec.width}x{spec.height}"

    @admin.display(description="images", ordering="image_count")
    def image_count(self, spec):
        return spec.image_count


@admin.register(PromptSet)
class PromptSetAdmin(admin.ModelAdmin):
    list_display = ("name", "source", "prompt_count", "created_at")
    list_filter = ("source",)
    search_fields = ("name",)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(prompt_count=Count("prompts"))

    @admin.display(description="prompts", ordering="prompt_count")
    def prompt_count(self, prompt_set):
        return prompt_set.prompt_count


@admin.register(Prompt)
class PromptAdmin(admin.ModelAdmin):
    list_display = ("text", "prompt_set", "position", "category", "challenge", "source_id")
    list_filter = ("prompt_set", "category", "challenge")
    search_fields = ("text", "source_id")
    list_select_related = ("prompt_set",)


@admin.register(GenerationJob)
class GenerationJobAdmin(admin.ModelAdmin):
    list_display = ("pk", "prompt_set", "status", "images_made", "seeds", "display_size", "created_at", "started_at", "finished_at")
    list_filter = ("status",)
    search_fields = ("prompt_set__name", "study__name")
    list_select_related = ("prompt_set",)
    readonly_fields = ("created_at", "started_at", "finished_at")

    @admin.display(description="images made")
    def images_made(self, job):
        progress = job_progress(job=job)
        return f"{progress['done']} / {progress['total']}"


@admin.register(Image)
class ImageAdmin(admin.ModelAdmin):
    list_display = ("pk", "spec", "prompt", "seed", "width", "height", "latency_s", "batch_size", "device", "gpu_name", "created_at")
    list_filter = ("spec__is_external", "spec", "device", "gpu_name")
    search_fields = ("prompt__text", "config_hash", "=public_id", "spec__slug")
    list_select_related = ("spec", "prompt")
    readonly_fields = [f.name for f in Image._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(DisplayCopy)
class DisplayCopyAdmin(admin.ModelAdmin):
    list_display = ("pk", "image", "size", "file")
    list_filter = ("size",)
    list_select_related = ("image__spec", "image__prompt")
    readonly_fields = ("image", "size", "file")

    def has_add_permission(self, request):
        return False

@admin.register(GenerationBatch)
class GenerationBatchAdmin(admin.ModelAdmin):
    list_display = ("pk", "job", "spec", "status", "attempt", "queued_at", "heartbeat_at", "worker")
    list_filter = ("status",)
    readonly_fields = [f.name for f in GenerationBatch._meta.fields]


@admin.register(SpeedMeasurement)
class SpeedMeasurementAdmin(admin.ModelAdmin):
    list_display = ("spec", "median_s", "p10_s", "p90_s", "runs", "device", "gpu_name", "measured_at")
    readonly_fields = [f.name for f in SpeedMeasurement._meta.fields]


@admin.register(ImageMetric)
class ImageMetricAdmin(admin.ModelAdmin):
    """Read-only: values are written by the metric tasks (generation.metrics), one row per weights."""

    list_display = ("pk", "image", "metric", "value", "weights", "weights_revision", "library_version", "device", "computed_at")
    list_filter = ("metric", "weights", "device")
    search_fields = ("=image__pk", "weights", "image__spec__slug")
    list_select_related = ("image__spec", "image__prompt")
    readonly_fields = [f.name for f in ImageMetric._meta.fields]

    def has_add_permission(self, request):
        return False
