"""Writes and reads of per-image automated metrics: one ImageMetric row per image, metric and
scoring weights, computed on the gpu queue after generation (generation.metric_tasks)."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction

from generation import queueing
from generation.models import GenerationJob, Image, ImageMetric

from .scorers import METRICS, metric_get, metric_sources, scorer_load

logger = logging.getLogger(__name__)


def _open_rgb(image: Image):
    from PIL import Image as PILImage

    with default_storage.open(image.file.name) as handle:
        picture = PILImage.open(handle)
        picture.load()
    return picture.convert("RGB")


def image_metrics_compute(*, image_ids: Iterable[int], metric: str, batch_size: int | None = None, device: str | None = None) -> int:
    """Score images with one metric and record a row per image; returns the rows written.

    Idempotent: an image that already has a row for this metric and these weights (id and
    revision) is skipped. The scoring model is loaded first, so missing weights fail with a
    message naming the setting before anything is written; each batch's rows are written in one
    transaction, so a failure leaves whole batches, never part of one.
    """
    definition = metric_get(metric)
    ids = sorted({int(i) for i in image_ids})
    if not ids:
        return 0
    scorer = scorer_load(definition, device=device)
    done = set(
        ImageMetric.objects.filter(
            image_id__in=ids, metric=definition.name, weights=scorer.weights, weights_revision=scorer.weights_revision,
        ).values_list("image_id", flat=True)
    )
    todo = [i for i in ids if i not in done]
    size = max(1, batch_size or settings.EVALSITE_METRIC_BATCH_SIZE)
    written = 0
    for first in range(0, len(todo), size):
        images = list(Image.objects.filter(pk__in=todo[first : first + size]).select_related("prompt").order_by("pk"))
        values = scorer.score([_open_rgb(image) for image in images], [image.prompt.text for image in images])
        rows = [
            ImageMetric(
                image=image, metric=definition.name, weights=scorer.weights, weights_revision=scorer.weights_revision,
                library_version=scorer.library_version, device=scorer.device, value=value,
            )
            for image, value in zip(images, values)
        ]
        with transaction.atomic():
            # Another worker may have scored the same images meanwhile: its rows stand.
            ImageMetric.objects.bulk_create(rows, ignore_conflicts=True)
        written += len(rows)
    logger.info("%s: %d image(s) scored, %d already had a value", definition.label, written, len(done))
    return written


def image_embeddings_compute(*, image_ids: Iterable[int], metric: str = "clip_score", device: str | None = None):
    """(image ids in order, float[n, d] unit-norm image embeddings) from a metric's model, for
    the embedding diversity measures (ratings.stats.diversity); nothing is stored."""
    import numpy as np

    scorer = scorer_load(metric_get(metric), device=device)
    images = list(Image.objects.filter(pk__in=list(image_ids)).order_by("pk"))
    if not images:
        return [], np.empty((0, 0))
    size = max(1, settings.EVALSITE_METRIC_BATCH_SIZE)
    parts = [scorer.embed([_open_rgb(image) for image in images[i : i + size]]) for i in range(0, len(images), size)]
    return [image.pk for image in images], np.concatenate(parts)


def job_image_ids(*, job_id: int) -> list[int]:
    """The images a generation job asked for that exist (its specs x prompts x seeds)."""
    job = GenerationJob.objects.get(pk=job_id)
    return list(
        Image.objects.filter(spec__in=job.specs.all(), prompt__prompt_set_id=job.prompt_set_id, seed__in=job.seeds)
        .order_by("pk").values_list("pk", flat=True)
    )


def job_image_metrics_enqueue(*, job_id: int, metrics: Iterable[str] | None = None) -> list[str]:
    """Queue the metric tasks of a job's images on the gpu queue (after commit, so the worker
    finds the rows); returns the metrics queued."""
    names = list(metrics) if metrics is not None else list(METRICS)
    for name in names:
        metric_get(name)
        transaction.on_commit(lambda name=name: queueing.metrics_compute_job_send(job_id, name))
    return names


def image_metric_values(*, image_ids: Iterable[int], metric: str, weights: str | None = None) -> dict[int, float]:
    """{image id: value} of one metric from the weights the settings name now (or `weights`);
    with several revisions of those weights, the latest computed value per image."""
    definition = metric_get(metric)
    weights = weights or metric_sources(definition)[0]
    rows = (
        ImageMetric.objects.filter(image_id__in=list(image_ids), metric=definition.name, weights=weights)
        .order_by("computed_at", "pk").values_list("image_id", "value")
    )
    return dict(rows)  # later rows overwrite earlier ones: the latest value per image
