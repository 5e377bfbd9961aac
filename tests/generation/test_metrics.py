"""Automated metrics per image on tiny random-weight CLIP models built here (no download): the real
loading code (``from_pretrained`` on a directory), rows with the metric's name, weights and
version, idempotent reruns, whole batches only, a message naming the setting when weights are
missing, and the tasks on a real Celery worker listening to the gpu queue only."""

from __future__ import annotations

import io
import math
import uuid

import numpy as np
import pytest
from django.conf import settings as django_settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from generation.metrics import MetricWeightsUnavailable, image_metric_values, image_metrics_compute, job_image_ids
from generation.metrics.scorers import local_fingerprint, scorer_unload
from generation.models import GenerationJob, Image, ImageMetric, ModelSpec, Prompt, PromptSet

#: PickScore's learned temperature is about 100; the tiny stand-in gets exactly that.
PICKSCORE_LOGIT_SCALE = 100.0


def build_tiny_clip(directory, *, seed: int, logit_scale: float | None = None, with_processor: bool = True) -> None:
    """A CLIP model with seeded random weights (two layers of width 32, 32 px images) saved with
    ``save_pretrained``, and its processor (the project's byte-level tokenizer, no download)."""
    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor, CLIPTokenizer

    from generation.tiny import write_clip_tokenizer

    write_clip_tokenizer(directory / "tokenizer")
    tokenizer = CLIPTokenizer.from_pretrained(directory / "tokenizer")
    config = CLIPConfig(
        text_config=dict(
            vocab_size=len(tokenizer), bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id, hidden_size=32, intermediate_size=37, num_attention_heads=4,
            num_hidden_layers=2, max_position_embeddings=77,
        ),
        vision_config=dict(hidden_size=32, intermediate_size=37, num_attention_heads=4, num_hidden_layers=2, image_size=32, patch_size=8),
        projection_dim=16,
    )
    torch.manual_seed(seed)
    model = CLIPModel(config).eval()
    if logit_scale is not None:
        model.logit_scale.data.fill_(math.log(logit_scale))
    model.save_pretrained(directory)
    if with_processor:
        image_processor = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
        CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(directory)


@pytest.fixture(scope="session")
def tiny_clip(tmp_path_factory):
    """{"clip": a CLIP with its processor, "pickscore": weights only (as PickScore_v1 ships),
    "processor": the processor PickScore borrows (as it borrows CLIP-H's)}, built once."""
    root = tmp_path_factory.mktemp("tiny-clip")
    build_tiny_clip(root / "clip", seed=0)
    build_tiny_clip(root / "pickscore", seed=1, logit_scale=PICKSCORE_LOGIT_SCALE, with_processor=False)
    build_tiny_clip(root / "processor", seed=2)
    return {name: root / name for name in ("clip", "pickscore", "processor")}


@pytest.fixture
def metric_settings(settings, tiny_clip):
    settings.EVALSITE_METRIC_CLIP = str(tiny_clip["clip"])
    settings.EVALSITE_METRIC_PICKSCORE = str(tiny_clip["pickscore"])
    settings.EVALSITE_METRIC_PICKSCORE_PROCESSOR = str(tiny_clip["processor"])
    settings.EVALSITE_DEVICE = "cpu"
    return settings


@pytest.fixture(autouse=True)
def no_resident_scorer():
    scorer_unload()
    yield
    scorer_unload()


def noise_png(seed: int, size: int = 64) -> bytes:
    from PIL import Image as PILImage

    pixels = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    PILImage.fromarray(pixels, "RGB").save(buffer, format="PNG")
    return buffer.getvalue()


def make_job(*, prompts: int = 3, seeds=(0, 1)) -> GenerationJob:
    """A job with one spec and an image per prompt and seed, written through storage (no diffusers)."""
    spec = ModelSpec.objects.create(
        name="Metric test model", slug=f"metric-test-{uuid.uuid4().hex[:8]}", weights="/weights/metric-test",
        pipeline_class="StableDiffusionPipeline", steps=1, config_hash="0" * 64,
    )
    prompt_set = PromptSet.objects.create(name="Metric prompts")
    job = GenerationJob.objects.create(prompt_set=prompt_set, seeds=list(seeds))
    job.specs.set([spec])
    for position in range(prompts):
        prompt = Prompt.objects.create(prompt_set=prompt_set, position=position, text=f"a small red cube number {position} on a wooden table")
        for seed in seeds:
            name = default_storage.save(f"images/{uuid.uuid4().hex}.png", ContentFile(noise_png(position * 100 + seed)))
            Image.objects.create(
                spec=spec, prompt=prompt, seed=seed, file=name, width=64, height=64, config_hash=spec.config_hash,
                latency_s=0.01, batch_size=1, device="cpu", torch_version="test", diffusers_version="test",
            )
    return job


def expected_values(weights_dir, processor_dir, image_ids, *, pickscore: bool) -> dict[int, float]:
    """The metric computed the long way, one image at a time, with separately loaded copies."""
    import torch
    from PIL import Image as PILImage
    from transformers import CLIPModel, CLIPProcessor

    model = CLIPModel.from_pretrained(weights_dir, local_files_only=True).eval()
    processor = CLIPProcessor.from_pretrained(processor_dir, local_files_only=True)
    values = {}
    for image in Image.objects.filter(pk__in=image_ids).select_related("prompt"):
        with default_storage.open(image.file.name) as handle:
            picture = PILImage.open(handle).convert("RGB")
        with torch.inference_mode():
            image_features = model.get_image_features(**processor(images=[picture], return_tensors="pt"))
            text_features = model.get_text_features(**processor(text=[image.prompt.text], return_tensors="pt", truncation=True))
        image_features = image_features if isinstance(image_features, torch.Tensor) else image_features.pooler_output
        text_features = text_features if isinstance(text_features, torch.Tensor) else text_features.pooler_output
        cosine = torch.nn.functional.cosine_similarity(image_features, text_features).item()
        values[image.pk] = model.logit_scale.exp().item() * cosine if pickscore else 100.0 * max(cosine, 0.0)
    return values


@pytest.mark.django_db
def test_clip_score_and_pickscore_are_loaded_from_their_directories_and_recorded_per_image(metric_settings, tiny_clip):
    import torch
    import transformers

    job = make_job()
    ids = job_image_ids(job_id=job.pk)
    assert len(ids) == 6
    # Batches of four: one full, one partial; the values must not depend on the batching.
    assert image_metrics_compute(image_ids=ids, metric="clip_score", batch_size=4) == 6
    assert image_metrics_compute(image_ids=ids, metric="pickscore", batch_size=4) == 6
    for metric, weights, processor in (("clip_score", "clip", "clip"), ("pickscore", "pickscore", "processor")):
        rows = list(ImageMetric.objects.filter(metric=metric))
        assert len(rows) == 6
        assert {row.weights for row in rows} == {str(tiny_clip[weights])}
        assert {row.weights_revision for row in rows} == {local_fingerprint(str(tiny_clip[weights]))}
        assert {row.library_version for row in rows} == {f"transformers {transformers.__version__}, torch {torch.__version__}"}
        assert {row.device for row in rows} == {"cpu"}
        expected = expected_values(tiny_clip[weights], tiny_clip[processor], ids, pickscore=metric == "pickscore")
        assert {row.image_id: row.value for row in rows} == pytest.approx(expected, abs=1e-4)
        assert image_metric_values(image_ids=ids, metric=metric) == pytest.approx(expected, abs=1e-4)
    pick = [row.value for row in ImageMetric.objects.filter(metric="pickscore")]
    # Random weights give cosines of either sign: PickScore keeps the sign, CLIP score clips it at 0.
    assert all(abs(v) <= PICKSCORE_LOGIT_SCALE + 1e-6 for v in pick) and len(set(pick)) == 6
    assert min(ImageMetric.objects.filter(metric="clip_score").values_list("value", flat=True)) >= 0.0
    # Different weights are different rows, not a different value of the same ones.
    assert local_fingerprint(str(tiny_clip["clip"])) != local_fingerprint(str(tiny_clip["processor"]))


@pytest.mark.django_db
def test_a_rerun_skips_scored_images_and_new_weights_add_rows(metric_settings, tiny_clip):
    job = make_job(prompts=2)
    ids = job_image_ids(job_id=job.pk)
    assert image_metrics_compute(image_ids=ids[:2], metric="clip_score") == 2
    first = dict(ImageMetric.objects.values_list("image_id", "computed_at"))
    assert image_metrics_compute(image_ids=ids, metric="clip_score") == 2  # only the two new ones
    assert image_metrics_compute(image_ids=ids, metric="clip_score") == 0
    assert ImageMetric.objects.count() == 4
    assert all(ImageMetric.objects.get(image_id=i).computed_at == at for i, at in first.items())
    # Another CLIP (the processor's model) scores the same images again under its own weights.
    metric_settings.EVALSITE_METRIC_CLIP = str(tiny_clip["processor"])
    assert image_metrics_compute(image_ids=ids, metric="clip_score") == 4
    assert ImageMetric.objects.filter(metric="clip_score").values("weights").distinct().count() == 2
    assert set(image_metric_values(image_ids=ids, metric="clip_score", weights=str(tiny_clip["clip"]))) == set(ids)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "setting, metric",
    [("EVALSITE_METRIC_CLIP", "clip_score"), ("EVALSITE_METRIC_PICKSCORE", "pickscore"), ("EVALSITE_METRIC_PICKSCORE_PROCESSOR", "pickscore")],
)
def test_a_missing_weights_directory_fails_naming_the_setting_and_writes_nothing(metric_settings, tmp_path, setting, metric):
    job = make_job(prompts=1)
    setattr(metric_settings, setting, str(tmp_path / "not-copied-here"))
    with pytest.raises(MetricWeightsUnavailable) as error:
        image_metrics_compute(image_ids=job_image_ids(job_id=job.pk), metric=metric)
    message = str(error.value)
    assert setting in message and str(tmp_path / "not-copied-here") in message and "does not exist on this worker" in message
    assert ImageMetric.objects.count() == 0


@pytest.mark.django_db
def test_hub_weights_absent_from_an_offline_cache_fail_naming_the_setting(metric_settings, tmp_path, monkeypatch):
    import huggingface_hub.constants as hub_constants

    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    metric_settings.EVALSITE_METRIC_CLIP = "nobody-here/no-such-clip"
    job = make_job(prompts=1)
    with pytest.raises(MetricWeightsUnavailable) as error:
        image_metrics_compute(image_ids=job_image_ids(job_id=job.pk), metric="clip_score")
    message = str(error.value)
    assert "EVALSITE_METRIC_CLIP" in message and "'nobody-here/no-such-clip'" in message and "offline worker" in message
    assert ImageMetric.objects.count() == 0


@pytest.mark.django_db
def test_a_failure_mid_run_leaves_whole_batches_and_a_rerun_finishes(metric_settings):
    job = make_job(prompts=3)
    ids = job_image_ids(job_id=job.pk)
    lost = Image.objects.get(pk=ids[3])  # in the second batch of two
    saved = default_storage.open(lost.file.name).read()
    default_storage.delete(lost.file.name)
    with pytest.raises(FileNotFoundError):
        image_metrics_compute(image_ids=ids, metric="clip_score", batch_size=2)
    assert sorted(ImageMetric.objects.values_list("image_id", flat=True)) == ids[:2]
    default_storage.save(lost.file.name, ContentFile(saved))
    assert image_metrics_compute(image_ids=ids, metric="clip_score", batch_size=2) == 4
    assert sorted(ImageMetric.objects.values_list("image_id", flat=True)) == ids


def test_an_unknown_metric_is_refused_with_the_known_ones():
    with pytest.raises(ValueError, match="Unknown metric 'fid': choose one of clip_score, pickscore"):
        image_metrics_compute(image_ids=[1], metric="fid")


@pytest.mark.django_db
def test_the_job_task_in_process_and_the_enqueue_after_commit(metric_settings, django_capture_on_commit_callbacks):
    from generation.metric_tasks import metrics_compute_images, metrics_compute_job
    from generation.metrics import job_image_metrics_enqueue

    job = make_job(prompts=2)
    ids = job_image_ids(job_id=job.pk)
    assert metrics_compute_images.delay(ids[:1], "pickscore").get() == 1
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert job_image_metrics_enqueue(job_id=job.pk) == ["clip_score", "pickscore"]
    assert ImageMetric.objects.count() == 1, "nothing is sent before the transaction commits"
    for callback in callbacks:
        callback()
    assert ImageMetric.objects.filter(metric="clip_score").count() == 4
    assert ImageMetric.objects.filter(metric="pickscore").count() == 4
    assert metrics_compute_job.delay(job.pk, "clip_score").get() == 0


@pytest.mark.slow
def test_the_metric_tasks_run_on_a_real_worker_that_listens_to_the_gpu_queue_only(transactional_db, redis_server, artifacts_dir, tiny_clip, metric_settings, request):
    import redis

    from generation.metric_tasks import metrics_compute_images, metrics_compute_job
    from tests.conftest import tasks_sent_to, worker_database_url
    from tests.processes import CeleryWorker, wait_for

    redis.Redis.from_url(redis_server.url).flushdb()
    job = make_job(prompts=2)
    ids = job_image_ids(job_id=job.pk)
    worker_env = {
        "EVALSITE_METRIC_CLIP": str(tiny_clip["clip"]),
        "EVALSITE_METRIC_PICKSCORE": str(tiny_clip["pickscore"]),
        "EVALSITE_METRIC_PICKSCORE_PROCESSOR": str(tiny_clip["processor"]),
        "EVALSITE_DEVICE": "cpu",
    }
    with tasks_sent_to(redis_server.url):
        worker = CeleryWorker(
            broker_url=redis_server.url, database_url=worker_database_url(), data_dir=str(django_settings.DATA_DIR),
            queues="gpu", log_path=artifacts_dir / "logs" / f"celery-{request.node.name}.log", extra_env=worker_env,
        ).start()
        try:
            metrics_compute_job.delay(job.pk, "clip_score")
            metrics_compute_images.delay(ids, "pickscore")
            wait_for(lambda: ImageMetric.objects.count() == 8, timeout=120, what="the worker to score 4 images with 2 metrics", interval=0.5)
            log = worker.log()
        finally:
            worker.stop()
    assert "generation.metrics_compute_job" in log and "generation.metrics_compute_images" in log
    assert log.count("succeeded") == 2, log[-3000:]
    # The worker's values are the ones this process computes from the same weights.
    for metric, weights, processor in (("clip_score", "clip", "clip"), ("pickscore", "pickscore", "processor")):
        rows = dict(ImageMetric.objects.filter(metric=metric).values_list("image_id", "value"))
        expected = expected_values(tiny_clip[weights], tiny_clip[processor], ids, pickscore=metric == "pickscore")
        assert rows == pytest.approx(expected, abs=1e-4)
        assert set(ImageMetric.objects.filter(metric=metric).values_list("weights_revision", flat=True)) == {local_fingerprint(str(tiny_clip[weights]))}


@pytest.mark.django_db
def test_image_embeddings_feed_the_diversity_measures(metric_settings):
    from generation.metrics import image_embeddings_compute
    from ratings.stats.diversity import mean_cosine_distance, vendi_score

    noise = make_job(prompts=1, seeds=(0, 1, 2, 3))
    noise_ids = job_image_ids(job_id=noise.pk)
    # A model that returns one picture for every seed: four rows sharing one file.
    same = make_job(prompts=1, seeds=(0, 1, 2, 3))
    same_ids = job_image_ids(job_id=same.pk)
    one_file = Image.objects.get(pk=same_ids[0]).file.name
    Image.objects.filter(pk__in=same_ids).update(file=one_file)
    ids, embeddings = image_embeddings_compute(image_ids=noise_ids + same_ids)
    assert ids == sorted(noise_ids + same_ids) and embeddings.shape == (8, 16)
    assert np.linalg.norm(embeddings, axis=1) == pytest.approx(np.ones(8), abs=1e-5)
    by_id = dict(zip(ids, embeddings))
    same_rows = np.stack([by_id[i] for i in same_ids])
    noise_rows = np.stack([by_id[i] for i in noise_ids])
    assert vendi_score(same_rows) == pytest.approx(1.0, abs=1e-5)
    assert mean_cosine_distance(same_rows) == pytest.approx(0.0, abs=1e-5)
    assert vendi_score(noise_rows) > 1.0 + 1e-3 and mean_cosine_distance(noise_rows) > 1e-3


def test_the_metric_tasks_are_routed_to_the_gpu_queue_and_registered_for_workers():
    from evalsite.celery import app
    from common.queues import GPU_QUEUE

    for name in ("generation.metrics_compute_images", "generation.metrics_compute_job"):
        assert app.amqp.router.route({}, name)["queue"].name == GPU_QUEUE
    assert "generation.metric_tasks" in app.conf.imports
