"""Enqueueing the generation app's tasks by name (``common.queues.task_send``): the services that
queue work (``jobs``, ``specs``, ``metrics``) never import the tasks modules that call them back.
Each name here is the one its task registers under (``tasks.py``, ``metric_tasks.py``), and the
name the deployed workers and ``CELERY_TASK_ROUTES`` route by."""

from __future__ import annotations

from common.queues import task_send

GENERATE_BATCH = "generation.generate_batch"
SPEC_SPEED_MEASURE = "generation.spec_speed_measure"
RECONCILE_JOBS = "generation.reconcile_jobs"
STORAGE_ORPHANS_DELETE = "generation.storage_orphans_delete"
METRICS_COMPUTE_IMAGES = "generation.metrics_compute_images"
METRICS_COMPUTE_JOB = "generation.metrics_compute_job"


def generate_batch_send(batch_id: int):
    return task_send(GENERATE_BATCH, (batch_id,))


def spec_speed_measure_send(spec_id: int, *, runs: int, warmup: int):
    return task_send(SPEC_SPEED_MEASURE, (spec_id,), {"runs": runs, "warmup": warmup})


def metrics_compute_job_send(job_id: int, metric: str):
    return task_send(METRICS_COMPUTE_JOB, (job_id, metric))
