"""What is generated and how: model specs, prompt sets, jobs and images.

This app knows nothing of studies: a study (in ``ratings``) owns a ``GenerationJob``.
"""

import uuid

from django.conf import settings
from django.db import models

OWNER_HELP = "The researcher who made it; empty for system-owned (presets, the tiny family, command-line installs), which every researcher may use and nobody edits through the API."
SHARED_HELP = "Researchers who may use it besides its owner."


class ModelSpec(models.Model):
    """One system under test, described explicitly: nothing is inferred from a model's name.

    A spec with images is immutable (``generation.specs.model_spec_update`` makes a new
    version instead); its ``config_hash`` is stored on every image it made.
    """

    class DType(models.TextChoices):
        FLOAT32 = "float32", "float32"
        FLOAT16 = "float16", "float16"
        BFLOAT16 = "bfloat16", "bfloat16"

    name = models.CharField(max_length=200, help_text="Human-readable name shown to researchers, never to raters.")
    slug = models.SlugField(max_length=200, help_text="Stable identifier used by the API and the command line.")
    version = models.PositiveIntegerField(default=1)
    weights = models.CharField(max_length=500, help_text="Hugging Face hub id or a local directory.")
    pipeline_class = models.CharField(max_length=100, help_text="diffusers pipeline class, e.g. StableDiffusionXLPipeline.")
    scheduler_class = models.CharField(max_length=100, blank=True, help_text="diffusers scheduler class; empty keeps the pipeline's own.")
    scheduler_config = models.JSONField(default=dict, blank=True, help_text='Scheduler config overrides, e.g. {"timestep_spacing": "trailing"}.')
    lora = models.JSONField(null=True, blank=True, help_text='Optional LoRA: {"weights", "weight_name", "adapter_name", "scale", "fuse"}.')
    component_overrides = models.JSONField(default=dict, blank=True, help_text='Components replacing the base pipeline\'s, e.g. {"unet": {"class": "UNet2DConditionModel", "weights": "...", "weight_name": "..."}}.')
    dtype = models.CharField(max_length=10, choices=DType.choices, default=DType.FLOAT32)
    variant = models.CharField(max_length=20, blank=True, help_text='Weight file variant, e.g. "fp16".')
    revision = models.CharField(
        max_length=100, blank=True,
        help_text="Hub revision of the base weights (commit hash, tag or branch); empty means main. Each image records the commit it resolved to.",
    )
    steps = models.PositiveIntegerField(help_text="Number of sampling steps.")
    guidance_scale = models.FloatField(default=0.0)
    height = models.PositiveIntegerField(default=512)
    width = models.PositiveIntegerField(default=512)
    timesteps = models.JSONField(null=True, blank=True, help_text="Explicit timesteps, e.g. [999, 749, 499, 249].")
    extra_call_kwargs = models.JSONField(default=dict, blank=True, help_text="Extra keyword arguments for the pipeline call.")
    source = models.TextField(blank=True, help_text="Where these settings come from (model card, paper).")
    is_external = models.BooleanField(
        default=False, help_text="A system whose images are uploaded (e.g. Midjourney, DALL-E 3), never generated here."
    )
    config_hash = models.CharField(max_length=64, editable=False, help_text="SHA-256 of every setting that shapes an image.")
    # A deleted researcher must not turn their specs into system-owned (visible to all) ones.
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="model_specs", help_text=OWNER_HELP)
    shared_with = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="shared_model_specs", help_text=SHARED_HELP)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug", "version"]
        constraints = [models.UniqueConstraint(fields=["slug", "version"], name="modelspec_unique_slug_version")]

    def __str__(self) -> str:
        return f"{self.name} (v{self.version})" if self.version > 1 else self.name


class PromptSet(models.Model):
    name = models.CharField(max_length=200)
    source = models.CharField(max_length=50, blank=True, help_text="Format it was imported from, e.g. partiprompts.")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="prompt_sets", help_text=OWNER_HELP)
    shared_with = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="shared_prompt_sets", help_text=SHARED_HELP)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class Prompt(models.Model):
    prompt_set = models.ForeignKey(PromptSet, on_delete=models.CASCADE, related_name="prompts")
    position = models.PositiveIntegerField()
    text = models.TextField()
    category = models.CharField(max_length=100, blank=True)
    challenge = models.CharField(max_length=100, blank=True)
    source_id = models.CharField(max_length=100, blank=True, help_text="The prompt's id in its source, if it has one.")

    class Meta:
        ordering = ["prompt_set", "position"]
        constraints = [models.UniqueConstraint(fields=["prompt_set", "position"], name="prompt_unique_position")]

    def __str__(self) -> str:
        return self.text[:80]


class GenerationJob(models.Model):
    """A set of spec x prompt x seed to make, with its progress."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        DONE = "done", "Done"

    specs = models.ManyToManyField(ModelSpec, related_name="jobs")
    prompt_set = models.ForeignKey(PromptSet, on_delete=models.PROTECT, related_name="jobs")
    seeds = models.JSONField(help_text="The seeds every model gets, e.g. [0, 1].")
    display_size = models.PositiveIntegerField(default=512, help_text="Width in pixels of the display copies made for raters.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Job {self.pk} ({self.prompt_set})"


class Image(models.Model):
    """One generated image: spec x prompt x seed, unique, with everything that shaped it."""

    spec = models.ForeignKey(ModelSpec, on_delete=models.PROTECT, related_name="images")
    prompt = models.ForeignKey(Prompt, on_delete=models.PROTECT, related_name="images")
    seed = models.BigIntegerField()
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, help_text="Opaque id used in rater-facing URLs.")
    file = models.FileField(max_length=300)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    config_hash = models.CharField(max_length=64)
    latency_s = models.FloatField(help_text="Seconds per image: batch wall time / batch size, excluding load and warm-up.")
    batch_size = models.PositiveIntegerField()
    device = models.CharField(max_length=50)
    gpu_name = models.CharField(max_length=200, blank=True)
    torch_version = models.CharField(max_length=50)
    diffusers_version = models.CharField(max_length=50)
    weights_revisions = models.JSONField(
        default=dict, blank=True,
        help_text='Hub snapshot commit of every weight used, e.g. {"weights": {"repo": "stabilityai/sdxl-turbo", "revision": "main", "commit": "..."}, "unet": {...}, "lora": {...}}; local weights are absent.',
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["spec", "prompt", "seed"], name="image_unique_spec_prompt_seed")]

    def __str__(self) -> str:
        return f"{self.spec.slug} / prompt {self.prompt_id} / seed {self.seed}"


class DisplayCopy(models.Model):
    """An image resized for raters: every image of a study is shown at one size and format."""

    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="display_copies")
    size = models.PositiveIntegerField(help_text="Width in pixels.")
    file = models.FileField(max_length=300)

    class Meta:
        verbose_name_plural = "display copies"
        constraints = [models.UniqueConstraint(fields=["image", "size"], name="displaycopy_unique_size")]


class GenerationBatch(models.Model):
    """One queued generation task (one spec x prompt/seed pairs), tracked in the database.

    The row, not the broker, says whether a batch is in flight: a worker claims it
    (``running``), refreshes ``heartbeat_at`` while it samples and writes, and marks it ``done``
    once its images are committed. A ``running`` row whose heartbeat is older than the lease
    belongs to a dead worker, so reconciliation re-queues its missing images at once instead of
    waiting for the broker's visibility timeout.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        SUPERSEDED = "superseded", "Superseded by a re-queued batch"
        ABANDONED = "abandoned", "Abandoned after too many attempts"

    job = models.ForeignKey(GenerationJob, on_delete=models.CASCADE, related_name="batches")
    spec = models.ForeignKey(ModelSpec, on_delete=models.PROTECT, related_name="batches")
    items = models.JSONField(help_text="[[prompt id, seed], ...] in sampling order.")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    attempt = models.PositiveIntegerField(default=1)
    queued_at = models.DateTimeField(auto_now_add=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=200, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        verbose_name_plural = "generation batches"
        indexes = [models.Index(fields=["job", "status"], name="batch_job_status")]

    def __str__(self) -> str:
        return f"Batch {self.pk} of job {self.job_id} ({self.status}, {len(self.items)} images)"


class SpeedMeasurement(models.Model):
    """Batch-1 latency of one spec on one device: warm-up excluded, median and spread of N runs."""

    spec = models.ForeignKey(ModelSpec, on_delete=models.CASCADE, related_name="speed_measurements")
    device = models.CharField(max_length=50)
    gpu_name = models.CharField(max_length=200, blank=True)
    runs = models.PositiveIntegerField()
    warmup_runs = models.PositiveIntegerField()
    median_s = models.FloatField()
    p10_s = models.FloatField()
    p90_s = models.FloatField()
    height = models.PositiveIntegerField()
    width = models.PositiveIntegerField()
    torch_version = models.CharField(max_length=50)
    diffusers_version = models.CharField(max_length=50)
    measured_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-measured_at"]

    def __str__(self) -> str:
        return f"{self.spec}: {self.median_s:.3f} s/image on {self.gpu_name or self.device}"


class ImageMetric(models.Model):
    """One automated metric's value for one image (CLIP score, PickScore), with the scoring
    weights that gave it: the same image scored by other weights is another row."""

    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="metrics")
    metric = models.CharField(max_length=50, help_text="Which metric, e.g. clip_score or pickscore (generation.metrics.METRICS).")
    weights = models.CharField(max_length=500, help_text="The scoring model's hub id or local directory, as the setting named it.")
    weights_revision = models.CharField(
        max_length=100, blank=True,
        help_text='Hub snapshot commit of the weights, or "sha256:..." of a local directory\'s weight files.',
    )
    library_version = models.CharField(max_length=100, help_text='e.g. "transformers 4.46.0, torch 2.5.1".')
    device = models.CharField(max_length=50)
    value = models.FloatField()
    computed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["image", "metric", "weights", "weights_revision"], name="imagemetric_unique_image_metric_weights"),
        ]
        indexes = [models.Index(fields=["metric", "weights"], name="imagemetric_metric_weights")]

    def __str__(self) -> str:
        return f"{self.metric} of image {self.image_id}: {self.value:.4g}"
