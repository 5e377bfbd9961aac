"""A study's combined rating "mean" is over its pair questions only (a set criterion, variety,
keeps its own rows), in the results document, the API, the page and every export; and the
exports say per model how many images screening hid."""

import csv
import io
import json
import random

import pytest
from rest_framework.test import APIClient

from ratings import raters, screening
from ratings.results import exports, leaderboards
from ratings.results.votes import model_label, study_votes
from tests.factories import UserFactory, comparison_serve, vote_record

PAIR = ["prompt_adherence", "image_quality"]
ROUNDS = 50


def _answer_everything(study, rater, rng, *, variety_reversed=True):
    """Every pair and set the scheduler serves: the higher-id model tends to win the pair
    questions, and on variety (set comparisons) the lower-id model tends to win."""
    while (comparison := comparison_serve(study=study, rater=rater)) is not None:
        a, b = ("left", "right") if comparison.left_is_a else ("right", "left")  # A is the lower-id model
        answers = {
            "prompt_adherence": b if rng.random() < 0.8 else a,
            "image_quality": b if rng.random() < 0.7 else a,
            "variety": (a if rng.random() < 0.8 else b) if variety_reversed else b,
        }
        vote_record(token=comparison.token, rater=rater, answers=answers, response_ms=1000)


@pytest.fixture
def variety_study(make_study):
    study = make_study(
        n_models=3, n_prompts=4, seeds=(1, 2), set_criteria=["variety"], votes_per_pair=2,
        attention_check_rate=0, repeat_share=0, quota_per_rater=200,
    )
    rng = random.Random(5)
    for _ in range(2):
        _answer_everything(study, raters.rater_invite(study=study, user=UserFactory()), rng)
    return study


def _rows(document, criterion):
    return {row["model"]: row for row in document["models"] if row["criterion"] == criterion}


def _check_mean(document):
    """The mean rows are the mean of the two pair criteria's rows, never of variety's too."""
    mean, pa, iq, variety = (_rows(document, c) for c in ("mean", *PAIR, "variety"))
    assert mean and set(mean) == set(pa) == set(iq) == set(variety)
    for model in mean:
        assert mean[model]["rating"] == pytest.approx((pa[model]["rating"] + iq[model]["rating"]) / 2, rel=1e-9)
        assert mean[model]["rating"] != pytest.approx((pa[model]["rating"] + iq[model]["rating"] + variety[model]["rating"]) / 3, rel=1e-6)
    return mean


@pytest.mark.django_db
def test_mean_is_over_the_pair_criteria_in_document_api_page_and_exports(variety_study, client):
    from ratings.models import Vote
    from ratings.stats import pairwise_table, results_document

    study = variety_study
    assert Vote.objects.filter(comparison__study=study, criterion="variety").count() == 4 * 3 * 2  # prompts x model pairs x votes per pair
    document = leaderboards.study_leaderboard(study=study, rounds=ROUNDS, recompute=True)
    assert document["criteria"] == [*PAIR, "variety"] and document["mean_of"] == PAIR
    mean = _check_mean(document)
    labels = [model_label(spec) for spec in study.job.specs.order_by("pk")]
    ranked = lambda rows: sorted(rows, key=lambda m: -rows[m]["rating"])  # noqa: E731
    assert ranked(mean) == ranked(_rows(document, PAIR[0])) == labels[::-1] and ranked(_rows(document, "variety")) == labels

    # The same per prompt category.
    by_category = leaderboards.study_leaderboard(study=study, rounds=ROUNDS, by="category", recompute=True)["by_category"]
    assert by_category and all(_check_mean(part) for part in by_category.values())

    # Independently: the stats on the two pair criteria's votes alone give the same mean.
    arrays = study_votes(study=study).counted()
    pair_only = arrays.subset(arrays.criterion < 2)
    from dataclasses import replace

    pair_only = replace(pair_only, criterion_names=tuple(PAIR), _validated=True)
    alone = results_document(pair_only, "bt", ROUNDS, 0, pairs=False)
    for model, row in _rows(alone, "mean").items():
        assert mean[model]["rating"] == pytest.approx(row["rating"], rel=1e-9)

    # The significance table's mean: the pair criteria's win rates averaged, one decision per pair comparison.
    pairs = lambda criterion: {(p["model_a"], p["model_b"]): p for p in document["pairs"] if p["criterion"] == criterion}  # noqa: E731
    expected = {(p["model_a"], p["model_b"]): p for p in pairwise_table(pair_only, ROUNDS, 0) if p["criterion"] == "mean"}
    assert set(pairs("mean")) == set(expected) == set(pairs("variety"))
    for key, row in pairs("mean").items():
        assert row["win_rate"] == pytest.approx((pairs(PAIR[0])[key]["win_rate"] + pairs(PAIR[1])[key]["win_rate"]) / 2)
        assert (row["wins_a"], row["wins_b"], row["ties"]) == (expected[key]["wins_a"], expected[key]["wins_b"], expected[key]["ties"])
        assert row["wins_a"] + row["wins_b"] + row["ties"] == 4 * 2 * 2  # prompts x seeds x votes per pair: pair comparisons only

    # The API: the same rows, and what the mean is of.
    staff = UserFactory(staff=True)
    api = APIClient()
    api.force_authenticate(staff)
    board = api.get(f"/api/v1/studies/{study.pk}/leaderboard/", {"rounds": ROUNDS}).json()
    assert board["mean_of"] == PAIR
    assert {m: r["rating"] for m, r in _check_mean(board).items()} == pytest.approx({m: r["rating"] for m, r in mean.items()})
    assert {(p["model_a"], p["model_b"]) for p in board["pairs"] if p["criterion"] == "mean"} == set(expected)

    # Every export.
    export = lambda fmt: exports.leaderboard_export(study=study, fmt=fmt, rounds=ROUNDS)[0].decode()  # noqa: E731
    exported = json.loads(export("json"))
    assert exported["mean_of"] == PAIR and _check_mean(exported) == mean
    text = export("csv")
    assert '"mean": the mean of prompt_adherence and image_quality; set criteria rated on their own, not in the mean: variety' in text
    table = text.split("# pairwise significance")[0]
    rows = list(csv.DictReader(line for line in io.StringIO(table) if not line.startswith("#")))
    by = {(r["model"], r["criterion"]): float(r["rating"]) for r in rows}
    assert {r["criterion"] for r in rows} == {*PAIR, "variety", "mean"}
    for model in mean:
        assert by[(model, "mean")] == pytest.approx((by[(model, PAIR[0])] + by[(model, PAIR[1])]) / 2)
    markdown = export("md")
    assert "the mean of prompt\\_adherence and image\\_quality" in markdown or "the mean of prompt_adherence and image_quality" in markdown
    leaderboard_part = markdown.split("Pairwise significance")[0]
    md_rows = [line.split("|") for line in leaderboard_part.splitlines() if line.startswith("| mean |")]
    assert len(md_rows) == len(mean)
    for cells in md_rows:
        model = cells[3].strip()
        assert float(cells[4]) == pytest.approx(mean[model]["rating"], abs=0.051)
    latex = export("latex")
    assert "model & steps & s/img & images & hidden & prompt\\_adherence & image\\_quality & variety & mean \\\\" in latex
    assert "mean of prompt\\_adherence and image\\_quality" in latex or "mean of prompt_adherence and image_quality" in latex

    # The page names what the mean is of, and has the variety section apart.
    client.force_login(staff)
    html = client.get(f"/studies/{study.pk}/leaderboard/?rounds={ROUNDS}").content.decode()
    assert "The mean of prompt_adherence and image_quality (as ADD reports)" in html
    assert 'class="matrix pairs" data-criterion="variety"' in html and 'class="matrix pairs" data-criterion="mean"' in html


@pytest.mark.django_db
def test_a_study_without_set_criteria_gives_the_same_document_as_before(make_study):
    """mean_of is then every criterion: exactly what the stats give with no mean_of at all."""
    from ratings.stats import results_document

    study = make_study(n_models=3, n_prompts=4, seeds=(1, 2), votes_per_pair=1, attention_check_rate=0, repeat_share=0, quota_per_rater=200)
    _answer_everything(study, raters.rater_invite(study=study, user=UserFactory()), random.Random(2))
    for method in ("bt", "elo", "winrate"):
        document = leaderboards.study_leaderboard(study=study, method=method, rounds=ROUNDS, recompute=True)
        # The leaderboard's default unit is the study's (issue 24): prompt for a new study.
        before = results_document(study_votes(study=study).counted(), method, ROUNDS, 0, resample=study.unit, pairs=True)
        assert document["mean_of"] == before["mean_of"] == PAIR
        for key in ("criteria", "models", "pairs", "warnings", "interval", "ordering_spread"):
            assert document.get(key) == before.get(key), (method, key)
        assert _rows(document, "mean")


@pytest.mark.django_db
def test_a_document_cached_before_mean_of_is_never_served(make_study):
    """The cache key carries a version: a document cached in the old shape (no mean_of, the mean
    over every criterion) under the old key is not read; the new one is computed."""
    from django.core.cache import cache

    from ratings.results import caches
    from ratings.results.options import LeaderboardOptions

    study = make_study(n_models=2, n_prompts=2, attention_check_rate=0, repeat_share=0, quota_per_rater=200)
    _answer_everything(study, raters.rater_invite(study=study, user=UserFactory()), random.Random(1))
    key = caches.leaderboard_cache_key(study.pk, LeaderboardOptions(rounds=ROUNDS).for_study(study))
    assert key.startswith("leaderboard:v4:")
    stale = {"criteria": PAIR, "models": [], "pairs": [], "provenance": {"computed_at": "then"}}
    cache.set(key.replace("leaderboard:v4:", "leaderboard:v3:", 1), stale)
    document = leaderboards.study_leaderboard(study=study, rounds=ROUNDS)
    assert document["mean_of"] == PAIR and _rows(document, "mean")


@pytest.mark.django_db
def test_exports_and_api_say_how_many_images_were_hidden_per_model(make_study):
    study = make_study(n_models=3, n_prompts=3, attention_check_rate=0, repeat_share=0, quota_per_rater=200)
    specs = list(study.job.specs.order_by("pk"))
    hidden_image = screening.study_images(study=study).filter(spec=specs[1]).order_by("pk").first()
    screening.images_hide(study=study, image_ids=[hidden_image.pk], reason="broken")
    _answer_everything(study, raters.rater_invite(study=study, user=UserFactory()), random.Random(4))
    labels = [model_label(spec) for spec in specs]
    expected = [{"model": label, "images": 3, "hidden": 1 if i == 1 else 0} for i, label in enumerate(labels)]

    export = lambda fmt: exports.leaderboard_export(study=study, fmt=fmt, rounds=ROUNDS)[0].decode()  # noqa: E731
    assert json.loads(export("json"))["hidden_images"] == expected

    text = export("csv")
    section = text.split("# images per model: made for the study, and hidden in screening (never served to raters)\n")[1]
    rows = list(csv.DictReader(line for line in io.StringIO(section) if not line.startswith("#")))
    assert [{"model": r["model"], "images": int(r["images"]), "hidden": int(r["hidden"])} for r in rows[:3]] == expected
    assert f"# images hidden in screening (never served to raters), per model: {labels[1]} 1 of 3" in text

    markdown = export("md")
    assert "| model | images | hidden |" in markdown
    for row in expected:
        assert f"| {row['model']} | {row['images']} | {row['hidden']} |" in markdown

    latex = export("latex")
    header = next(line for line in latex.splitlines() if line.startswith("model & steps"))
    columns = [cell.strip() for cell in header.rstrip("\\ ").split("&")]
    assert columns[3:5] == ["images", "hidden"]
    for row in expected:
        line = next(line for line in latex.splitlines() if line.startswith(row["model"].replace("_", "\\_") + " &"))
        cells = [cell.strip() for cell in line.split("&")]
        assert cells[3:5] == [str(row["images"]), str(row["hidden"])]

    api = APIClient()
    api.force_authenticate(UserFactory(staff=True))
    assert api.get(f"/api/v1/studies/{study.pk}/leaderboard/", {"rounds": ROUNDS}).json()["hidden_images"] == expected
    exported = api.get(f"/api/v1/studies/{study.pk}/export/leaderboard/", {"fmt": "json", "rounds": ROUNDS}).content
    assert json.loads(exported)["hidden_images"] == expected
