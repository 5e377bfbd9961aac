"""Celery tasks of the generation app: ids in, a service call, nothing else.

``generate_batch`` runs on the ``gpu`` queue (``CELERY_TASK_ROUTES``); ``reconcile_jobs`` runs
on ``default`` every ``EVALSITE_RECONCILE_INTERVAL_S`` seconds (``CELERY_BEAT_SCHEDULE``).
"""

import logging

from celery import shared_task
from celery.signals import worker_process_shutdown, worker_shutdown
from django.conf import settings
from django.db import InterfaceError, OperationalError

from . import jobs, storage

logger = logging.getLogger(__name__)

# Faults that pass: the database or broker restarting, a network storage timeout.
TRANSIENT_ERRORS = (OperationalError, InterfaceError, ConnectionError, TimeoutError)


@shared_task(bind=True, name="generation.generate_batch", acks_late=True, reject_on_worker_lost=True, max_retries=5)
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
        from .telemetry import BATCH_RETRIES

        BATCH_RETRIES.inc()
        # Exponential backoff: 5 s, 10 s, 20 s, ... capped at 10 minutes.
        raise self.retry(exc=error, countdown=min(600, 5 * 2**self.request.retries))


@shared_task(name="generation.reconcile_jobs")
def reconcile_jobs() -> int:
    return jobs.jobs_reconcile()


@shared_task(name="generation.storage_orphans_delete")
def storage_orphans_delete() -> int:
    return storage.storage_orphans_delete(older_than_s=settings.EVALSITE_ORPHAN_AGE_S)


@worker_shutdown.connect
@worker_process_shutdown.connect
def _finish_pending_writes(**_):
    # A warm shutdown waits for the images already handed to the writer thread.
    from . import inflight

    inflight.shutdown()
