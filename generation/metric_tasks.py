"""Celery tasks of the automated metrics: ids in, a service call, nothing else.

Both run on the ``gpu`` queue (``CELERY_TASK_ROUTES``: ``generation.metrics_*``), where the
scoring models can sit next to the pipelines; registered through ``CELERY_IMPORTS``; queued by
name (``generation.queueing``).
"""

from celery import shared_task

from common.retry import MAX_RETRIES, TRANSIENT_ERRORS, retry_transient

from . import queueing
from .metrics import image_metrics_compute, job_image_ids


@shared_task(bind=True, name=queueing.METRICS_COMPUTE_IMAGES, acks_late=True, reject_on_worker_lost=True, max_retries=MAX_RETRIES)
def metrics_compute_images(self, image_ids: list[int], metric: str) -> int:
    try:
        return image_metrics_compute(image_ids=image_ids, metric=metric)
    except TRANSIENT_ERRORS as error:
        raise retry_transient(self, error)


@shared_task(bind=True, name=queueing.METRICS_COMPUTE_JOB, acks_late=True, reject_on_worker_lost=True, max_retries=MAX_RETRIES)
def metrics_compute_job(self, job_id: int, metric: str) -> int:
    # Batches already written survive a retry; the rest is skipped or scored anew.
    try:
        return image_metrics_compute(image_ids=job_image_ids(job_id=job_id), metric=metric)
    except TRANSIENT_ERRORS as error:
        raise retry_transient(self, error)
