"""The generation app's Celery tasks (generation/tasks.py): each is registered under the name its
services send (``generation.queueing``) and routed to its queue; a gpu task is acknowledged
late and redelivered when its worker dies; a task takes an id and tolerates a row gone."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
from django.core.files.storage import default_storage
from PIL import Image as PILImage

from evalsite.celery import app
from generation import queueing, storage, tasks

TASKS = {
    tasks.generate_batch: (queueing.GENERATE_BATCH, "gpu"),
    tasks.spec_speed_measure: (queueing.SPEC_SPEED_MEASURE, "gpu"),
    tasks.reconcile_jobs: (queueing.RECONCILE_JOBS, "default"),
    tasks.storage_orphans_delete: (queueing.STORAGE_ORPHANS_DELETE, "default"),
}


@pytest.mark.parametrize("task", TASKS, ids=lambda task: task.name)
def test_each_task_has_the_name_services_send_and_runs_on_its_queue(task):
    name, queue = TASKS[task]
    assert task.name == name
    assert app.tasks[name] is task._get_current_object()  # shared_task gives a proxy
    assert app.amqp.router.route({}, name)["queue"].name == queue


@pytest.mark.parametrize("task", [tasks.generate_batch, tasks.spec_speed_measure], ids=lambda task: task.name)
def test_gpu_tasks_are_acknowledged_after_they_run_so_a_killed_workers_task_is_redelivered(task):
    assert task.acks_late and task.reject_on_worker_lost


@pytest.mark.django_db
def test_measuring_the_speed_of_a_spec_that_is_gone_does_nothing():
    assert tasks.spec_speed_measure.apply(args=[987654]).get() is None


@pytest.mark.django_db
def test_the_orphan_sweep_task_keeps_files_younger_than_the_configured_age(settings, tmp_path):
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path / "media")}}}
    pixels = np.random.default_rng(0).integers(0, 255, (16, 16, 3), dtype=np.uint8)
    orphan = storage.original_save(pil_image=PILImage.fromarray(pixels, "RGB"))
    hour_ago = time.time() - 3600
    os.utime(default_storage.path(orphan), (hour_ago, hour_ago))

    settings.EVALSITE_ORPHAN_AGE_S = 2 * 3600
    assert tasks.storage_orphans_delete.apply().get() == 0
    assert default_storage.exists(orphan)
    settings.EVALSITE_ORPHAN_AGE_S = 60
    assert tasks.storage_orphans_delete.apply().get() == 1
    assert not default_storage.exists(orphan)
