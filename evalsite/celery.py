"""The Celery app. Queues are named in one place: ``common.queues``."""

import os

from celery import Celery
import logging.config

from celery.signals import setup_logging, task_postrun, task_prerun, worker_ready
from django.conf import settings

from evalsite.observability import request_id_var, worker_metrics_start

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "evalsite.settings")

app = Celery("evalsite")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@setup_logging.connect
def _django_logging(**_):
    # A worker logs through the project's LOGGING (JSON lines in production, crowd ids redacted),
    # not Celery's own handlers: with a receiver here Celery leaves the root logger alone.
    logging.config.dictConfig(settings.LOGGING)


@worker_ready.connect
def _serve_worker_metrics(**_):
    # Each worker serves its Prometheus metrics on a port of its own host (never published).
    if settings.EVALSITE_WORKER_METRICS_PORT:
        worker_metrics_start(settings.EVALSITE_WORKER_METRICS_PORT)


@task_prerun.connect
def _log_task_id(task_id=None, **_):
    # A task's log lines carry its id where a request's carry the request id.
    request_id_var.set(task_id or "")


@task_postrun.connect
def _forget_task_id(**_):
    request_id_var.set("")
