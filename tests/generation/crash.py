"""The steps of a worker crash mid-batch, shared by the local-storage test
(tests/reliability/test_worker_crash.py) and the S3 one (tests/deploy/test_s3_storage.py): real
Celery workers on a private Redis, a job slow enough to be caught mid-batch, a SIGKILL while its
second batch runs, and a new worker with beat that finishes the job."""

from __future__ import annotations

from contextlib import contextmanager

from django.conf import settings

from generation import jobs, specs
from generation.models import GenerationBatch, GenerationJob, Image, ModelSpec
from generation.selectors import job_progress
from tests.conftest import tasks_sent_to, worker_database_url
from tests.processes import CeleryWorker, kill_when, wait_for

# Heartbeats and a lease short enough for a test; reconciliation every second.
FAST_RECOVERY = {
    "EVALSITE_BATCH_HEARTBEAT_S": "0.5",
    "EVALSITE_BATCH_LEASE_S": "3",
    "EVALSITE_RECONCILE_INTERVAL_S": "1",
    "CELERY_VISIBILITY_TIMEOUT": "21600",
}
IMAGES = 16  # the test prompt set's 8 prompts x 2 seeds


@contextmanager
def celery_workers(*, redis_url: str, log_dir, test_name: str, extra_env: dict | None = None):
    """Yields ``start(name, extra_args=())``, which starts a real worker on the test database and
    the private Redis at ``redis_url``; every worker is stopped and the broker emptied after (no
    message of one test, such as a killed batch's, reaches the next)."""
    import redis

    broker = redis.Redis.from_url(redis_url)
    broker.flushdb()
    started = []

    def start(name: str, extra_args: tuple[str, ...] = ()) -> CeleryWorker:
        worker = CeleryWorker(
            broker_url=redis_url,
            database_url=worker_database_url(),
            data_dir=str(settings.DATA_DIR),
            log_path=log_dir / f"celery-{test_name}-{name}.log",
            extra_env={**FAST_RECOVERY, **(extra_env or {})},
            extra_args=extra_args,
        ).start()
        started.append(worker)
        return worker

    try:
        with tasks_sent_to(redis_url):
            yield start
    finally:
        for worker in started:
            worker.stop()
        broker.flushdb()


def slow_job(*, tiny_specs, prompt_set) -> tuple[GenerationJob, ModelSpec]:
    """A job of 16 images by the 25-step tiny baseline at 128 x 128 pixels, slow enough to be
    caught mid-batch; (job, its spec)."""
    baseline = next(s for s in tiny_specs if s.steps == 25)
    slow = specs.model_spec_update(spec=baseline, height=128, width=128)
    job = jobs.job_create(specs=[slow], prompt_set=prompt_set, seeds=[0, 1], display_size=64)
    return job, slow


def kill_mid_batch_then_recover(*, start_worker, job: GenerationJob, schedule_path, delay: float) -> list[GenerationBatch]:
    """Queue ``job`` in batches of 4, SIGKILL the first worker ``delay`` seconds into its second
    batch, start a second worker with beat (reconciling every second) and wait until every image
    exists; returns the batches that were running when the worker died, oldest claim first: one,
    or two when the kill came while one batch was still being written behind (``inflight``) and
    the next already sampling."""
    first = start_worker("first")
    assert jobs.job_enqueue(job=job, batch_size=4) == IMAGES // 4

    def second_batch_running():
        done = GenerationBatch.objects.filter(job=job, status="done").exists()
        return done and GenerationBatch.objects.filter(job=job, status="running").first()

    kill_when(first, second_batch_running, timeout=180, what="while the second batch is running", delay=delay)
    killed = list(GenerationBatch.objects.filter(job=job, status="running").order_by("claimed_at", "pk"))
    assert 1 <= len(killed) <= 2, f"{len(killed)} batches running on one solo worker"
    assert Image.objects.filter(spec__in=job.specs.all()).count() < IMAGES, "the worker died before the job was done"

    start_worker("second", extra_args=("-B", "--schedule", str(schedule_path)))

    def all_made():
        progress = job_progress(job=job)
        return progress["done"] == progress["total"] == IMAGES

    wait_for(all_made, timeout=180, what=f"the second worker to make all {IMAGES} images", interval=0.5)
    return killed
