"""stop_when = decided (issue 27 item 2): the background refresh stops a study with a reference
when every model has an anytime-valid decision against it (ratings/versus.py), not before; the
setting refused without a reference; adaptive pair weights give the undecided models' reference
pairs the votes, on both hot paths; the results' decision table is the anytime-valid one."""

from __future__ import annotations

import re
from collections import Counter

import numpy as np
import pytest
from django.core.exceptions import ValidationError

from ratings import design, forecasting, sampling, scheduler
from ratings.models import Comparison, SamplingOptions
from ratings.results.votes import model_label
from ratings.stats.versus import versus_reference
from tests.factories import ModelSpecFactory, PromptSetFactory, StudyWithImagesFactory
from tests.ratings.test_sampling import benchmark, crowd_votes

pytestmark = pytest.mark.django_db

DECIDED = dict(attention_check_rate=0, repeat_share=0, stop_when="decided", vote_budget=20_000, quota_per_rater=1000,
               unit="comparison", design="versus_reference")


def decided_study(*, n_models=4, n_prompts=6, prefix="Student", **settings):
    specs = [ModelSpecFactory(name=f"{prefix} {i}", steps=i + 1) for i in range(n_models)]
    teacher = specs[1]
    study = StudyWithImagesFactory(
        name="Decided study", specs=specs, prompt_set=PromptSetFactory(name="Decided prompts", size=n_prompts), seeds=(0, 1),
        reference=teacher, **(DECIDED | settings),
    )
    return study, teacher, specs


def test_the_decided_rule_stops_the_study_once_every_model_is_decided_and_not_before(db):
    # Elo by spec order; the teacher (spec 1) at 0: one student far better, two far worse.
    study, teacher, specs = decided_study(sampling_rule="uniform")
    _, refreshes = crowd_votes(study, 20_000, elo=[[300, 0, -300, -350]] * 2, refresh_every=40)
    study.refresh_from_db()
    assert refreshes and refreshes[-1][1].stopped and study.stopped_by == "rule"
    assert [r.stopped for _, r in refreshes] == [False] * (len(refreshes) - 1) + [True]
    # An independent reading of the votes at the stop: every student decided, as the truth says.
    from ratings.results.votes import study_votes

    rows = versus_reference(study_votes(study=study, include_flagged=False).arrays, model_label(teacher), unit="comparison",
                            margin=study.versus_margin, alpha=study.stop_alpha, sequential=True)
    decisions = {row.model: row.decision for row in rows}
    assert decisions == {model_label(specs[0]): "better", model_label(specs[2]): "inferior", model_label(specs[3]): "inferior"}
    assert study.stop_reason.startswith(f"Decided: every model against {model_label(teacher)}")
    assert "margin 0.05" in study.stop_reason and "anytime-valid" in study.stop_reason and "these prompts and raters" in study.stop_reason
    assert f"after {refreshes[-1][1].comparisons} comparisons" in study.stop_reason
    # It took more than one look: the refreshes before found a model undecided and served on.
    assert len(refreshes) >= 2
    # The results' decision table is the anytime-valid one, said so.
    from ratings.results.leaderboards import compute_study_leaderboard

    document = compute_study_leaderboard(study=study, rounds=50, resample="comparison")
    assert document["versus_settings"]["interval"].startswith("anytime-valid")


def test_a_close_model_keeps_the_study_running(db):
    study, teacher, specs = decided_study(sampling_rule="uniform")
    # Student 2 sits exactly at the margin (win rate 0.45 against the teacher): 400 votes cannot decide it.
    at_margin = 400 * np.log10(0.45 / 0.55)
    _, refreshes = crowd_votes(study, 400, elo=[[300, 0, at_margin, -350]] * 2, refresh_every=40)
    assert refreshes and not any(r.stopped for _, r in refreshes)
    study.refresh_from_db()
    assert study.stopped_at is None


def test_decided_needs_a_reference_said_in_plain_words(db):
    specs = [ModelSpecFactory(name=f"M{i}") for i in range(3)]
    with pytest.raises(ValidationError) as refused:
        StudyWithImagesFactory(name="No reference", specs=specs, prompt_set=PromptSetFactory(name="Few", size=3), seeds=(0,),
                               stop_when="decided", vote_budget=1000)
    assert "needs a reference" in str(refused.value.message_dict["stop_when"])
    errors = sampling.design_errors(SamplingOptions(sampling="adaptive", stop_when="decided"), n_models=3, has_reference=True)
    assert "vote_budget" in errors and "stop_when" not in errors


def test_adaptive_weights_serve_the_undecided_model_s_reference_pair_more(hot_path):
    study, teacher, specs = decided_study(sampling_rule="adaptive", exploration=0.2, quota_per_rater=20)
    # Spec 0 far better (decided soon); spec 2 and spec 3 close to the teacher (undecided).
    crowd, _ = crowd_votes(study, 300, elo=[[500, 0, 5, -5]] * 2, refresh_every=300)
    study.refresh_from_db()
    index = design.model_pair_index(study=study)
    weights = study.pair_weights
    decided_pair, open_pairs = index[(specs[0].pk, teacher.pk)], [index[(s.pk, teacher.pk)] for s in specs[2:]]
    others = [k for k in range(len(weights)) if k not in open_pairs + [decided_pair]]
    assert all(weights[k] == 0 for k in others)  # no slots, no weight
    assert weights[decided_pair] == pytest.approx(0.2 / 3, abs=1e-5)
    assert all(weights[k] == pytest.approx(0.2 / 3 + 0.8 / 2, abs=1e-5) for k in open_pairs)
    before = Comparison.objects.filter(study=study).count()
    crowd_votes(study, 300, elo=None, crowd=crowd)  # no refresh: the weights above serve
    served = Counter(
        frozenset(pair) for pair in Comparison.objects.filter(study=study).order_by("pk")[before:].values_list("image_a__spec_id", "image_b__spec_id")
    )
    decided_count = served[frozenset((specs[0].pk, teacher.pk))]
    for s in specs[2:]:
        assert served[frozenset((s.pk, teacher.pk))] > 2.5 * decided_count, served


def test_the_forecast_predicts_comparisons_to_decide_each_model_before_launch_and_during_the_study(db):
    study, teacher, specs = decided_study(sampling_rule="adaptive", unit="prompt")
    before = forecasting.study_forecast(study=study, runs=20)
    assert [row["model"] for row in before["versus"]] == sorted(model_label(s) for s in specs if s != teacher)
    assert all(row["win_rate"] == 0.5 for row in before["versus"]) and "assumed win rate 0.5" in before["text"]
    crowd_votes(study, 300, elo=[[400, 0, 20, -400]] * 2, refresh_every=100)
    study.refresh_from_db()
    during = forecasting.study_forecast(study=study, runs=20)
    rows = {row["model"]: row for row in during["versus"]}
    close, far = rows[model_label(specs[2])], rows[model_label(specs[0])]
    assert close["median"] > far["median"]  # the model near the teacher needs the most comparisons
    assert far["win_rate"] > 0.8 and abs(close["win_rate"] - 0.5) < 0.15
    assert during["done"] == 300 and during["comparisons"]["low"] <= during["comparisons"]["median"] <= during["comparisons"]["high"]
    assert f"every model is decided against {model_label(teacher)}" in during["text"]


def spread_said(text: str) -> float:
    said = re.search(r"varying by about (\d+) Elo across prompts \(estimated from its votes\)", text)
    assert said, text
    return float(said.group(1))


def test_the_decided_forecast_on_the_prompt_unit_simulates_the_prompt_spread_of_the_votes(db):
    # Students whose advantage over the teacher varies by prompt (150 Elo), and the same without.
    elo = [[300, 0, 40, -300]] * 2
    spreads = {}
    for sd in (150, 0):
        study, teacher, specs = decided_study(sampling_rule="uniform", unit="prompt", n_prompts=16, vote_budget=50_000, prefix=f"Spread {sd}")
        crowd = benchmark.SimulatedCrowd(study, list(study.job.specs.order_by("pk")), seed=2, elo=elo, prompt_sd=sd)
        for _ in range(900):
            assert crowd.vote() == "recorded"
        forecast = forecasting.study_forecast(study=study, runs=30)
        spreads[sd] = (spread_said(forecast["text"]), forecast["comparisons"]["median"])
    # Measured 159 and 39 Elo; the estimate from 900 votes on 16 prompts is noisy (a spread of 0
    # reads up to about 80), so the bounds are loose and the two must lie far apart.
    assert 90 < spreads[150][0] < 300 and spreads[0][0] < 100 and spreads[150][0] > spreads[0][0] + 60, spreads
    assert spreads[150][1] > spreads[0][1], spreads  # a spread across prompts takes more comparisons to decide
    # On the comparison unit nothing is simulated across prompts, and the text says why.
    study, *_ = decided_study(sampling_rule="uniform", unit="comparison", prefix="Per comparison")
    assert "prompts not varying (the study's unit is the comparison)" in forecasting.study_forecast(study=study, runs=5)["text"]


def test_the_study_forecast_api_answers_with_the_per_model_part(db):
    from rest_framework.test import APIClient

    from ratings import studies

    from tests.factories import UserFactory

    study, teacher, specs = decided_study(sampling_rule="adaptive")
    owner = UserFactory(username="decider")
    type(study).objects.filter(pk=study.pk).update(owner=owner)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {studies.researcher_grant(user=owner).key}")
    answer = api.get(f"/api/v1/studies/{study.pk}/forecast/?runs=10")
    assert answer.status_code == 200, answer.content
    assert len(answer.json()["versus"]) == 3
    refused = api.post("/api/v1/forecasts/", {"models": 3, "stop_when": "decided", "vote_budget": 1000}, format="json")
    assert refused.status_code == 400 and "reference" in refused.json()["stop_when"][0]
    body = {"elo": [0, 200, 10], "reference": 0, "stop_when": "decided", "vote_budget": 5000, "runs": 10, "unit": "comparison"}
    made = api.post("/api/v1/forecasts/", body, format="json")
    assert made.status_code == 200, made.content  # small enough to answer at once
    rows = {row["model"]: row for row in made.json()["versus"]}
    assert rows["model 1"]["median"] < rows["model 2"]["median"]  # 200 Elo above decides sooner than 10 Elo
