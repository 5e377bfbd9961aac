"""Celery tasks of the generation app: ids in, a service call, nothing else.

``generate_batch`` and ``spec_speed_measure`` run on the ``gpu`` queue (``CELERY_TASK_ROUTES``); ``reconcile_jobs`` runs
on ``default`` every ``EVALSITE_RECONCILE_INTERVAL_S`` seconds (``CELERY_BEAT_SCHEDULE``). Services queue them by name
(``generation.queueing``).
"""

import logging

from celery import shared_task
from celery.signals import worker_process_shutdown, worker_shutdown
from django.conf import settings

from common.retry import MAX_RETRIES, TRANSIENT_ERRORS, retry_transient

from . import inflight, jobs, queueing, storage
from .models import ModelSpec
from .specs import spec_speed_measure as measure

logger = logging.getLogger(__name__)


@shared_task(bind=True, name=queueing.GENERATE_BATCH, acks_late=True, reject_on_worker_lost=True, max_retries=MAX_RETRIES)
def generate_batch(self, batch_id: int) -> int:
    try:
        # In-process (eager) runs write in the caller's thread: no worker thread outlives the call.
        write_behind = settings.EVALSITE_WRITE_BEHIND and not self.request.is_eager
        return jobs.batch_run(batch_id=batch_id, worker=self.request.hostname or "", write_behind=write_behind)
    except TRANSIENT_ERRORS as error:
        try:
            jobs.batch_release(batch_id=batch_id, error=f"{type(error).__name__}: {error}")
        except TRANSIENT_ERRORS:
            logger.warning("could not release batch %s; reconciliation will re-queue it", batch_id)
        from .telemetry import BATCH_RETRIES  # late: the metrics register on import, in the worker that samples

        BATCH_RETRIES.inc()
        raise retry_transient(self, error)


@shared_task(name=queueing.SPEC_SPEED_MEASURE, acks_late=True, reject_on_worker_lost=True)
def spec_speed_measure(spec_id: int, runs: int = 10, warmup: int = 2) -> int | None:
    """Batch-1 seconds per image of one spec, as ``manage.py measure_speed`` measures it (gpu queue)."""
    spec = ModelSpec.objects.filter(pk=spec_id).first()
    if spec is None:
        return None
    return measure(spec=spec, runs=runs, warmup=warmup).pk


@shared_task(name=queueing.RECONCILE_JOBS)
def reconcile_jobs() -> int:
    return jobs.jobs_reconcile()


@shared_task(name=queueing.STORAGE_ORPHANS_DELETE)
def storage_orphans_delete() -> int:
    return storage.storage_orphans_delete(older_than_s=settings.EVALSITE_ORPHAN_AGE_S)


@worker_shutdown.connect
@worker_process_shutdown.connect
def _finish_pending_writes(**_):
    # A warm shutdown waits for the images already handed to the writer thread.
    inflight.shutdown()
