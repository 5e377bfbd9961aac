"""A real Celery worker on a private Redis is SIGKILLed in the middle of a batch; a new worker
(with beat, reconciling every second) finishes the job, and every image exists exactly once,
long before the broker's visibility timeout would have handed the lost batch back."""

import pytest
from django.conf import settings

from generation import jobs, specs
from generation.models import GenerationBatch, Image
from generation.selectors import job_progress
from tests.conftest import tasks_sent_to, worker_database_url
from tests.processes import CeleryWorker, kill_when, wait_for

pytestmark = pytest.mark.slow

# Heartbeats and a lease short enough for a test; reconciliation every second.
FAST_RECOVERY = {
    "EVALSITE_BATCH_HEARTBEAT_S": "0.5",
    "EVALSITE_BATCH_LEASE_S": "3",
    "EVALSITE_RECONCILE_INTERVAL_S": "1",
    "CELERY_VISIBILITY_TIMEOUT": "21600",
}


@pytest.fixture
def worker_factory(transactional_db, redis_server, artifacts_dir, request):
    """Starts real workers on the test database and the private Redis; stops them all after."""
    import redis

    broker = redis.Redis.from_url(redis_server.url)
    broker.flushdb()  # no message left from an earlier test
    started = []

    def start(name: str, extra_args: tuple[str, ...] = ()) -> CeleryWorker:
        worker = CeleryWorker(
            broker_url=redis_server.url,
            database_url=worker_database_url(),
            data_dir=str(settings.DATA_DIR),
            log_path=artifacts_dir / "logs" / f"celery-{request.node.name}-{name}.log",
            extra_env=FAST_RECOVERY,
            extra_args=extra_args,
        ).start()
        started.append(worker)
        return worker

    with tasks_sent_to(redis_server.url):
        yield start
        for worker in started:
            worker.stop()
    broker.flushdb()  # nor to a later test: beat's reconciliation messages, the killed batch's message


def test_sigkill_mid_batch_then_a_new_worker_makes_every_image_exactly_once(worker_factory, tiny_specs, prompt_set, tmp_path):
    baseline = next(s for s in tiny_specs if s.steps == 25)
    # The 25-step baseline with guidance at 128 x 128: slow enough to be caught mid-batch.
    slow = specs.model_spec_update(spec=baseline, height=128, width=128)
    job = jobs.job_create(specs=[slow], prompt_set=prompt_set, seeds=[0, 1], display_size=64)
    first = worker_factory("first")
    assert jobs.job_enqueue(job=job, batch_size=4) == 4

    def second_batch_running():
        done = GenerationBatch.objects.filter(job=job, status="done").exists()
        return done and GenerationBatch.objects.filter(job=job, status="running").first()

    kill_when(first, second_batch_running, timeout=180, what="while the second batch is running", delay=0.2)
    killed = GenerationBatch.objects.get(job=job, status="running")
    made_before = Image.objects.filter(spec=slow).count()
    assert made_before < 16

    worker_factory("second", extra_args=("-B", "--schedule", str(tmp_path / "beat-schedule")))

    def all_made():
        progress = job_progress(job=job)
        return progress["done"] == progress["total"] == 16

    wait_for(all_made, timeout=180, what="the second worker to make all 16 images", interval=0.5)
    rows = list(Image.objects.filter(spec=slow).values_list("prompt_id", "seed"))
    assert len(rows) == len(set(rows)) == 16
    killed.refresh_from_db()
    assert killed.status == "superseded"
    replacement = GenerationBatch.objects.get(job=job, attempt=2)
    assert replacement.status == "done"
    assert set(map(tuple, replacement.items)) <= set(map(tuple, killed.items))
    from django.core.files.storage import default_storage

    for image in Image.objects.filter(spec=slow):
        assert default_storage.exists(image.file.name) and image.display_copies.count() == 1
