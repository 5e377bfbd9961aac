"""Generation jobs and their batches: queueing, claiming under a lease, running, recording the
images, and reconciliation after a worker or the broker was lost.

A job knows nothing of studies. Durability: a batch's row stays ``running`` with a heartbeat
(``generation.inflight``) until its images are committed; ``job_reconcile`` re-queues the missing
images of any batch whose heartbeat stopped. Tasks (``generation.tasks``) call these functions;
these queue the tasks by name (``generation.queueing``): a new batch after commit (``_batch_queue``), or
the message of a queued batch the broker lost (``batches_resend_if_broker_emptied``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from . import inflight, pipelines, queueing, selectors, signals, storage
from .metrics import METRICS, job_image_metrics_enqueue, metric_weights_available
from .models import DisplayCopy, GenerationBatch, GenerationJob, Image, ModelSpec, Prompt, PromptSet
from .configs import spec_config

logger = logging.getLogger(__name__)


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
        if batches or GenerationBatch.objects.filter(job=job, status__in=IN_FLIGHT).exists():
            GenerationJob.objects.filter(pk=job.pk).update(status=GenerationJob.Status.RUNNING)
    # Nothing to make (a clone whose images all exist): marked done here, which sends job_done.
    job_refresh_status(job_id=job.pk)
    return len(batches)


IN_FLIGHT = (GenerationBatch.Status.QUEUED, GenerationBatch.Status.RUNNING)


def _batch_queue(*, job_id: int, spec_id: int, items, attempt: int = 1) -> GenerationBatch:
    batch = GenerationBatch.objects.create(job_id=job_id, spec_id=spec_id, items=[list(item) for item in items], attempt=attempt)
    transaction.on_commit(lambda: queueing.generate_batch_send(batch.pk))
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
    # Late: the metrics register on import, and belong to the worker that samples, not the web.
    from . import telemetry

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
        except pipelines.WeightsUnavailable as error:
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
        queueing.generate_batch_send(batch_id)
    if batch_ids:
        logger.warning("the broker was emptied (restarted?); re-sent %d queued batch(es)", len(batch_ids))
    return len(batch_ids)


def _batch_sample(*, job: GenerationJob, spec: ModelSpec, items: Sequence[Sequence[int]]):
    """Sample the images of ``items`` that do not exist yet: [(items of a sub-batch, SampledBatch)].

    Sub-batches appear only when the batch was halved on out-of-memory.
    """
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
            name = storage.original_save(pil_image=pil_image)
            display_name = storage.display_copy_save(pil_image=pil_image, size=job.display_size)
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
            storage.files_delete(image.file.name, display_name)
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


def job_refresh_status(*, job_id: int) -> None:
    """Mark the job done once every image exists."""
    if GenerationBatch.objects.filter(job_id=job_id, status__in=IN_FLIGHT).exists():
        return  # the common case while it runs: one cheap query per batch
    job = GenerationJob.objects.get(pk=job_id)
    progress = selectors.job_progress(job=job)
    if progress["done"] >= progress["total"] and job.status != GenerationJob.Status.DONE:
        marked = GenerationJob.objects.filter(pk=job_id).exclude(status=GenerationJob.Status.DONE).update(
            status=GenerationJob.Status.DONE, finished_at=timezone.now()
        )
        if marked:  # only the process that marked it done queues the follow-up work
            job_metrics_enqueue_available(job_id=job_id)
            for receiver, result in signals.job_done.send_robust(sender=GenerationJob, job_id=job_id):
                if isinstance(result, Exception):
                    logger.error("After job %s was done, %s failed: %r", job_id, getattr(receiver, "__qualname__", receiver), result)


def job_metrics_enqueue_available(*, job_id: int) -> list[str]:
    """Queue the automated metrics whose weights this worker has (a local directory, or a hub id
    in its cache): a finished job's images are scored on the gpu queue without anyone asking."""
    available = [name for name, metric in METRICS.items() if metric_weights_available(metric)]
    if available:
        job_image_metrics_enqueue(job_id=job_id, metrics=available)
    return available


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
