"""Automated metrics, their agreement with the raters, and diversity across seeds, beside the
ratings: in the leaderboard document, the results page, the API and the exports (issue 16).

The study is built here with images whose content the test controls: model "same" draws one
picture per prompt whatever the seed, model "wobble" the same picture with seed noise, model
"noise" independent noise for every seed. Each image has a hidden quality; the raters choose the
better image nine times in ten; CLIP score is set to the hidden quality (a perfect metric),
PickScore to a shuffle of it (a useless one)."""

from __future__ import annotations

import hashlib
import io
import json
import random
import uuid

import numpy as np
import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from rest_framework.test import APIClient

from generation.metrics import METRICS
from generation.models import DisplayCopy, Image, ImageMetric, ModelSpec
from generation.prompts import prompt_set_create
from ratings import raters, studies
from ratings.results import automated, exports, leaderboards, plots
from tests.factories import comparison_serve, vote_record

MODELS = ("same", "wobble", "noise")
SIZE = 48
RATER_CONSISTENCY = 0.9


def _png(pixels: np.ndarray) -> bytes:
    from PIL import Image as PILImage

    buffer = io.BytesIO()
    PILImage.fromarray(pixels.astype(np.uint8), "RGB").save(buffer, format="PNG")
    return buffer.getvalue()


def _pixels(model: str, prompt_index: int, seed: int) -> np.ndarray:
    base = np.random.default_rng(1000 + prompt_index).integers(0, 256, (SIZE, SIZE, 3))
    if model == "same":
        return base
    noise = np.random.default_rng([prompt_index, seed, len(model)])
    if model == "wobble":
        return np.clip(base + noise.normal(0, 25, base.shape), 0, 255)
    return noise.integers(0, 256, base.shape)


def _study(*, seeds, n_prompts: int = 6, owner=None, votes_per_pair: int = 2, set_criteria=()):
    specs = [
        ModelSpec.objects.create(
            name=f"Model {name}", slug=f"model-{name}", weights=f"/weights/{name}", pipeline_class="StableDiffusionPipeline",
            steps=1, config_hash=hashlib.sha256(name.encode()).hexdigest(),
        )
        for name in MODELS
    ]
    prompt_set = prompt_set_create(name="Metric prompts", prompts=[{"text": f"a drawing of thing {i}"} for i in range(n_prompts)])
    study = studies.study_create(
        name="Metric study", specs=specs, prompt_set=prompt_set, seeds=list(seeds), display_size=SIZE, votes_per_pair=votes_per_pair,
        attention_check_rate=0, repeat_share=0, min_seconds_per_vote=0, owner=owner, set_criteria=list(set_criteria),
    )
    for p, prompt in enumerate(prompt_set.prompts.order_by("position")):
        for seed in seeds:
            for spec, model in zip(specs, MODELS):
                content = _png(_pixels(model, p, seed))
                image = Image.objects.create(
                    spec=spec, prompt=prompt, seed=seed, file=default_storage.save(f"images/{uuid.uuid4().hex}.png", ContentFile(content)),
                    width=SIZE, height=SIZE, config_hash=spec.config_hash, latency_s=0.01, batch_size=1, device="cpu",
                    torch_version="test", diffusers_version="test",
                )
                DisplayCopy.objects.create(image=image, size=SIZE, file=default_storage.save(f"display/{uuid.uuid4().hex}.png", ContentFile(content)))
    studies.study_open(study=study, rng=random.Random(0))
    study.refresh_from_db()
    return study


def _hidden_quality(study) -> dict[int, float]:
    """Image id -> quality: the model's level (same < wobble < noise) plus per-image spread."""
    rng = np.random.default_rng(7)
    level = {f"model-{name}": i for i, name in enumerate(MODELS)}
    return {
        image.pk: level[image.spec.slug] + rng.normal(0, 0.7)
        for image in Image.objects.filter(spec__in=study.job.specs.all()).select_related("spec").order_by("pk")
    }


def _score(study, quality: dict[int, float]) -> None:
    """CLIP score = the hidden quality; PickScore = the same values shuffled over the images."""
    ids = sorted(quality)
    shuffled = np.random.default_rng(3).permutation([quality[i] for i in ids])
    rows = []
    for metric, values in (("clip_score", [quality[i] for i in ids]), ("pickscore", shuffled)):
        weights = getattr(settings, METRICS[metric].setting)
        rows += [
            ImageMetric(image_id=i, metric=metric, weights=weights, weights_revision="test", library_version="test", device="cpu", value=float(v))
            for i, v in zip(ids, values)
        ]
    ImageMetric.objects.bulk_create(rows)


def _vote(study, quality: dict[int, float], n_raters: int = 2) -> None:
    rng = random.Random(11)
    for r in range(n_raters):
        rater = raters.rater_invite(study=study, user=get_user_model().objects.create_user(f"rater{r}", password="pw"))
        while (comparison := comparison_serve(study=study, rater=rater)) is not None:
            a_better = quality[comparison.image_a_id] > quality[comparison.image_b_id]
            answers = {}
            for criterion in study.criteria:
                chose_a = a_better if rng.random() < RATER_CONSISTENCY else not a_better
                answers[criterion] = "left" if chose_a == comparison.left_is_a else "right"
            vote_record(token=comparison.token, rater=rater, answers=answers, response_ms=800)


@pytest.fixture
def staff(db):
    return get_user_model().objects.create_user("results-staff", password="pw", is_staff=True)


@pytest.fixture
def scored_study(db, staff):
    study = _study(seeds=[0, 1, 2], owner=staff)
    quality = _hidden_quality(study)
    _score(study, quality)
    _vote(study, quality)
    return study


def _agreement(document: dict) -> dict[tuple[str, str], dict]:
    return {(row["metric"], row["criterion"]): row for row in document["automated"]["agreement"]}


def test_a_metric_equal_to_the_truth_agrees_with_the_raters_and_a_shuffled_one_does_not(scored_study):
    document = leaderboards.study_leaderboard(study=scored_study, rounds=300, seed=1)
    agreement = _agreement(document)
    assert document["provenance"]["votes"] > 150
    for criterion in scored_study.criteria:
        truth, shuffled = agreement[("clip_score", criterion)], agreement[("pickscore", criterion)]
        # Near the raters' own consistency (0.9), and its interval covers it.
        assert truth["accuracy"] > 0.8 and truth["ci_low"] <= RATER_CONSISTENCY <= truth["ci_high"] + 0.05
        # A shuffle is chance: about 0.5 (100 votes: one standard error is 0.05), far below the truth.
        assert 0.25 < shuffled["accuracy"] < 0.75 and shuffled["ci_high"] < truth["ci_low"]
        assert truth["votes"] == shuffled["votes"] > 70
        # The perfect metric ranks the models as the raters' ratings do.
        assert truth["spearman"] == pytest.approx(1.0) and truth["models"] == 3
    clip = next(table for table in document["automated"]["metrics"] if table["metric"] == "clip_score")
    assert [row["model"] for row in clip["models"]] == ["model-noise", "model-wobble", "model-same"]
    assert all(row["ci_low"] <= row["mean"] <= row["ci_high"] and row["prompts"] == 6 for row in clip["models"])


def test_exports_carry_the_metric_agreement_and_diversity_columns(scored_study):
    automated.study_diversity_compute(study=scored_study, rounds=200)
    csv_text = exports.leaderboard_export(study=scored_study, fmt="csv", rounds=200)[0].decode()
    assert "CLIP score,model-noise," in csv_text and "diversity (pixel),model-same," in csv_text
    assert "\nclip_score,prompt_adherence," in csv_text and "accuracy" in csv_text
    markdown = exports.leaderboard_export(study=scored_study, fmt="md", rounds=200)[0].decode()
    assert "| CLIP score | model-noise |" in markdown and "| clip\\_score | prompt\\_adherence |" in markdown
    latex = exports.leaderboard_export(study=scored_study, fmt="latex", rounds=200)[0].decode()
    assert "CLIP score" in latex and "diversity (pixel)" in latex and "Kendall" in latex
    document = json.loads(exports.leaderboard_export(study=scored_study, fmt="json", rounds=200)[0])
    assert {row["metric"] for row in document["automated"]["agreement"]} == {"clip_score", "pickscore"}
    assert document["automated"]["diversity"]["measures"]["pixel"]["models"]


def test_a_study_without_votes_has_a_metric_only_leaderboard(db, staff, client):
    study = _study(seeds=[0, 1], owner=staff, n_prompts=4)
    _score(study, _hidden_quality(study))
    document = leaderboards.study_leaderboard(study=study, rounds=200)
    assert document["models"] == [] and document["automated"]["agreement"] == []
    clip = next(table for table in document["automated"]["metrics"] if table["metric"] == "clip_score")
    assert clip["models"][0]["model"] == "model-noise" and clip["images"] == 4 * 2 * 3
    latex = exports.leaderboard_export(study=study, fmt="latex", rounds=200)[0].decode()
    assert "metric-only leaderboard" in latex and "model-noise" in latex
    client.force_login(staff)
    page = client.get(f"/studies/{study.pk}/leaderboard/").content.decode()
    assert "metric-only leaderboard: no votes yet" in page and "CLIP score" in page and "PickScore" in page
    api = APIClient()
    api.force_authenticate(staff)
    body = api.get(f"/api/v1/studies/{study.pk}/leaderboard/").json()
    assert [row["model"] for row in body["automated"]["metrics"][0]["models"]][0] == "model-noise"


def test_without_metrics_or_diversity_the_page_says_how_to_compute_them(db, staff, client):
    study = _study(seeds=[0, 1], owner=staff, n_prompts=2)
    client.force_login(staff)
    page = client.get(f"/studies/{study.pk}/leaderboard/").content.decode()
    assert "manage.py compute_metrics --study" in page and "EVALSITE_METRIC_CLIP" in page
    assert "Compute diversity" in page and "not computed yet" in page
    assert 'class="automated"' not in page  # no empty columns


def test_diversity_orders_identical_images_lowest_and_noise_highest_on_the_page_and_api(db, staff, client, settings, django_capture_on_commit_callbacks):
    settings.EVALSITE_METRIC_CLIP = ""  # no embedding model configured: pixels only, on the default queue
    study = _study(seeds=[0, 1, 2], owner=staff, n_prompts=4)
    api = APIClient()
    api.force_authenticate(staff)
    with django_capture_on_commit_callbacks(execute=True):  # the task runs in-process (eager) after commit
        answer = api.post(f"/api/v1/studies/{study.pk}/diversity/")
    assert answer.status_code == 202 and "default queue" in answer.json()["detail"]
    body = api.get(f"/api/v1/studies/{study.pk}/leaderboard/").json()
    pixel = {row["model"]: row for row in body["automated"]["diversity"]["measures"]["pixel"]["models"]}
    assert pixel["model-same"]["mean"] == pytest.approx(0.0, abs=1e-6)
    assert pixel["model-same"]["mean"] < pixel["model-wobble"]["mean"] < pixel["model-noise"]["mean"]
    assert all(row["prompts"] == 4 for row in pixel.values())
    client.force_login(staff)
    page = client.get(f"/studies/{study.pk}/leaderboard/").content.decode()
    assert 'data-measure="diversity (pixel)"' in page and "Compute diversity again" in page


def test_diversity_with_clip_configured_goes_to_the_gpu_queue_whose_worker_notes_weights_it_cannot_load(
    db, staff, settings, tmp_path, django_capture_on_commit_callbacks
):
    """The web process reads the setting only; the worker finds the weights missing, still
    computes the pixel measure, and says which setting to fix."""
    settings.EVALSITE_METRIC_CLIP = str(tmp_path / "no-such-clip")
    study = _study(seeds=[0, 1], owner=staff, n_prompts=2)
    api = APIClient()
    api.force_authenticate(staff)
    with django_capture_on_commit_callbacks(execute=True):
        answer = api.post(f"/api/v1/studies/{study.pk}/diversity/")
    assert answer.status_code == 202 and "gpu queue" in answer.json()["detail"]
    diversity = automated.study_diversity(study=study)
    assert "pixel" in diversity["measures"] and "embedding" not in diversity["measures"]
    assert any("embedding diversity not computed" in note and "EVALSITE_METRIC_CLIP" in note for note in diversity["notes"])


@pytest.mark.parametrize("clip", ["", "nobody-here/no-such-clip"], ids=["no-clip-setting", "clip-weights-not-on-this-worker"])
def test_a_study_whose_images_are_all_made_gets_its_diversity_without_anyone_asking(
    db, staff, client, settings, django_capture_on_commit_callbacks, clip
):
    """job_done: the last batch, or an enqueue that finds nothing to make (a clone whose images
    all exist), marks the job done, and the study's diversity is computed: pixels only when the
    worker has no CLIP weights (finishing a job never starts a download)."""
    from generation import jobs
    from generation.models import GenerationJob

    settings.EVALSITE_METRIC_CLIP = clip
    study = _study(seeds=[0, 1], owner=staff, n_prompts=3)
    GenerationJob.objects.filter(pk=study.job_id).update(status=GenerationJob.Status.RUNNING)
    assert automated.study_diversity(study=study) is None
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs.job_enqueue(job=study.job) == 0  # every image exists: nothing to queue
    assert GenerationJob.objects.get(pk=study.job_id).status == GenerationJob.Status.DONE
    diversity = automated.study_diversity(study=study)
    assert set(diversity["measures"]) == {"pixel"} and diversity["notes"] == []
    pixel = {row["model"]: row["mean"] for row in diversity["measures"]["pixel"]["models"]}
    assert pixel["model-same"] < pixel["model-wobble"] < pixel["model-noise"]
    client.force_login(staff)
    page = client.get(f"/studies/{study.pk}/leaderboard/").content.decode()
    assert 'data-measure="diversity (pixel)"' in page and "not computed yet" not in page


def test_a_failing_follow_up_does_not_fail_the_generation_that_finished(db, staff, settings, caplog, django_capture_on_commit_callbacks):
    from generation import jobs, signals
    from generation.models import GenerationJob

    def broken(sender, *, job_id, **kwargs):
        raise RuntimeError("follow-up broke")

    settings.EVALSITE_METRIC_CLIP = ""
    study = _study(seeds=[0], owner=staff, n_prompts=1)  # one seed: no diversity to queue
    GenerationJob.objects.filter(pk=study.job_id).update(status=GenerationJob.Status.RUNNING)
    signals.job_done.connect(broken, dispatch_uid="test-broken")
    try:
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            jobs.job_refresh_status(job_id=study.job_id)
    finally:
        signals.job_done.disconnect(dispatch_uid="test-broken")
    assert GenerationJob.objects.get(pk=study.job_id).status == GenerationJob.Status.DONE
    assert callbacks == [] and automated.study_diversity(study=study) is None
    assert f"After job {study.job_id} was done" in caplog.text and "follow-up broke" in caplog.text


def test_one_seed_says_diversity_needs_two(db, staff, client):
    study = _study(seeds=[0], owner=staff, n_prompts=2)
    document = leaderboards.study_leaderboard(study=study, rounds=100)
    assert "needs at least two seeds" in document["automated"]["diversity"]["notes"][0]
    assert "needs at least two seeds" in automated.study_diversity_enqueue(study=study)
    client.force_login(staff)
    page = client.get(f"/studies/{study.pk}/leaderboard/").content.decode()
    assert "needs at least two seeds" in page and "Compute diversity" not in page


def test_rating_against_diversity_plot(scored_study):
    automated.study_diversity_compute(study=scored_study, rounds=100)
    content, content_type, name = plots.plot_export(study=scored_study, plot="diversity", fmt="svg")
    assert content_type == "image/svg+xml" and name.endswith("diversity.svg")
    assert b"model-noise" in content and b"MS-SSIM" in content


# --- with real scorers: tiny random-weight CLIP models built in the test (no downloads) ---------


@pytest.fixture(scope="module")
def tiny_clip_dirs(tmp_path_factory):
    from tests.generation.test_metrics import PICKSCORE_LOGIT_SCALE, build_tiny_clip

    root = tmp_path_factory.mktemp("results-tiny-clip")
    build_tiny_clip(root / "clip", seed=0)
    build_tiny_clip(root / "pickscore", seed=1, logit_scale=PICKSCORE_LOGIT_SCALE, with_processor=False)
    build_tiny_clip(root / "processor", seed=2)
    return root


@pytest.fixture
def tiny_metric_settings(settings, tiny_clip_dirs):
    from generation.metrics.scorers import scorer_unload

    settings.EVALSITE_METRIC_CLIP = str(tiny_clip_dirs / "clip")
    settings.EVALSITE_METRIC_PICKSCORE = str(tiny_clip_dirs / "pickscore")
    settings.EVALSITE_METRIC_PICKSCORE_PROCESSOR = str(tiny_clip_dirs / "processor")
    settings.EVALSITE_DEVICE = "cpu"
    scorer_unload()
    yield settings
    scorer_unload()


def test_compute_metrics_command_scores_the_study_and_its_embedding_diversity(db, staff, tiny_metric_settings):
    from django.core.management import call_command

    study = _study(seeds=[0, 1, 2], owner=staff, n_prompts=2)
    out = io.StringIO()
    call_command("compute_metrics", "--study", str(study.pk), "--diversity", "--embeddings", stdout=out)
    assert "CLIP score: 18 of 18 images scored now" in out.getvalue() and "PickScore: 18 of 18" in out.getvalue()
    document = leaderboards.study_leaderboard(study=study, rounds=100)
    assert {table["metric"] for table in document["automated"]["metrics"]} == {"clip_score", "pickscore"}
    embedding = {row["model"]: row["mean"] for row in document["automated"]["diversity"]["measures"]["embedding"]["models"]}
    assert embedding["model-same"] == pytest.approx(1.0, abs=1e-3)  # the same picture k times: one effective image
    assert embedding["model-same"] < embedding["model-noise"]


def test_compute_metrics_command_names_the_setting_when_weights_are_missing(db, staff, tiny_metric_settings, tmp_path):
    from django.core.management import CommandError, call_command

    study = _study(seeds=[0, 1], owner=staff, n_prompts=1)
    tiny_metric_settings.EVALSITE_METRIC_CLIP = str(tmp_path / "no-clip-here")
    with pytest.raises(CommandError, match="EVALSITE_METRIC_CLIP"):
        call_command("compute_metrics", "--study", str(study.pk), "--metric", "clip_score", stdout=io.StringIO())
    assert not ImageMetric.objects.filter(image__spec__in=study.job.specs.all()).exists()


def test_a_finished_job_queues_the_metrics_whose_weights_are_on_the_worker(db, staff, tiny_metric_settings, django_capture_on_commit_callbacks):
    from generation import jobs
    from generation.models import GenerationJob

    study = _study(seeds=[0, 1], owner=staff, n_prompts=1)
    GenerationJob.objects.filter(pk=study.job_id).update(status=GenerationJob.Status.RUNNING)
    tiny_metric_settings.EVALSITE_METRIC_PICKSCORE = "nobody-here/no-such-pickscore"  # a hub id not in the cache
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        jobs.job_refresh_status(job_id=study.job_id)
    assert GenerationJob.objects.get(pk=study.job_id).status == GenerationJob.Status.DONE
    # CLIP score (PickScore's weights are not on this machine), and the study's diversity across seeds.
    assert len(callbacks) == 2
    assert ImageMetric.objects.filter(image__spec__in=study.job.specs.all(), metric="clip_score").count() == 6
    assert set(automated.study_diversity(study=study)["measures"]) == {"pixel", "embedding"}  # CLIP configured: both
    with django_capture_on_commit_callbacks(execute=True) as again:
        jobs.job_refresh_status(job_id=study.job_id)
    assert again == []  # a job already done queues nothing


def test_the_raters_answer_about_variety_stands_beside_the_automated_diversity(db, staff, client):
    """A set criterion: raters say which set is more varied (noise > wobble > same, as the pixels
    are); its rating sits beside the pixel diversity, ranked alike, and no per-image metric is
    held against a set question."""
    study = _study(seeds=[0, 1, 2], owner=staff, n_prompts=4, votes_per_pair=1, set_criteria=["diversity"])
    quality = _hidden_quality(study)
    _score(study, quality)
    level = {spec.pk: MODELS.index(spec.slug.removeprefix("model-")) for spec in study.job.specs.all()}
    rater = raters.rater_invite(study=study, user=get_user_model().objects.create_user("set-rater", password="pw"))
    while (comparison := comparison_serve(study=study, rater=rater)) is not None:
        a_varied = level[comparison.image_a.spec_id] > level[comparison.image_b.spec_id]
        a_better = quality[comparison.image_a_id] > quality[comparison.image_b_id]
        side = lambda a_wins: "left" if a_wins == comparison.left_is_a else "right"  # noqa: E731
        answers = {"diversity": side(a_varied), "prompt_adherence": side(a_better), "image_quality": side(a_better)}
        vote_record(token=comparison.token, rater=rater, answers=answers, response_ms=800)
    automated.study_diversity_compute(study=study, rounds=200)
    document = leaderboards.study_leaderboard(study=study, method="winrate", rounds=200, recompute=True)
    (table,) = document["automated"]["human_diversity"]
    assert table["criterion"] == "diversity" and table["measures"] == ["pixel"]
    assert [row["model"] for row in table["rows"]] == ["model-noise", "model-wobble", "model-same"]
    assert [row["rating"] for row in table["rows"]] == [1.0, 0.5, 0.0] and {row["votes"] for row in table["rows"]} == {2 * 4}
    pixels = [row["diversity"]["pixel"]["mean"] for row in table["rows"]]
    assert pixels[0] > pixels[1] > pixels[2] == pytest.approx(0.0, abs=1e-6)
    assert table["correlations"]["pixel"] == {"spearman": pytest.approx(1.0), "kendall": pytest.approx(1.0), "models": 3}
    assert {row["criterion"] for row in document["automated"]["agreement"]} == {"prompt_adherence", "image_quality"}
    client.force_login(staff)
    page = client.get(f"/studies/{study.pk}/leaderboard/?method=winrate&rounds=200").content.decode()
    assert 'class="human-diversity" data-criterion="diversity"' in page and "Diversity (pixel)" in page
    # The page's interval unit is the study's (issue 24): prompt for a new study.
    plot = f"/studies/{study.pk}/plots/diversity.svg?method=winrate&amp;resample=prompt&amp;rounds=200&criterion=diversity"
    assert plot in page
    svg = client.get(plot.replace("&amp;", "&"))
    assert svg.status_code == 200 and b"rating (diversity)" in svg.content
    assert "Which set of images is more varied?" in page
