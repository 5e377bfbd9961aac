from django.contrib import admin

from .models import DisplayCopy, GenerationJob, Image, ModelSpec, Prompt, PromptSet


@admin.register(ModelSpec)
class ModelSpecAdmin(admin.ModelAdmin):
    list_display = ("slug", "version", "name", "pipeline_class", "scheduler_class", "steps", "guidance_scale", "width", "height", "dtype")
    list_filter = ("pipeline_class", "scheduler_class", "dtype")
    search_fields = ("slug", "name", "weights")
    readonly_fields = ("config_hash", "created_at")


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
