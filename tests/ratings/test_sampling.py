"""Adaptive sampling and the stopping rule through the real serving and voting services, on both
database paths (the PL/pgSQL functions and the ORM): weighted model-pair draws, the fallback,
the background refresh, stopping by the rule and by the budget, raters finishing mid-pair, and
reopening with a higher budget."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from django.core.exceptions import ValidationError

from ratings import design, forecasting, sampling, sampling_tables, scheduler, stopping
from ratings.raters import rater_join
from ratings.studies import study_create
from ratings.models import PairSlot, Rater, Study
from ratings.stats import sampling as stats_sampling
from tests.ratings.rater_client import RaterSession, RecordingClient

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("sampling_serving_benchmark", ROOT / "benchmarks" / "sampling_serving.py")
benchmark = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(benchmark)

# The comparison unit: these tests check the per-comparison rule (the prompt unit has its own below).
RULE_STUDY = dict(attention_check_rate=0, repeat_share=0, stop_when="separated", vote_budget=100_000, quota_per_rater=1000, unit="comparison")


def join(study, name: str) -> int:
    rater, _ = rater_join(study=study, source=Rater.Source.PROLIFIC, external_id=name)
    return rater.pk


def test_slots_know_their_model_pair_in_pair_weight_order(make_study):
    study = make_study(n_models=4, n_prompts=2)
    # A uniform study's slots have none (the per-pair index skips them); made adaptive, the
    # refresh sets them.
    assert not PairSlot.objects.filter(study=study, model_pair__isnull=False).exists()
    Study.objects.filter(pk=study.pk).update(sampling="adaptive")
    sampling.study_sampling_refresh(study=study)
    spec_ids = design.study_spec_ids(study=study)
    lo, hi = stats_sampling.pair_index(len(spec_ids))
    for slot in PairSlot.objects.filter(study=study).select_related("image_a", "image_b"):
        k = slot.model_pair
        assert (slot.image_a.spec_id, slot.image_b.spec_id) == (spec_ids[lo[k]], spec_ids[hi[k]])
    assert sorted(set(PairSlot.objects.filter(study=study).values_list("model_pair", flat=True))) == list(range(6))


def crowd_votes(study, n: int, *, elo, seed: int = 0, refresh_every: int | None = None, crowd=None):
    """n recorded votes from simulated raters; refresh every `refresh_every`; returns the crowd
    and the refreshes made (stops early when the study stops)."""
    crowd = crowd or benchmark.SimulatedCrowd(study, list(study.job.specs.order_by("pk")), seed=seed, elo=elo)
    refreshes, recorded = [], 0
    while recorded < n:
        status = crowd.vote()
        if status == "none":
            break
        recorded += status == "recorded"
        if refresh_every and recorded % refresh_every == 0 and status == "recorded":
            refreshes.append((sampling_tables.study_vote_tables(study=study).counts, sampling.study_sampling_refresh(study=study)))
            if refreshes[-1][1].stopped:
                break
    return crowd, refreshes


def test_the_refresh_writes_weights_off_the_request_path_with_the_exploration_floor(make_study, hot_path):
    study = make_study(n_models=4, n_prompts=6, seeds=(0, 1), sampling_rule="adaptive", **RULE_STUDY)
    elo = [[0, 500, 1000, 1020]] * 2
    crowd_votes(study, 300, elo=elo)
    study.refresh_from_db()
    assert study.pair_weights is None and study.pair_weights_at is None  # votes alone never fit anything
    refresh = sampling.study_sampling_refresh(study=study)
    study.refresh_from_db()
    weights = np.asarray(study.pair_weights)
    assert refresh.comparisons == study.pair_weights_votes == 300 and study.pair_weights_at is not None
    assert weights.shape == (6,) and abs(weights.sum() - 1) < 1e-4
    assert weights.min() >= 0.2 / 6 - 1e-5  # the exploration floor
    spec_ids = design.study_spec_ids(study=study)
    pair = design.model_pair_index(study=study)
    close, settled = pair[(spec_ids[2], spec_ids[3])], pair[(spec_ids[0], spec_ids[3])]
    assert weights[close] > 0.4 and weights[settled] < 0.1, weights
    # Where each pair's search starts: its least-filled open slot at the refresh.
    from django.db.models import Min

    lowest = dict(PairSlot.objects.filter(study=study).values_list("model_pair").annotate(Min("filled")))
    assert study.pair_levels == [lowest[k] for k in range(6)] and max(study.pair_levels) > 0
    assert not refresh.stopped  # 20 Elo apart after 300 votes: not separated


def test_the_rule_stops_a_separated_study_and_not_before(make_study, hot_path):
    study = make_study(n_models=3, n_prompts=8, seeds=(0, 1), sampling_rule="adaptive", **{**RULE_STUDY, "vote_budget": 5000})
    elo = [[0, 250, 500]] * 2
    _, refreshes = crowd_votes(study, 5000, elo=elo, refresh_every=20)
    study.refresh_from_db()
    assert study.stopped_at is not None and study.stop_reason.startswith("Decided"), study.stop_reason
    lo, hi = stats_sampling.pair_index(3)
    for counts, refresh in refreshes:
        met = bool(stats_sampling.stop_reached(stats_sampling.fit(counts, lo, hi, 3), rule="separated"))
        assert refresh.stopped == met
    assert [r.stopped for _, r in refreshes] == [False] * (len(refreshes) - 1) + [True]
    assert len(refreshes) >= 2 and refreshes[-1][1].comparisons < 2000
    # Stopped: a new rater is served nothing.
    assert scheduler.session_serve(study_id=study.pk, rater_id=join(study, "late"))["pairs"] == []


def test_a_prompt_unit_study_refits_with_each_vote_s_prompt_and_stops_saying_for_what(make_study, hot_path):
    """Issue 24: the refresh reads the votes with their prompts (results.votes.study_votes), fits
    the prompt-clustered covariance, and the stop reason names the unit."""
    study = make_study(n_models=3, n_prompts=8, seeds=(0, 1), sampling_rule="adaptive",
                       **{**RULE_STUDY, "unit": "prompt", "vote_budget": 5000})
    _, refreshes = crowd_votes(study, 5000, elo=[[0, 300, 600]] * 2, refresh_every=50)
    study.refresh_from_db()
    assert study.stop_reason.startswith("Decided") and "for prompts like these" in study.stop_reason, study.stop_reason
    tables = sampling_tables.study_vote_tables(study=study)
    assert tables.prompts.shape[:2] == (2, 8) and np.array_equal(tables.prompts.sum(axis=1), sampling_tables.study_vote_tables(study=study).counts)
    lo, hi = stats_sampling.pair_index(3)
    model_fit = stats_sampling.fit(tables.counts, lo, hi, 3, clustered=tables.terms("prompt"))
    assert model_fit.robust is not None and (model_fit.clusters == 8).all()
    assert bool(stats_sampling.stop_reached(model_fit, rule="separated"))


def test_a_study_whose_prompts_cannot_separate_a_pair_stops_saying_more_prompts_not_more_votes(make_study):
    study = make_study(n_models=3, n_prompts=5, seeds=(0, 1), sampling_rule="adaptive",
                       **{**RULE_STUDY, "unit": "prompt", "vote_budget": 20_000})
    crowd = benchmark.SimulatedCrowd(study, list(study.job.specs.order_by("pk")), seed=3, elo=[[0, 20, 400]] * 2, prompt_sd=150.0)
    _, refreshes = crowd_votes(study, 20_000, elo=None, refresh_every=100, crowd=crowd)
    study.refresh_from_db()
    assert study.stop_reason.startswith("Undecidable with these prompts"), study.stop_reason
    assert "more prompts, not more votes" in study.stop_reason and refreshes[-1][1].comparisons < 20_000
    assert stopping.study_sampling_state(study=study)["stop_reason"] == study.stop_reason


def test_close_models_are_not_declared_separated(make_study):
    study = make_study(n_models=3, n_prompts=8, seeds=(0, 1), sampling_rule="adaptive", **{**RULE_STUDY, "vote_budget": 5000})
    _, refreshes = crowd_votes(study, 400, elo=[[0, 5, 10]] * 2, refresh_every=50)
    assert len(refreshes) == 8 and not any(r.stopped for _, r in refreshes)
    study.refresh_from_db()
    assert study.stopped_at is None


def test_the_budget_stops_serving_when_reached_the_rater_mid_pair_gets_the_code_and_a_higher_budget_reopens(make_study, hot_path):
    from ratings import tasks

    study = make_study(n_models=3, n_prompts=8, seeds=(0, 1), sampling_rule="adaptive", **{**RULE_STUDY, "vote_budget": 60})
    session = RaterSession(RecordingClient(), study)
    session.join_prolific("MIDPAIR")
    session.start()
    assert len(session.state["pairs"]) == 2  # this rater has two open pairs
    _, refreshes = crowd_votes(study, 200, elo=[[0, 1, 2]] * 2, refresh_every=30)
    # Serving stopped when the budget was reached, not one refresh later: the crowd got the 58
    # pairs the budget left beside the two open on the first rater's screen, then nothing.
    assert design.answered_comparisons(study=study) == 58 and sampling.open_comparisons(study=study) == 2
    assert scheduler.session_serve(study_id=study.pk, rater_id=join(study, "served-out"))["pairs"] == []
    # Beat refreshes a study with no serve left at once (not after 100 more votes): it stops.
    assert study.pk in tasks.study_sampling_refresh_due()
    study.refresh_from_db()
    assert study.stopped_at is not None and study.stopped_by == "budget" and study.stop_comparisons == 58
    assert study.stop_reason == (
        "Vote budget reached: 60 of 60 comparisons served (58 answered at the stop, 2 still open on raters' screens) "
        "before the ranking was decided."
    ), study.stop_reason
    # The rater mid-pair answers both open pairs (counted), then is sent to the finish page.
    first = session.vote().json()
    assert first["status"] == "recorded" and len(first["pairs"]) == 1
    last = session.vote().json()
    assert last["status"] == "recorded" and last["pairs"] == [] and last["finish_url"] == f"/rate/{study.pk}/finish/"
    page = session.finish()
    assert page.status_code == 200 and study.completion_code in page.content.decode()
    # A participant arriving after the stop is told so, and gets no code for nothing.
    late = RaterSession(RecordingClient(), study).join_prolific("LATECOMER")
    assert late.status_code == 409 and "has the answers it needs" in late.content.decode()
    assert study.completion_code not in late.content.decode()
    # The progress says why it stopped, with the count at the stop and the final count.
    state = stopping.study_sampling_state(study=study)
    assert state["stopped"] and state["stopped_by"] == "budget"
    assert (state["comparisons_at_stop"], state["comparisons_final"]) == (58, 60)
    assert state["stop_text"].endswith("58 comparisons answered at the stop, 60 in all (raters finished the pairs they had open).")
    # Reopening needs a budget of at least the current one and above the answered comparisons.
    with pytest.raises(ValidationError, match="at least the current one"):
        stopping.study_reopen(study=study, vote_budget=50)
    with pytest.raises(ValidationError, match="already answered"):
        stopping.study_reopen(study=study, vote_budget=60)
    stopping.study_reopen(study=study, vote_budget=500)
    study.refresh_from_db()
    assert study.stopped_at is None and study.stop_reason == "" and study.vote_budget == 500 and study.stopped_by == ""
    assert study.budget_serves_left == 440
    assert len(scheduler.session_serve(study_id=study.pk, rater_id=join(study, "after-reopen"))["pairs"]) == 2
    study.refresh_from_db()
    assert study.budget_serves_left == 438


@pytest.mark.parametrize("budget", [1, 7, 25])
def test_the_budget_overshoot_is_bounded_by_late_answers_only(make_study, hot_path, budget):
    """However many raters are served at once, no more pairs are served than the budget allows
    (answered plus open); the study stops with answered == budget once they are answered."""
    study = make_study(n_models=3, n_prompts=6, seeds=(0, 1), **{**RULE_STUDY, "stop_when": "target", "vote_budget": budget})
    study.refresh_from_db()
    assert study.budget_serves_left == budget  # set on opening: no refresh needed before the cap holds
    raters = [join(study, f"crowd-{n}") for n in range(12)]
    open_pairs = {rater: scheduler.session_serve(study_id=study.pk, rater_id=rater)["pairs"] for rater in raters}
    assert sum(len(pairs) for pairs in open_pairs.values()) == min(budget, 24)
    while any(open_pairs.values()):
        for rater, pairs in open_pairs.items():
            if pairs:
                result = scheduler.vote_submit(study_id=study.pk, rater_id=rater, token=pairs[0]["token"],
                                               answers={"prompt_adherence": "left", "image_quality": "right"}, response_ms=4000)
                assert result["status"] == "recorded", result
                open_pairs[rater] = result["pairs"]
        assert design.answered_comparisons(study=study) + sampling.open_comparisons(study=study) <= budget
    assert design.answered_comparisons(study=study) == budget
    refresh = sampling.study_sampling_refresh(study=study)
    study.refresh_from_db()
    assert refresh.stopped and study.stop_comparisons == budget
    assert study.stop_reason.startswith(f"Vote budget reached: {budget} of {budget} comparisons answered before every pair slot had its votes")


def test_the_beat_task_refreshes_only_studies_with_enough_new_votes(make_study, settings):
    settings.RATINGS_SAMPLING_REFRESH_VOTES = 50
    study = make_study(n_models=3, n_prompts=6, seeds=(0, 1), sampling_rule="adaptive", **RULE_STUDY)
    from ratings import tasks

    assert tasks.study_sampling_refresh_due() == [study.pk]  # never refreshed yet
    assert tasks.study_sampling_refresh_due() == []
    crowd, _ = crowd_votes(study, 49, elo=[[0, 100, 200]] * 2)
    assert tasks.study_sampling_refresh_due() == []
    crowd_votes(study, 1, elo=[[0, 100, 200]] * 2, crowd=crowd)
    assert tasks.study_sampling_refresh_due() == [study.pk]
    assert tasks.study_sampling_refresh(study.pk) is False
    # A uniform study filled to its target needs no refresh.
    Study.objects.filter(pk=study.pk).update(sampling="uniform", stop_when="target", vote_budget=None, pair_weights_at=None)
    assert tasks.study_sampling_refresh_due() == []


def test_study_create_refuses_bad_sampling_settings_with_reasons(prompt_set):
    from tests.factories import ModelSpecFactory

    specs = ModelSpecFactory.create_batch(3)
    base = dict(name="bad settings", specs=specs, prompt_set=prompt_set, seeds=[0])
    with pytest.raises(ValidationError) as error:
        study_create(**base, stop_when="separated", vote_budget=None, exploration=1.5, stop_alpha=0.7, stop_top_k=5,
                              sampling_rule="greedy")
    messages = error.value.message_dict
    assert "needs a vote_budget" in messages["vote_budget"][0]
    assert set(messages) == {"vote_budget", "exploration", "stop_alpha", "stop_top_k", "sampling"}
    with pytest.raises(ValidationError, match="stop_width"):
        study_create(**base, stop_when="width", vote_budget=100)
    assert not Study.objects.exists()


def test_the_benchmark_runs_at_a_tiny_size(tmp_path):
    """Not timed: it runs end to end (the statistics of one configuration, and the real serving on
    SQLite, the ORM path) and prints its JSON summary last, with every field the issue names."""
    env = {"PATH": "/usr/bin:/bin", "TRANSFORMERS_VERBOSITY": "error", "EVALSITE_DATA_DIR": str(tmp_path),
           "DATABASE_URL": f"sqlite:///{tmp_path / 'bench.sqlite3'}"}
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "sampling.py"), "--runs", "3", "--configs", "homogeneous-8", "--bias-runs", "1",
         "--bias-sims", "3", "--real-seeds", "1", "--real-budget", "120", "--prompts", "2", "--refresh-every", "40"],
        capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    document = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(document) == {"homogeneous-8", "real_serving"}
    assert set(document["homogeneous-8"]) >= {
        "runs", "uniform_votes", "adaptive_votes", "ratio", "uniform_wrong_order", "adaptive_wrong_order", "runs_with_wrong_pair",
        "budget_hits", "coverage_at_stop", "close_gap_bias", "forecast_median_ratio", "forecast_range_coverage",
        "serve_ms_uniform", "serve_ms_adaptive",
    }
    assert document["homogeneous-8"]["runs"] == 3 and document["homogeneous-8"]["serve_ms_adaptive"] > 0
    real = document["real_serving"]
    assert real["runs"] == 1 and real["budget_hits"] == {"uniform": 1, "adaptive": 1}
    assert 120 <= real["uniform_votes"] <= 160 and 120 <= real["adaptive_votes"] <= 160


def test_the_admin_checks_sampling_settings_as_the_api_does(make_study):
    from django.forms.models import model_to_dict

    from ratings.admin import StudyAdminForm

    study = make_study(n_models=3, n_prompts=2)
    data = {key: value for key, value in model_to_dict(study).items() if value is not None}
    data["criteria"] = json.dumps(study.criteria)
    form = StudyAdminForm(data={**data, "stop_when": "separated", "sampling": "adaptive"}, instance=study)
    assert not form.is_valid() and "needs a vote_budget" in form.errors["vote_budget"][0]
    form = StudyAdminForm(data={**data, "stop_when": "separated", "sampling": "adaptive", "vote_budget": 500}, instance=study)
    assert form.is_valid(), form.errors


@pytest.mark.slow
def test_a_real_worker_refreshes_the_weights_and_stops_the_study_on_its_budget(celery_worker, make_study, settings):
    from ratings import tasks
    from tests.processes import wait_for

    study = make_study(n_models=3, n_prompts=6, seeds=(0, 1), sampling_rule="adaptive", **{**RULE_STUDY, "vote_budget": 30})
    crowd_votes(study, 30, elo=[[0, 10, 20]] * 2)
    tasks.study_sampling_refresh_due.delay()  # what beat sends every minute

    def refreshed():
        study.refresh_from_db()
        return study.pair_weights_at is not None

    wait_for(refreshed, timeout=60, what="the worker to refresh the study's pair weights", interval=0.2)
    assert len(study.pair_weights) == 3 and study.pair_weights_votes == 30
    assert study.stopped_at is not None and study.stop_reason.startswith("Vote budget reached: 30 of 30")
    assert "ratings.study_sampling_refresh_due" in celery_worker.log()


def test_a_forecast_under_an_hour_says_minutes():
    document = {"comparisons": {"median": 120, "low": 80, "high": 200, "range": "90%"}, "budget_hits": 0.0,
                "hours": {"median": 0.25, "low": 0.1, "high": 0.4}}
    assert forecasting.forecast_text(document).endswith("; about 15 minutes.")
    document["hours"]["median"] = 0.001
    assert forecasting.forecast_text(document).endswith("; about 1 minute.")
    document["hours"]["median"] = 2.5
    assert forecasting.forecast_text(document).endswith("; about 2.5 hours.")
