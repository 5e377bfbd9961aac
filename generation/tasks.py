"""Celery tasks of the generation app: ids in, a service call, nothing else."""

from celery import shared_task

from evalsite.queues import GPU_QUEUE

from . import services


@shared_task(name="generation.generate_batch", queue=GPU_QUEUE, acks_late=True, reject_on_worker_lost=True)
def generate_batch(job_id: int, spec_id: int, items: list[list[int]]) -> int:
    return len(services.image_batch_generate(job_id=job_id, spec_id=spec_id, items=items))
