"""Writes of the generation app: specs, prompt sets, jobs and images."""

from __future__ import annotations

import logging
import re
import uuid
from datetime import timedelta
from collections.abc import Iterable, Sequence

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from . import selectors
from .models import DisplayCopy, GenerationBatch, GenerationJob, Image, ModelSpec, Prompt, PromptSet, SpeedMeasurement
from .specs import CONFIG_FIELDS, config_hash, spec_config, validate_config

logger = logging.getLogger(__name__)

SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")

SPEC_DEFAULTS = {
    "scheduler_class": "",
    "scheduler_config": {},
    "lora": None,
    "component_overrides": {},
    "dtype": "float32",
    "variant": "",
    "revision": "",
    "guidance_scale": 0.0,
    "height": 512,
    "width": 512,
    "timesteps": None,
    "extra_call_kwargs": {},
}


def _unknown_settings_error(config: dict) -> None:
    unknown = set(config) - set(CONFIG_FIELDS)
    if unknown:
        raise ValidationError({field: ["Not a model spec setting."] for field in sorted(unknown)})


def slug_owner_check(*, slug: str, owner) -> int:
    """The next version number of ``slug``, locking its latest version; ``ValidationError`` if
    the slug belongs to someone else (only its owner makes versions; ``owner=None`` is the
    system: presets, the tiny family, commands)."""
    latest = ModelSpec.objects.select_for_update().filter(slug=slug).order_by("-version").first()
    if latest is None:
        return 1
    if latest.owner_id != (owner.pk if owner is not None else None):
        raise ValidationError(
            {"slug": [f"The slug '{slug}' is taken by another owner (or is a system preset): only its owner makes new versions. Choose another slug."]}
        )
    return latest.version + 1


def model_spec_create(*, name: str, slug: str, source: str = "", owner=None, local_root=None, **config) -> ModelSpec:
    """Validate a spec's config (raising ``ValidationError`` with field -> messages, saving
    nothing) and create it as the next version of ``slug``, which must be ``owner``'s
    (``None``: system-owned). With ``local_root`` local weights are taken only from inside it
    (the API passes ``EVALSITE_MODELS_DIR``)."""
    _unknown_settings_error(config)
    full = {**SPEC_DEFAULTS, **config}
    validate_config(full, local_root=local_root)
    errors = {}
    if not str(name).strip():
        errors["name"] = ["Give the spec a name."]
    if not SLUG.match(str(slug)):
        errors["slug"] = ["A slug is lowercase letters, digits and hyphens, e.g. sdxl-turbo-1step."]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        version = slug_owner_check(slug=slug, owner=owner)
        return ModelSpec.objects.create(
            name=name, slug=slug, version=version, source=source, owner=owner, config_hash=config_hash(full), **full
        )


def model_spec_update(*, spec: ModelSpec, name: str | None = None, source: str | None = None, **changes) -> ModelSpec:
    """Change a spec. A spec with images is immutable: a change to its config creates a new
    version (returned) and leaves the old one, and its images, as they were; a spec without
    images is edited in place. Name and source shape no image and are edited in place."""
    _unknown_settings_error(changes)
    config = {**spec_config(spec), **changes}
    validate_config(config)
    new_hash = config_hash(config)
    with transaction.atomic():
        if new_hash != spec.config_hash and spec.images.exists():
            return model_spec_create(
                name=spec.name if name is None else name, slug=spec.slug, source=spec.source if source is None else source,
                owner=spec.owner, **config
            )
        for field, value in config.items():
            setattr(spec, field, value)
        if name is not None:
            spec.name = name
        if source is not None:
            spec.source = source
        spec.config_hash = new_hash
        spec.save()
    return spec


def model_spec_ensure(*, name: str, slug: str, source: str = "", owner=None, **config) -> tuple[ModelSpec, bool]:
    """The latest spec of ``slug`` with exactly this config, or a new version; (spec, created)."""
    full = {**SPEC_DEFAULTS, **config}
    existing = ModelSpec.objects.filter(slug=slug, config_hash=config_hash(full), owner=owner).order_by("-version").first()
    if existing is not None:
        return existing, False
    return model_spec_create(name=name, slug=slug, source=source, owner=owner, **full), True


def presets_install() -> list[tuple[ModelSpec, bool]]:
    """Create a spec for every preset in ``generation.presets`` (idempotent); (spec, created) each."""
    from .presets import PRESETS

    return [model_spec_ensure(name=p["name"], slug=p["slug"], source=p["source"], **p["config"]) for p in PRESETS]


def prompt_set_create(*, name: str, prompts: Sequence[dict], source: str = "", owner=None) -> PromptSet:
    """A prompt set from dicts with ``text`` and optional ``category``, ``challenge``,
    ``source_id``, owned by ``owner`` (``None``: system-owned, usable by every researcher)."""
    with transaction.atomic():
        prompt_set = PromptSet.objects.create(name=name, source=source, owner=owner)
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


def owned_share(*, thing: ModelSpec | PromptSet, users) -> None:
    """Let ``users`` use a spec or prompt set besides its owner."""
    with transaction.atomic():
        thing.shared_with.add(*users)


def owned_unshare(*, thing: ModelSpec | PromptSet, users) -> None:
    with transaction.atomic():
        thing.shared_with.remove(*users)


def job_create(*, specs: Iterable[ModelSpec], prompt_set: PromptSet, seeds: Sequence[int], display_size: int) -> GenerationJob:
    with transaction.atomic():
        job = GenerationJob.objects.create(prompt_set=prompt_set, seeds=[int(s) for s in seeds], display_size=display_size)
        job.specs.set(specs)
    return job


def job_enqueue(*, job: GenerationJob, batch_size: int | None = None) -> int:
    """Queue one task per batch of missing images that no batch is making yet, after commit;
    returns the number of batches queued.

    Spec locality: batches go out spec by spec, in order, on the one ``gpu`` queue, and GPU
    workers run ``--pool=solo`` with prefetch 1, so each worker takes the next batch in queue
    order and meets the specs one after another: it loads each spec of a job once and finishes
    that spec's batches (with its peers) before it loads the next. A FIFO queue keeps this
    without per-worker queues that would strand work when a worker dies.
    """
    batch_size = batch_size or settings.EVALSITE_BATCH_SIZE
    with transaction.atomic():
        GenerationJob.objects.select_for_update().filter(pk=job.pk).first()  # one enqueue per job at a time
        GenerationJob.objects.filter(pk=job.pk, started_at__isnull=True).update(started_at=timezone.now())
        batches = list(selectors.job_missing_batches(job=job, batch_size=batch_size, skip_in_flight=True))
        for spec_id, items in batches:
            _batch_queue(job_id=job.pk, spec_id=spec_id, items=items)
        in_flight = GenerationBatch.objects.filter(job=job, status__in=IN_FLIGHT).exists()
        GenerationJob.objects.filter(pk=job.pk).update(
            status=GenerationJob.Status.RUNNING if batches or in_flight else GenerationJob.Status.DONE
        )
    job_refresh_status(job_id=job.pk)
    return len(batches)


IN_FLIGHT = (GenerationBatch.Status.QUEUED, GenerationBatch.Status.RUNNING)


def _batch_queue(*, job_id: int, spec_id: int, items, attempt: int = 1) -> GenerationBatch:
    from .tasks import generate_batch

    batch = GenerationBatch.objects.create(job_id=job_id, spec_id=spec_id, items=[list(item) for item in items], attempt=attempt)
    transaction.on_commit(lambda: generate_batch.delay(batch.pk))
    return batch


def batch_claim(*, batch_id: int, worker: str = "") -> GenerationBatch | None:
    """Mark a batch running on this worker; None when it is done, superseded or held elsewhere.

    A ``running`` batch whose heartbeat is older than the lease was held by a dead worker and can
    be claimed again (the broker redelivered its message).
    """
    now = timezone.now()
    stale = now - timedelta(seconds=settings.EVALSITE_BATCH_LEASE_S)
    claimable = Q(status__in=[GenerationBatch.Status.QUEUED]) | Q(status=GenerationBatch.Status.RUNNING, heartbeat_at__lt=stale)
    with transaction.atomic():
        claimed = GenerationBatch.objects.filter(claimable, pk=batch_id).update(
            status=GenerationBatch.Status.RUNNING, claimed_at=now, heartbeat_at=now, worker=worker[:200]
        )
    if not claimed:
        return None
    return GenerationBatch.objects.select_related("job", "spec").get(pk=batch_id)


def batch_release(*, batch_id: int, error: str = "") -> None:
    """Give a running batch back to the queue (before a retry of its task)."""
    GenerationBatch.objects.filter(pk=batch_id, status=GenerationBatch.Status.RUNNING).update(
        status=GenerationBatch.Status.QUEUED, error=error[:2000]
    )


def batch_fail(*, batch_id: int, error: str) -> None:
    """Mark a batch failed; reconciliation re-queues its missing images (up to the attempt limit)."""
    GenerationBatch.objects.filter(pk=batch_id).exclude(status=GenerationBatch.Status.DONE).update(
        status=GenerationBatch.Status.FAILED, error=error[:2000], finished_at=timezone.now()
    )


def batch_run(*, batch_id: int, worker: str = "", write_behind: bool = False) -> int:
    """Generate one queued batch; returns the number of images sampled (0 if nothing to do).

    With ``write_behind`` the images are handed to the process's writer thread and this returns
    while they are encoded and written, so the next batch samples meanwhile; the batch row stays
    ``running`` with a live heartbeat until they are committed (see ``generation.inflight``).
    """
    from . import inflight, telemetry
    from .pipelines import WeightsUnavailable

    batch = batch_claim(batch_id=batch_id, worker=worker)
    if batch is None:
        logger.info("batch %s is done, superseded or held by another worker; skipping", batch_id)
        return 0
    if batch.attempt == 1 and batch.claimed_at and batch.queued_at:
        telemetry.QUEUE_WAIT.observe(max(0.0, (batch.claimed_at - batch.queued_at).total_seconds()))
    inflight.hold(batch_id)
    handed_off = False
    try:
        try:
            sampled = _batch_sample(job=batch.job, spec=batch.spec, items=batch.items)
        except WeightsUnavailable as error:
            telemetry.BATCH_FAILURES.labels(spec=batch.spec.slug, reason="weights_unavailable").inc()
            spec_batches_fail_weights_unavailable(job_id=batch.job_id, spec_id=batch.spec_id, message=str(error))
            return 0
        if write_behind:
            inflight.write_behind(_batch_write_and_finish, batch_id, batch.job, batch.spec, sampled)
            handed_off = True
        else:
            _batch_write_and_finish(batch_id, batch.job, batch.spec, sampled)
        return sum(len(chunk) for chunk, _ in sampled)
    except Exception as error:
        telemetry.BATCH_FAILURES.labels(spec=batch.spec.slug, reason=type(error).__name__).inc()
        batch_fail(batch_id=batch_id, error=f"{type(error).__name__}: {error}")
        raise
    finally:
        if not handed_off:
            inflight.release(batch_id)


def spec_batches_fail_weights_unavailable(*, job_id: int, spec_id: int, message: str) -> int:
    """Give up every unfinished batch of one spec in a job because its weights cannot be read
    (gated, missing): one message on each batch and one log line, instead of a retry and a
    traceback per batch; returns the batches given up. Other specs of the job go on."""
    with transaction.atomic():
        given_up = GenerationBatch.objects.filter(
            job_id=job_id, spec_id=spec_id,
            status__in=[GenerationBatch.Status.QUEUED, GenerationBatch.Status.RUNNING, GenerationBatch.Status.FAILED],
        ).update(status=GenerationBatch.Status.ABANDONED, error=message[:2000], finished_at=timezone.now())
    spec = ModelSpec.objects.filter(pk=spec_id).values_list("slug", flat=True).first()
    logger.error("spec %s: %d batch(es) of job %s given up: %s", spec, given_up, job_id, message)
    job_refresh_status(job_id=job_id)
    return given_up


def _batch_write_and_finish(batch_id: int, job: GenerationJob, spec: ModelSpec, sampled) -> None:
    from . import inflight

    from . import telemetry

    try:
        made = _images_write(job=job, spec=spec, sampled=sampled)
        GenerationBatch.objects.filter(pk=batch_id).update(status=GenerationBatch.Status.DONE, finished_at=timezone.now(), error="")
        for items, part in sampled:
            labels = {"spec": spec.slug, "device": part.device}
            telemetry.SECONDS_PER_IMAGE.labels(**labels).observe(part.seconds / len(items))
        if made:
            telemetry.IMAGES_GENERATED.labels(spec=spec.slug, device=sampled[0][1].device).inc(len(made))
        job_refresh_status(job_id=job.pk)
    except Exception as error:
        logger.exception("writing the images of batch %s failed", batch_id)
        batch_fail(batch_id=batch_id, error=f"{type(error).__name__}: {error}")
        raise
    finally:
        inflight.release(batch_id)


def job_reconcile(*, job: GenerationJob, batch_size: int | None = None) -> int:
    """Re-queue the images of a job that are missing and not in flight; returns batches queued.

    A batch is in flight while ``queued`` (its message is in the broker) or ``running`` with a
    heartbeat younger than the lease. A running batch with a stale heartbeat (its worker died)
    or a failed one is superseded by a new batch of its still-missing images, up to
    ``EVALSITE_BATCH_MAX_ATTEMPTS`` attempts; this does not wait for the broker's visibility
    timeout. Images no batch covers at all (e.g. a queue lost with its broker) are queued anew.
    """
    batch_size = batch_size or settings.EVALSITE_BATCH_SIZE
    stale = timezone.now() - timedelta(seconds=settings.EVALSITE_BATCH_LEASE_S)
    queued = 0
    with transaction.atomic():
        GenerationJob.objects.select_for_update().filter(pk=job.pk).first()
        GenerationBatch.objects.filter(job=job, status=GenerationBatch.Status.RUNNING, heartbeat_at__lt=stale).update(
            status=GenerationBatch.Status.FAILED, error="The worker stopped sending heartbeats (it died or lost the database).", finished_at=timezone.now()
        )
        existing = selectors.job_existing_images(job=job) | selectors.job_items_in_flight(job=job)
        for batch in GenerationBatch.objects.filter(job=job, status=GenerationBatch.Status.FAILED).order_by("spec_id", "pk"):
            missing = [item for item in batch.items if (batch.spec_id, item[0], item[1]) not in existing]
            if not missing:
                batch.status = GenerationBatch.Status.DONE
            elif batch.attempt >= settings.EVALSITE_BATCH_MAX_ATTEMPTS:
                logger.error("giving up on %d image(s) of batch %s after %d attempts: %s", len(missing), batch.pk, batch.attempt, batch.error)
                batch.status = GenerationBatch.Status.ABANDONED
            else:
                _batch_queue(job_id=job.pk, spec_id=batch.spec_id, items=missing, attempt=batch.attempt + 1)
                existing.update((batch.spec_id, p, s) for p, s in missing)
                batch.status = GenerationBatch.Status.SUPERSEDED
                queued += 1
            batch.save(update_fields=["status"])
        for spec_id, items in selectors.job_missing_batches(job=job, batch_size=batch_size, skip_in_flight=True, skip_abandoned=True):
            _batch_queue(job_id=job.pk, spec_id=spec_id, items=items)
            queued += 1
    job_refresh_status(job_id=job.pk)
    return queued


def jobs_reconcile() -> int:
    """Reconcile every running job (the periodic task); returns batches queued or re-sent."""
    resent = batches_resend_if_broker_emptied()
    return resent + sum(job_reconcile(job=job) for job in GenerationJob.objects.filter(status=GenerationJob.Status.RUNNING))


# A key kept in the broker's Redis: when it is gone, Redis restarted empty and took the messages
# of every queued batch with it.
BROKER_MARK = "evalsite:broker-mark"


def batches_resend_if_broker_emptied() -> int:
    """Send the messages of running jobs' queued batches again when the broker lost its data
    (a Redis restart without persistence); returns how many were re-sent.

    A re-sent batch whose first message survived runs once: ``batch_claim`` skips a batch that is
    no longer queued. The first call after a deploy also re-sends, once, which is harmless.
    """
    import redis
    from celery import current_app

    from .tasks import generate_batch

    url = current_app.conf.broker_url or ""
    if current_app.conf.task_always_eager or not url.startswith(("redis://", "rediss://")):
        return 0
    try:
        if not redis.Redis.from_url(url).set(BROKER_MARK, "1", nx=True):
            return 0
    except redis.RedisError as error:
        logger.warning("could not check the broker for lost messages: %s", error)
        return 0
    batch_ids = list(
        GenerationBatch.objects.filter(status=GenerationBatch.Status.QUEUED, job__status=GenerationJob.Status.RUNNING).values_list("pk", flat=True)
    )
    for batch_id in batch_ids:
        generate_batch.delay(batch_id)
    if batch_ids:
        logger.warning("the broker was emptied (restarted?); re-sent %d queued batch(es)", len(batch_ids))
    return len(batch_ids)


def _encode_png(pil_image) -> bytes:
    # Pixels only, nothing that names the model; see generation.png for why not Pillow's encoder.
    from . import png

    return png.encode(pil_image, settings.EVALSITE_PNG_COMPRESS_LEVEL)


def _encode_display(pil_image) -> bytes:
    # Uncompressed: every display copy of one size has one byte length (see generation.png).
    from . import png

    return png.encode_display(pil_image)


def _display_copy(pil_image, size: int):
    from PIL import Image as PILImage

    height = round(pil_image.height * size / pil_image.width)
    if (pil_image.width, pil_image.height) == (size, height):
        return pil_image
    return pil_image.resize((size, height), PILImage.Resampling.LANCZOS)


def _batch_sample(*, job: GenerationJob, spec: ModelSpec, items: Sequence[Sequence[int]]):
    """Sample the images of ``items`` that do not exist yet: [(items of a sub-batch, SampledBatch)].

    Sub-batches appear only when the batch was halved on out-of-memory.
    """
    from . import pipelines

    existing = set(Image.objects.filter(spec=spec, prompt_id__in=[p for p, _ in items]).values_list("prompt_id", "seed"))
    todo = [(int(p), int(s)) for p, s in items if (int(p), int(s)) not in existing]
    if not todo:
        return []
    prompts = dict(Prompt.objects.filter(pk__in=[p for p, _ in todo]).values_list("pk", "text"))
    config = spec_config(spec)
    device = pipelines.resolve_device(settings.EVALSITE_DEVICE)
    pipe = pipelines.resident_pipeline(config, spec.config_hash, device)
    parts = pipelines.sample_halving_on_oom(pipe, config, [prompts[p] for p, _ in todo], [s for _, s in todo], device)
    return [(todo[offset : offset + len(part.images)], part) for offset, part in parts]


def _images_write(*, job: GenerationJob, spec: ModelSpec, sampled) -> list[Image]:
    """Encode, store and record sampled images with their display copies.

    Idempotent: the unique constraint on (spec, prompt, seed) turns a racing duplicate into a
    no-op whose files are removed.
    """
    rows = []
    for items, part in sampled:
        per_image = part.seconds / len(items)
        for (prompt_id, seed), pil_image in zip(items, part.images):
            full = _encode_png(pil_image)
            display = _display_copy(pil_image, job.display_size)
            name = default_storage.save(f"images/{uuid.uuid4().hex}.png", ContentFile(full))
            display_name = default_storage.save(
                f"display/{uuid.uuid4().hex}.png", ContentFile(_encode_display(display))
            )
            image = Image(
                spec=spec, prompt_id=prompt_id, seed=seed, file=name, width=pil_image.width, height=pil_image.height,
                config_hash=spec.config_hash, latency_s=per_image, batch_size=len(items), device=part.device,
                gpu_name=part.gpu_name, torch_version=part.torch_version, diffusers_version=part.diffusers_version,
                weights_revisions=part.weights_revisions,
            )
            rows.append((image, display_name))
    try:
        with transaction.atomic():
            Image.objects.bulk_create([image for image, _ in rows])
            DisplayCopy.objects.bulk_create(DisplayCopy(image=image, size=job.display_size, file=d) for image, d in rows)
        return [image for image, _ in rows]
    except IntegrityError:
        pass  # another worker made some of them: record one by one, dropping the duplicates
    made = []
    for image, display_name in rows:
        image.pk = None
        try:
            with transaction.atomic():
                image.save()
                DisplayCopy.objects.create(image=image, size=job.display_size, file=display_name)
        except IntegrityError:
            logger.info("image spec=%s prompt=%s seed=%s already exists; discarding the duplicate", spec.pk, image.prompt_id, image.seed)
            default_storage.delete(image.file.name)
            default_storage.delete(display_name)
            continue
        made.append(image)
    return made


def image_batch_generate(*, job_id: int, spec_id: int, items: Sequence[Sequence[int]]) -> list[Image]:
    """Make, in this process, the images of one batch (one spec x prompt/seed pairs) that do not
    exist yet; returns the images made."""
    job = GenerationJob.objects.get(pk=job_id)
    spec = ModelSpec.objects.get(pk=spec_id)
    made = _images_write(job=job, spec=spec, sampled=_batch_sample(job=job, spec=spec, items=items))
    job_refresh_status(job_id=job_id)
    return made


def image_display_copy_ensure(*, image: Image, size: int) -> DisplayCopy:
    """A display copy of ``image`` at ``size`` pixels wide, made from the stored original if needed."""
    from PIL import Image as PILImage

    existing = image.display_copies.filter(size=size).first()
    if existing is not None:
        return existing
    with default_storage.open(image.file.name) as handle:
        pil_image = PILImage.open(handle)
        pil_image.load()
    name = default_storage.save(f"display/{uuid.uuid4().hex}.png", ContentFile(_encode_display(_display_copy(pil_image, size))))
    try:
        with transaction.atomic():
            return DisplayCopy.objects.create(image=image, size=size, file=name)
    except IntegrityError:
        default_storage.delete(name)
        return image.display_copies.get(size=size)


def job_refresh_status(*, job_id: int) -> None:
    """Mark the job done once every image exists."""
    if GenerationBatch.objects.filter(job_id=job_id, status__in=IN_FLIGHT).exists():
        return  # the common case while it runs: one cheap query per batch
    job = GenerationJob.objects.get(pk=job_id)
    progress = selectors.job_progress(job=job)
    if progress["done"] >= progress["total"] and job.status != GenerationJob.Status.DONE:
        GenerationJob.objects.filter(pk=job_id).update(status=GenerationJob.Status.DONE, finished_at=timezone.now())


def spec_speed_measure(*, spec: ModelSpec, runs: int = 10, warmup: int = 2, device: str | None = None, prompt: str = "a photograph of an astronaut riding a horse") -> SpeedMeasurement:
    """Batch-1 latency of ``spec``: load, ``warmup`` untimed calls, then ``runs`` timed calls
    (CUDA synchronized), stored as median and 10th/90th percentiles."""
    import statistics

    from . import pipelines

    if runs < 1 or warmup < 0:
        raise ValidationError({"runs": ["Give at least one timed run and zero or more warm-up runs."]})
    config = spec_config(spec)
    device = pipelines.resolve_device(device or settings.EVALSITE_DEVICE)
    pipe = pipelines.resident_pipeline(config, spec.config_hash, device)
    for seed in range(warmup):
        pipelines.sample(pipe, config, [prompt], [seed], device)
    timed = [pipelines.sample(pipe, config, [prompt], [warmup + i], device) for i in range(runs)]
    seconds = sorted(part.seconds for part in timed)
    deciles = statistics.quantiles(seconds, n=10, method="inclusive") if len(seconds) > 1 else [seconds[0]] * 9
    last = timed[-1]
    return SpeedMeasurement.objects.create(
        spec=spec, device=last.device, gpu_name=last.gpu_name, runs=runs, warmup_runs=warmup,
        median_s=statistics.median(seconds), p10_s=deciles[0], p90_s=deciles[-1], height=spec.height, width=spec.width,
        torch_version=last.torch_version, diffusers_version=last.diffusers_version,
    )


def tiny_family_install(*, directory, size: int = 64, overwrite: bool = False) -> list[ModelSpec]:
    """Write the tiny pipelines and create (or reuse) a spec for each; reuses a spec whose
    config is unchanged, so running it twice creates nothing new."""
    from . import tiny

    paths = tiny.write_tiny_family(directory, overwrite=overwrite)
    return [
        model_spec_ensure(
            name=member["name"], slug=member["slug"], source="Tiny random-weight pipeline for tests and the demo.",
            **{**member["spec"], "weights": str(paths[member["slug"]]), "height": size, "width": size},
        )[0]
        for member in tiny.TINY_FAMILY
    ]


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


STORED_PREFIXES = ("images", "display")


def storage_orphans_delete(*, older_than_s: float) -> int:
    """Delete stored image files no row references, older than ``older_than_s`` seconds; returns
    how many. A worker killed between writing a batch's files and committing its rows leaves
    such files (with random names nothing else knows); the age keeps files of a batch that is
    still being committed. Lists the storage (the operator's credentials; raters never can)."""
    referenced = set(Image.objects.values_list("file", flat=True)) | set(DisplayCopy.objects.values_list("file", flat=True))
    cutoff = timezone.now() - timedelta(seconds=older_than_s)
    deleted = 0
    for prefix in STORED_PREFIXES:
        try:
            _, names = default_storage.listdir(prefix)
        except FileNotFoundError:
            continue
        for name in names:
            key = f"{prefix}/{name}"
            if key in referenced or default_storage.get_modified_time(key) > cutoff:
                continue
            default_storage.delete(key)
            deleted += 1
    if deleted:
        logger.warning("deleted %d stored image file(s) that no row referenced (left by a worker that died mid-batch)", deleted)
    return deleted
