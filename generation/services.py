"""Writes of the generation app: specs, prompt sets, jobs and images."""

from __future__ import annotations

import io
import logging
import uuid
from collections.abc import Iterable, Sequence

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.utils import timezone

from . import selectors
from .models import DisplayCopy, GenerationJob, Image, ModelSpec, Prompt, PromptSet
from .specs import CONFIG_FIELDS, config_hash, spec_config, validate_config

logger = logging.getLogger(__name__)

SPEC_DEFAULTS = {
    "scheduler_class": "",
    "scheduler_config": {},
    "lora": None,
    "component_overrides": {},
    "dtype": "float32",
    "variant": "",
    "guidance_scale": 0.0,
    "height": 512,
    "width": 512,
    "timesteps": None,
    "extra_call_kwargs": {},
}


def model_spec_create(*, name: str, slug: str, source: str = "", **config) -> ModelSpec:
    """Validate a spec's config (raising ``ValidationError``, saving nothing) and create it."""
    unknown = set(config) - set(CONFIG_FIELDS)
    if unknown:
        from django.core.exceptions import ValidationError

        raise ValidationError({field: "Not a model spec setting." for field in sorted(unknown)})
    full = {**SPEC_DEFAULTS, **config}
    validate_config(full)
    with transaction.atomic():
        latest = ModelSpec.objects.filter(slug=slug).order_by("-version").first()
        version = latest.version + 1 if latest else 1
        return ModelSpec.objects.create(
            name=name, slug=slug, version=version, source=source, config_hash=config_hash(full), **full
        )


def prompt_set_create(*, name: str, prompts: Sequence[dict], source: str = "") -> PromptSet:
    """A prompt set from dicts with ``text`` and optional ``category``, ``challenge``, ``source_id``."""
    with transaction.atomic():
        prompt_set = PromptSet.objects.create(name=name, source=source)
        Prompt.objects.bulk_create(
            Prompt(
                prompt_set=prompt_set,
                position=position,
                text=row["text"],
                category=row.get("category", ""),
                challenge=row.get("challenge", ""),
                source_id=str(row.get("source_id", "")),
            )
            for position, row in enumerate(prompts)
        )
    return prompt_set


def job_create(*, specs: Iterable[ModelSpec], prompt_set: PromptSet, seeds: Sequence[int], display_size: int) -> GenerationJob:
    with transaction.atomic():
        job = GenerationJob.objects.create(prompt_set=prompt_set, seeds=[int(s) for s in seeds], display_size=display_size)
        job.specs.set(specs)
    return job


def job_enqueue(*, job: GenerationJob, batch_size: int | None = None) -> int:
    """Queue one task per batch of missing images, after commit; returns the number of tasks.

    Batches of one spec are queued together so a worker finishes a spec before loading another.
    """
    from .tasks import generate_batch

    batch_size = batch_size or settings.EVALSITE_BATCH_SIZE
    batches = list(selectors.job_missing_batches(job=job, batch_size=batch_size))
    with transaction.atomic():
        GenerationJob.objects.filter(pk=job.pk, started_at__isnull=True).update(started_at=timezone.now())
        GenerationJob.objects.filter(pk=job.pk).update(status=GenerationJob.Status.RUNNING if batches else GenerationJob.Status.DONE)
        for spec_id, items in batches:
            transaction.on_commit(
                lambda spec_id=spec_id, items=items: generate_batch.delay(job.pk, spec_id, [list(item) for item in items])
            )
    return len(batches)


def _encode_png(pil_image) -> bytes:
    # No pnginfo: the file carries pixels only, nothing that names the model.
    buffer = io.BytesIO()
    pil_image.save(buffer, format="PNG")
    return buffer.getvalue()


def _display_copy(pil_image, size: int):
    from PIL import Image as PILImage

    height = round(pil_image.height * size / pil_image.width)
    if (pil_image.width, pil_image.height) == (size, height):
        return pil_image
    return pil_image.resize((size, height), PILImage.Resampling.LANCZOS)


def image_batch_generate(*, job_id: int, spec_id: int, items: Sequence[Sequence[int]]) -> list[Image]:
    """Make the images of one batch (one spec x prompt/seed pairs) that do not exist yet.

    Idempotent: images that exist are skipped, and the unique constraint on (spec, prompt,
    seed) turns a racing duplicate into a no-op whose files are removed.
    """
    from . import pipelines

    job = GenerationJob.objects.get(pk=job_id)
    spec = ModelSpec.objects.get(pk=spec_id)
    existing = set(
        Image.objects.filter(spec=spec, prompt_id__in=[p for p, _ in items]).values_list("prompt_id", "seed")
    )
    todo = [(int(p), int(s)) for p, s in items if (int(p), int(s)) not in existing]
    if not todo:
        return []
    prompts = dict(Prompt.objects.filter(pk__in=[p for p, _ in todo]).values_list("pk", "text"))
    config = spec_config(spec)
    device = pipelines.resolve_device(settings.EVALSITE_DEVICE)
    pipe = pipelines.resident_pipeline(config, spec.config_hash, device)
    batch = pipelines.sample(pipe, config, [prompts[p] for p, _ in todo], [s for _, s in todo], device)
    per_image = batch.seconds / len(todo)
    made = []
    for (prompt_id, seed), pil_image in zip(todo, batch.images):
        name = default_storage.save(f"images/{uuid.uuid4().hex}.png", ContentFile(_encode_png(pil_image)))
        display_name = default_storage.save(
            f"display/{uuid.uuid4().hex}.png", ContentFile(_encode_png(_display_copy(pil_image, job.display_size)))
        )
        try:
            with transaction.atomic():
                image = Image.objects.create(
                    spec=spec,
                    prompt_id=prompt_id,
                    seed=seed,
                    file=name,
                    width=pil_image.width,
                    height=pil_image.height,
                    config_hash=spec.config_hash,
                    latency_s=per_image,
                    batch_size=len(todo),
                    device=batch.device,
                    gpu_name=batch.gpu_name,
                    torch_version=batch.torch_version,
                    diffusers_version=batch.diffusers_version,
                )
                DisplayCopy.objects.create(image=image, size=job.display_size, file=display_name)
        except IntegrityError:
            logger.info("image spec=%s prompt=%s seed=%s already exists; discarding the duplicate", spec_id, prompt_id, seed)
            default_storage.delete(name)
            default_storage.delete(display_name)
            continue
        made.append(image)
    job_refresh_status(job_id=job_id)
    return made


def job_refresh_status(*, job_id: int) -> None:
    job = GenerationJob.objects.get(pk=job_id)
    progress = selectors.job_progress(job=job)
    if progress["done"] >= progress["total"] and job.status != GenerationJob.Status.DONE:
        GenerationJob.objects.filter(pk=job_id).update(status=GenerationJob.Status.DONE, finished_at=timezone.now())


def tiny_family_install(*, directory, size: int = 64, overwrite: bool = False) -> list[ModelSpec]:
    """Write the tiny pipelines and create (or reuse) a spec for each; reuses a spec whose
    config is unchanged, so running it twice creates nothing new."""
    from . import tiny

    paths = tiny.write_tiny_family(directory, overwrite=overwrite)
    specs = []
    for member in tiny.TINY_FAMILY:
        config = {**SPEC_DEFAULTS, **member["spec"], "weights": str(paths[member["slug"]]), "height": size, "width": size}
        existing = ModelSpec.objects.filter(slug=member["slug"], config_hash=config_hash(config)).first()
        specs.append(existing or model_spec_create(name=member["name"], slug=member["slug"], source="Tiny random-weight pipeline for tests and the demo.", **config))
    return specs


def job_run_inline(*, job: GenerationJob, batch_size: int | None = None, on_batch=None) -> int:
    """Generate a job's missing images in this process, without a worker; returns images made.

    ``on_batch(images_in_batch)`` is called after each batch (for a progress bar).
    """
    batch_size = batch_size or settings.EVALSITE_BATCH_SIZE
    GenerationJob.objects.filter(pk=job.pk, started_at__isnull=True).update(started_at=timezone.now())
    made = 0
    for spec_id, items in list(selectors.job_missing_batches(job=job, batch_size=batch_size)):
        made += len(image_batch_generate(job_id=job.pk, spec_id=spec_id, items=items))
        if on_batch is not None:
            on_batch(len(items))
    job_refresh_status(job_id=job.pk)
    return made
