"""A real Celery worker on a private Redis is SIGKILLed in the middle of a batch; a new worker
(with beat, reconciling every second) finishes the job, and every image exists exactly once,
long before the broker's visibility timeout would have handed the lost batch back."""

import pytest
from django.core.files.storage import default_storage

from generation.models import GenerationBatch, Image
from tests.generation.crash import IMAGES, celery_workers, kill_mid_batch_then_recover, slow_job

pytestmark = pytest.mark.slow


@pytest.fixture
def worker_factory(transactional_db, redis_server, artifacts_dir, request):
    with celery_workers(redis_url=redis_server.url, log_dir=artifacts_dir / "logs", test_name=request.node.name) as start:
        yield start


def test_sigkill_mid_batch_then_a_new_worker_makes_every_image_exactly_once(worker_factory, tiny_specs, prompt_set, tmp_path):
    job, slow = slow_job(tiny_specs=tiny_specs, prompt_set=prompt_set)
    killed = kill_mid_batch_then_recover(start_worker=worker_factory, job=job, schedule_path=tmp_path / "beat-schedule", delay=0.2)

    rows = list(Image.objects.filter(spec=slow).values_list("prompt_id", "seed"))
    assert len(rows) == len(set(rows)) == IMAGES
    for batch in killed:
        batch.refresh_from_db()
    # The batch being sampled when the worker died made nothing: it is superseded. One still being
    # written behind it is done if all its images were committed, superseded otherwise.
    assert killed[-1].status == "superseded"
    assert all(batch.status in ("superseded", "done") for batch in killed)
    replacements = list(GenerationBatch.objects.filter(job=job, attempt=2))
    assert replacements and all(batch.status == "done" for batch in replacements)
    killed_items = {tuple(item) for batch in killed for item in batch.items}
    assert {tuple(item) for batch in replacements for item in batch.items} <= killed_items
    for image in Image.objects.filter(spec=slow):
        assert default_storage.exists(image.file.name) and image.display_copies.count() == 1
