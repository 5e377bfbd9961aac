"""The admin of the generation app: every model with useful columns, filters and search.
A spec that has images is shown read-only: its settings shaped images already made."""

from django.contrib import admin
from django.db.models import Count

from .models import DisplayCopy, GenerationJob, Image, ModelSpec, Prompt, PromptSet
from .selectors import job_progress
from .specs import CONFIG_FIELDS


@admin.register(ModelSpec)
class ModelSpecAdmin(admin.ModelAdmin):
    list_display = ("slug", "version", "name", "is_external", "pipeline_class", "scheduler_class", "steps", "guidance_scale", "size", "dtype", "image_count", "created_at")
    list_filter = ("is_external", "pipeline_class", "scheduler_class", "dtype", "steps")
    search_fields = ("slug", "name", "weights", "source", "config_hash")
    readonly_fields = ("config_hash", "created_at")

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(image_count=Count("images"))

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.images.exists():
            return ("name", "slug", "version", "is_external", *CONFIG_FIELDS, "source", "config_hash", "created_at")
        return self.readonly_fields

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
