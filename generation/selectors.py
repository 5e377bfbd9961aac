"""Reads of the generation app."""

from __future__ import annotations

import statistics
from collections.abc import Iterator

from django.db.models import Count, Exists, OuterRef, Q

from .models import GenerationBatch, GenerationJob, Image, ModelSpec, PromptSet, SpeedMeasurement


def _usable_by(model, user):
    """Staff use everything; a researcher uses what is system-owned, their own, or shared with them."""
    rows = model.objects.all()
    if user.is_staff:
        return rows
    shared = model.shared_with.through.objects.filter(**{f"{model._meta.model_name}_id": OuterRef("pk"), "user_id": user.pk})
    return rows.filter(Q(owner__isnull=True) | Q(owner=user) | Exists(shared))


def specs_usable_by(*, user):
    """The model specs ``user`` may list, read, upload into (if theirs) and put in a study."""
    return _usable_by(ModelSpec, user)


def prompt_sets_usable_by(*, user):
    """The prompt sets ``user`` may list, read and put in a study."""
    return _usable_by(PromptSet, user)


def spec_resolve(*, reference: str, user) -> ModelSpec | None:
    """``slug`` (its latest version) or ``slug@version``, among the specs ``user`` may use."""
    slug, _, version = reference.partition("@")
    specs = specs_usable_by(user=user).filter(slug=slug)
    if version:
        return specs.filter(version=int(version)).first() if version.isdigit() and len(version) < 10 else None
    return specs.order_by("-version").first()


def job_progress(*, job: GenerationJob) -> dict:
    """Images made of total, overall and per spec."""
    prompt_ids = list(job.prompt_set.prompts.values_list("pk", flat=True))
    per_spec_total = len(prompt_ids) * len(job.seeds)
    counts = dict(
        Image.objects.filter(spec__in=job.specs.all(), prompt_id__in=prompt_ids, seed__in=job.seeds)
        .values_list("spec_id")
        .annotate(n=Count("pk"))
        .values_list("spec_id", "n")
    )
    batches = job_batch_counts(job=job)
    per_spec = [
        {
            "spec_id": spec.pk,
            "spec": str(spec),
            "done": counts.get(spec.pk, 0),
            "total": per_spec_total,
            "batches_queued": batches.get(spec.pk, {}).get(GenerationBatch.Status.QUEUED, 0),
            "batches_running": batches.get(spec.pk, {}).get(GenerationBatch.Status.RUNNING, 0),
        }
        for spec in job.specs.order_by("pk")
    ]
    done = sum(row["done"] for row in per_spec)
    return {"done": done, "total": per_spec_total * len(per_spec), "per_spec": per_spec}


def job_existing_images(*, job: GenerationJob) -> set[tuple[int, int, int]]:
    """(spec id, prompt id, seed) of every image of the job that exists."""
    prompt_ids = list(job.prompt_set.prompts.values_list("pk", flat=True))
    return set(
        Image.objects.filter(spec__in=job.specs.all(), prompt_id__in=prompt_ids, seed__in=job.seeds).values_list("spec_id", "prompt_id", "seed")
    )


def _covered_items(job: GenerationJob, statuses) -> set[tuple[int, int, int]]:
    covered = set()
    for spec_id, items in GenerationBatch.objects.filter(job=job, status__in=statuses).values_list("spec_id", "items"):
        covered.update((spec_id, int(p), int(s)) for p, s in items)
    return covered


def job_items_in_flight(*, job: GenerationJob) -> set[tuple[int, int, int]]:
    """(spec id, prompt id, seed) that a queued or running batch of the job is making."""
    return _covered_items(job, [GenerationBatch.Status.QUEUED, GenerationBatch.Status.RUNNING])


def job_missing_batches(
    *, job: GenerationJob, batch_size: int, skip_in_flight: bool = False, skip_abandoned: bool = False
) -> Iterator[tuple[int, list[tuple[int, int]]]]:
    """(spec id, [(prompt id, seed), ...]) batches of the images the job still lacks, spec by spec.

    ``skip_in_flight`` leaves out images a queued or running batch is making; ``skip_abandoned``
    those whose batch was given up after too many attempts.
    """
    prompt_ids = list(job.prompt_set.prompts.order_by("position").values_list("pk", flat=True))
    existing = job_existing_images(job=job)
    statuses = []
    if skip_in_flight:
        statuses += [GenerationBatch.Status.QUEUED, GenerationBatch.Status.RUNNING]
    if skip_abandoned:
        statuses += [GenerationBatch.Status.ABANDONED, GenerationBatch.Status.FAILED]
    skipped = _covered_items(job, statuses) if statuses else set()
    for spec in job.specs.order_by("pk"):
        missing = [
            (p, s) for s in job.seeds for p in prompt_ids if (spec.pk, p, s) not in existing and (spec.pk, p, s) not in skipped
        ]
        for start in range(0, len(missing), batch_size):
            yield spec.pk, missing[start : start + batch_size]


def job_batch_counts(*, job: GenerationJob) -> dict[int, dict[str, int]]:
    """spec id -> {status: number of batches}: what is queued, running, done or failed."""
    counts: dict[int, dict[str, int]] = {}
    for spec_id, status, n in GenerationBatch.objects.filter(job=job).values_list("spec_id", "status").annotate(n=Count("pk")).values_list("spec_id", "status", "n"):
        counts.setdefault(spec_id, {})[status] = n
    return counts


def spec_seconds_per_image(spec: ModelSpec) -> tuple[float, str] | None:
    """(seconds per image, the device it was measured on) for the speed-vs-rating plot.

    The latest batch-1 speed measurement (``measure_speed``) when there is one, as ADD's Fig. 7
    uses; otherwise the median per-image latency of the spec's generated images, labelled as an
    in-batch estimate; None when neither exists (uploaded images without a latency)."""
    measurement = SpeedMeasurement.objects.filter(spec=spec).order_by("-measured_at", "-pk").first()
    if measurement is not None:
        return measurement.median_s, measurement.gpu_name or measurement.device.upper()
    rows = list(Image.objects.filter(spec=spec, latency_s__gt=0).values_list("latency_s", "device", "gpu_name"))
    if not rows:
        return None
    return statistics.median(row[0] for row in rows), f"{rows[0][2] or rows[0][1].upper()}, in-batch estimate"


def spec_speed(spec: ModelSpec) -> dict | None:
    """Seconds per image of a spec with its spread where known, and the device named plainly
    (``CPU`` when timed on a CPU), for ADD's speed plot: the latest batch-1 measurement
    (``measure_speed``: median, 10th and 90th percentiles of its runs), else the median in-batch
    latency of its generated images (no spread); None when neither exists."""
    measurement = SpeedMeasurement.objects.filter(spec=spec).order_by("-measured_at", "-pk").first()
    if measurement is not None:
        cpu = measurement.device.lower() == "cpu"
        return {
            "seconds": measurement.median_s, "low": measurement.p10_s, "high": measurement.p90_s,
            "device": "CPU" if cpu else (measurement.gpu_name or measurement.device.upper()), "cpu": cpu,
            "source": f"batch-1 median of {measurement.runs} runs (10th to 90th percentile), {measurement.height}x{measurement.width}",
        }
    rows = list(Image.objects.filter(spec=spec, latency_s__gt=0).values_list("latency_s", "device", "gpu_name"))
    if not rows:
        return None
    cpu = (rows[0][1] or "").lower() == "cpu"
    return {
        "seconds": statistics.median(row[0] for row in rows), "low": None, "high": None,
        "device": "CPU" if cpu else (rows[0][2] or (rows[0][1] or "unknown device").upper()), "cpu": cpu,
        "source": "in-batch estimate (median latency of its generated images)",
    }


def oldest_queued_batch_at():
    """When the oldest batch still waiting in the queue was queued (None when none waits)."""
    return GenerationBatch.objects.filter(status=GenerationBatch.Status.QUEUED).order_by("queued_at").values_list("queued_at", flat=True).first()


def stalled_batches(*, older_than_s: float) -> list[GenerationBatch]:
    """Running batches whose worker has sent no heartbeat for ``older_than_s`` seconds."""
    from datetime import timedelta

    from django.utils import timezone

    cutoff = timezone.now() - timedelta(seconds=older_than_s)
    return list(
        GenerationBatch.objects.filter(status=GenerationBatch.Status.RUNNING, heartbeat_at__lt=cutoff).select_related("spec").order_by("heartbeat_at")
    )
