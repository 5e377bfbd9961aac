"""Generation jobs as batch rows: queueing spec by spec, claiming, idempotence, halving on
out-of-memory, retries on transient faults, reconciliation of lost batches, and progress."""

from datetime import timedelta

import numpy as np
import pytest
from django.db import IntegrityError, OperationalError, transaction
from django.utils import timezone

from generation import inflight, jobs, pipelines, selectors
from generation.models import GenerationBatch, GenerationJob, Image


def job_for(specs, prompt_set, seeds=(0, 1)):
    return jobs.job_create(specs=specs, prompt_set=prompt_set, seeds=list(seeds), display_size=32)


def queued_single_batch(spec, prompt_set, capture_on_commit):
    """A job of one spec x the 8 prompts x seed 0, queued as one batch (its task not sent)."""
    job = job_for([spec], prompt_set, seeds=[0])
    with capture_on_commit():
        jobs.job_enqueue(job=job, batch_size=8)
    return job, GenerationBatch.objects.get(job=job)


@pytest.mark.django_db
def test_enqueue_queues_every_spec_with_the_same_seeds_in_spec_order_once(tiny_specs, prompt_set, django_capture_on_commit_callbacks):
    job = job_for(tiny_specs, prompt_set)
    with django_capture_on_commit_callbacks() as sent:
        assert jobs.job_enqueue(job=job, batch_size=4) == 3 * 4  # 3 specs x 16 images / 4
    assert len(sent) == 12
    batches = list(GenerationBatch.objects.filter(job=job).order_by("pk"))
    assert [b.spec_id for b in batches] == sorted(b.spec_id for b in batches), "one spec's batches before the next"
    per_spec = {}
    for batch in batches:
        per_spec.setdefault(batch.spec_id, set()).update(map(tuple, batch.items))
    assert len({frozenset(items) for items in per_spec.values()}) == 1, "every model gets the same prompt/seed pairs"
    with django_capture_on_commit_callbacks() as sent_again:
        assert jobs.job_enqueue(job=job, batch_size=4) == 0, "images already in flight are not queued twice"
    assert sent_again == []
    progress = selectors.job_progress(job=job)
    assert progress["done"] == 0 and progress["total"] == 48
    assert [row["batches_queued"] for row in progress["per_spec"]] == [4, 4, 4]


@pytest.mark.django_db
def test_a_batch_runs_once_and_its_images_are_never_duplicated(tiny_specs, prompt_set, django_capture_on_commit_callbacks):
    job = job_for(tiny_specs[:1], prompt_set, seeds=[5])
    with django_capture_on_commit_callbacks():
        jobs.job_enqueue(job=job, batch_size=8)
    batch = GenerationBatch.objects.get(job=job)
    assert jobs.batch_run(batch_id=batch.pk) == 8
    batch.refresh_from_db()
    assert batch.status == "done" and batch.finished_at is not None
    assert jobs.batch_run(batch_id=batch.pk) == 0, "a done batch is not claimed again"
    job.refresh_from_db()
    assert job.status == GenerationJob.Status.DONE and Image.objects.count() == 8
    image = Image.objects.first()
    with pytest.raises(IntegrityError), transaction.atomic():
        Image.objects.create(
            spec=image.spec, prompt=image.prompt, seed=image.seed, file="x.png", width=1, height=1, config_hash="x",
            latency_s=1, batch_size=1, device="cpu", torch_version="x", diffusers_version="x",
        )


@pytest.mark.django_db
def test_out_of_memory_halves_the_batch_and_the_images_match_those_made_alone(tiny_specs, prompt_set, monkeypatch):
    import torch

    spec = tiny_specs[0]
    prompts = list(prompt_set.prompts.all()[:5])
    items = [[p.pk, 3] for p in prompts]
    real_sample = pipelines.sample
    sizes = []

    def sample_that_runs_out_of_memory_above_two(pipe, config, texts, seeds, device):
        sizes.append(len(texts))
        if len(texts) > 2:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real_sample(pipe, config, texts, seeds, device)

    monkeypatch.setattr(pipelines, "sample", sample_that_runs_out_of_memory_above_two)
    job = job_for([spec], prompt_set, seeds=[3])
    made = jobs.image_batch_generate(job_id=job.pk, spec_id=spec.pk, items=items)
    assert sizes == [5, 2, 3, 1, 2]
    assert sorted(image.batch_size for image in made) == [1, 2, 2, 2, 2]
    monkeypatch.setattr(pipelines, "sample", real_sample)
    from django.core.files.storage import default_storage
    from PIL import Image as PILImage

    from generation.configs import spec_config

    config = spec_config(spec)
    pipe = pipelines.resident_pipeline(config, spec.config_hash, "cpu")
    for image in made:
        alone = np.asarray(real_sample(pipe, config, [image.prompt.text], [3], "cpu").images[0], dtype=int)
        with default_storage.open(image.file.name) as handle:
            stored = np.asarray(PILImage.open(handle).convert("RGB"), dtype=int)
        assert np.abs(alone - stored).max() <= 1, "same seed, same image, within one level (CPU kernels differ by batch size)"


def test_a_single_image_that_does_not_fit_raises(monkeypatch):
    import torch

    def always_out_of_memory(*args):
        raise RuntimeError("CUDA error: out of memory")

    monkeypatch.setattr(pipelines, "sample", always_out_of_memory)
    with pytest.raises(RuntimeError, match="out of memory"):
        pipelines.sample_halving_on_oom(None, {}, ["a"], [0], "cpu")
    monkeypatch.setattr(pipelines, "sample", lambda *a: (_ for _ in ()).throw(ValueError("not memory")))
    with pytest.raises(ValueError):
        pipelines.sample_halving_on_oom(None, {}, ["a", "b"], [0, 1], "cpu")
    assert torch.cuda.OutOfMemoryError.__mro__[1] is RuntimeError


@pytest.mark.django_db
def test_a_transient_fault_releases_the_batch_and_retries_the_task(tiny_specs, prompt_set, monkeypatch, django_capture_on_commit_callbacks):
    from generation import tasks

    job, batch = queued_single_batch(tiny_specs[0], prompt_set, django_capture_on_commit_callbacks)
    real_run = jobs.batch_run
    calls = []

    def flaky_run(**kwargs):
        calls.append(kwargs["batch_id"])
        if len(calls) == 1:
            jobs.batch_claim(batch_id=kwargs["batch_id"])
            raise OperationalError("server closed the connection unexpectedly")
        return real_run(**kwargs)

    monkeypatch.setattr(jobs, "batch_run", flaky_run)
    result = tasks.generate_batch.apply(args=[batch.pk], throw=False)  # eager apply replays the retry in-process
    assert result.successful() and result.result == 8
    assert calls == [batch.pk, batch.pk]
    batch.refresh_from_db()
    assert batch.status == "done" and "OperationalError" not in batch.error


@pytest.mark.django_db
def test_reconciliation_requeues_only_what_is_missing_and_not_in_flight(tiny_specs, prompt_set, django_capture_on_commit_callbacks, settings):
    settings.EVALSITE_BATCH_LEASE_S = 30
    job = job_for(tiny_specs[:1], prompt_set, seeds=[0])
    with django_capture_on_commit_callbacks():
        jobs.job_enqueue(job=job, batch_size=4)
    dead, alive = GenerationBatch.objects.filter(job=job).order_by("pk")
    long_ago = timezone.now() - timedelta(minutes=5)
    GenerationBatch.objects.filter(pk=dead.pk).update(status="running", claimed_at=long_ago, heartbeat_at=long_ago)
    GenerationBatch.objects.filter(pk=alive.pk).update(status="running", claimed_at=long_ago, heartbeat_at=timezone.now())
    # The dead worker had written one image of its batch before it was killed.
    jobs.image_batch_generate(job_id=job.pk, spec_id=dead.spec_id, items=dead.items[:1])

    with django_capture_on_commit_callbacks() as sent:
        assert jobs.jobs_reconcile() == 1
    assert len(sent) == 1
    dead.refresh_from_db()
    alive.refresh_from_db()
    assert dead.status == "superseded" and alive.status == "running"
    replacement = GenerationBatch.objects.get(job=job, status="queued")
    assert replacement.items == dead.items[1:] and replacement.attempt == 2
    with django_capture_on_commit_callbacks() as sent_again:
        assert jobs.jobs_reconcile() == 0, "the replacement is in flight"
    assert sent_again == []


@pytest.mark.django_db
def test_reconciliation_gives_up_after_the_attempt_limit(tiny_specs, prompt_set, django_capture_on_commit_callbacks, settings):
    settings.EVALSITE_BATCH_MAX_ATTEMPTS = 2
    job, batch = queued_single_batch(tiny_specs[0], prompt_set, django_capture_on_commit_callbacks)
    jobs.batch_fail(batch_id=batch.pk, error="ValueError: broken weights")
    with django_capture_on_commit_callbacks():
        assert jobs.jobs_reconcile() == 1
    retry = GenerationBatch.objects.get(job=job, status="queued")
    jobs.batch_fail(batch_id=retry.pk, error="ValueError: broken weights")
    with django_capture_on_commit_callbacks() as sent:
        assert jobs.jobs_reconcile() == 0
    assert sent == []
    retry.refresh_from_db()
    assert retry.status == "abandoned"


@pytest.mark.django_db(transaction=True)
def test_write_behind_commits_images_after_the_task_returns_and_keeps_the_batch_running_until_then(tiny_specs, prompt_set):
    job = job_for(tiny_specs[:1], prompt_set, seeds=[0])
    jobs.job_enqueue(job=job, batch_size=8)  # eager in tests: runs it in-process, writes in this thread
    assert Image.objects.count() == 8
    job2 = job_for(tiny_specs[1:2], prompt_set, seeds=[0])
    batch = GenerationBatch.objects.create(job=job2, spec=tiny_specs[1], items=[[p.pk, 0] for p in prompt_set.prompts.all()])
    assert jobs.batch_run(batch_id=batch.pk, write_behind=True) == 8
    inflight.shutdown()
    batch.refresh_from_db()
    assert batch.status == "done" and batch.pk not in inflight.held()
    assert Image.objects.filter(spec=tiny_specs[1]).count() == 8
