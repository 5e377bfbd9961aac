"""The Celery app. Queues are named in one place: ``common.queues``."""

import os

from celery import Celery
from celery.signals import task_postrun, task_prerun, worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "evalsite.settings")

app = Celery("evalsite")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_ready.connect
def _serve_worker_metrics(**_):
    # Each worker serves its Prometheus metrics on a port of its own host (never published).
    from django.conf import settings

    if settings.EVALSITE_WORKER_METRICS_PORT:
        from evalsite.observability import worker_metrics_start

        worker_metrics_start(settings.EVALSITE_WORKER_METRICS_PORT)


@task_prerun.connect
def _log_task_id(task_id=None, **_):
    # A task's log lines carry its id where a request's carry the request id.
    from evalsite.observability import request_id_var

    request_id_var.set(task_id or "")


@task_postrun.connect
def _forget_task_id(**_):
    from evalsite.observability import request_id_var

    request_id_var.set("")
