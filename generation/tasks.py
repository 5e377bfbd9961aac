"""Celery tasks of the generation app: ids in, a service call, nothing else.

Every task here is routed to the GPU queue by ``CELERY_TASK_ROUTES`` in the settings."""

from celery import shared_task

from . import services


@shared_task(name="generation.generate_batch", acks_late=True, reject_on_worker_lost=True)
def generate_batch(job_id: int, spec_id: int, items: list[list[int]]) -> int:
    return len(services.image_batch_generate(job_id=job_id, spec_id=spec_id, items=items))
