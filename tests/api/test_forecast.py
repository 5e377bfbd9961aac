"""The sampling API: a study's sampling settings, its forecast from the votes so far, the
before-launch forecast (and its accuracy against studies simulated through the real serving and
voting code), and reopening a stopped study with a higher budget."""

from __future__ import annotations

import importlib.util
import statistics
from pathlib import Path

import pytest

from ratings import sampling, scheduler
from ratings.models import Study
from tests.factories import StudyFactory, UserFactory

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("sampling_benchmark", ROOT / "benchmarks" / "sampling.py")
benchmark = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(benchmark)

ELO = [[0, 120, 240, 360]] * 2


@pytest.fixture
def rule_study(researcher):
    """An adaptive, rule-stopped study of 4 models owned by the researcher, open for rating."""
    specs, prompt_set = benchmark.make_models(6, "api", n_models=4)
    study = StudyFactory(
        name="Rule study", specs=specs, prompt_set=prompt_set, seeds=benchmark.SEEDS_PER_PROMPT, owner=researcher,
        allow_ties=True, no_checks=True, quota_per_rater=200, sampling_rule="adaptive", stop_when="separated", vote_budget=3000,
    )
    scheduler.pair_slots_sync(study=study)
    Study.objects.filter(pk=study.pk).update(status=Study.Status.RATING)
    study.refresh_from_db()
    return study


def test_study_create_takes_sampling_settings_and_explains_bad_ones(api, tiny_specs, four_prompts):
    base = {"name": "Adaptive", "models": [tiny_specs[0].slug, tiny_specs[1].slug, tiny_specs[2].slug],
            "prompt_set": four_prompts.pk, "seeds": [0]}
    response = api.post("/api/v1/studies/", {**base, "sampling": "adaptive", "stop_when": "separated", "vote_budget": 2000}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["sampling"], body["stop_when"], body["vote_budget"], body["exploration"], body["stop_alpha"]) == (
        "adaptive", "separated", 2000, 0.2, 0.05)
    assert body["stopped_at"] is None and body["stop_reason"] == "" and body["pair_weights"] is None
    bad = api.post("/api/v1/studies/", {**base, "stop_when": "separated", "stop_top_k": 7, "sampling": "greedy"}, format="json")
    assert bad.status_code == 400
    errors = bad.json()
    assert "sampling" in errors
    bad = api.post("/api/v1/studies/", {**base, "stop_when": "width", "stop_top_k": 7}, format="json")
    errors = bad.json()
    assert bad.status_code == 400 and "needs a vote_budget" in errors["vote_budget"][0]
    assert "stop_width" in errors and "between 1 and 2" in errors["stop_top_k"][0]
    assert Study.objects.count() == 1


def test_forecast_of_a_running_study_with_cost_and_hours(api, rule_study, client):
    before = api.get(f"/api/v1/studies/{rule_study.pk}/forecast/").json()
    assert before["comparisons"]["median"] is None and before["text"].startswith("No votes yet")
    crowd = benchmark.SimulatedCrowd(rule_study, list(rule_study.job.specs.order_by("pk")), seed=0, elo=ELO)
    for _ in range(60):
        assert crowd.vote() == "recorded"
    response = api.get(f"/api/v1/studies/{rule_study.pk}/forecast/?price_per_vote=0.15&crowd_size=20&seconds_per_vote=12&runs=40")
    assert response.status_code == 200, response.json()
    body = response.json()
    comparisons = body["comparisons"]
    assert body["done"] == 60 and body["runs"] == 40
    assert 0 < comparisons["low"] <= comparisons["median"] <= comparisons["high"] <= 3000 - 60
    assert body["cost"]["median"] == round(comparisons["median"] * 0.15, 2)
    assert body["hours"]["median"] == round(comparisons["median"] * 12 / 20 / 3600, 2)
    assert body["text"].startswith("About ") and "90% range" in body["text"]
    # The staff dashboard says the rules and the forecast (from the last refresh's votes).

    sampling.study_sampling_refresh(study=rule_study)
    client.force_login(UserFactory(username="staff", staff=True))
    html = client.get(f"/dashboard/studies/{rule_study.pk}/panel/").content.decode()
    assert "Adaptive (votes where the ranking is uncertain) sampling; stops when adjacent models are separated; budget 3,000" in html
    assert "Forecast: About " in html and "90% range" in html
    refused = api.get(f"/api/v1/studies/{rule_study.pk}/forecast/?price_per_vote=-1&runs=5000")
    assert refused.status_code == 400 and set(refused.json()) == {"price_per_vote", "runs"}
    assert "100" in refused.json()["runs"][0]


def test_progress_says_why_a_study_stopped_and_reopen_needs_a_higher_budget(api, rule_study):
    Study.objects.filter(pk=rule_study.pk).update(vote_budget=20)
    crowd = benchmark.SimulatedCrowd(rule_study, list(rule_study.job.specs.order_by("pk")), seed=0, elo=ELO)
    for _ in range(20):
        crowd.vote()
    assert sampling.study_sampling_refresh(study=rule_study).stopped
    state = api.get(f"/api/v1/studies/{rule_study.pk}/progress/").json()["sampling"]
    from django.test import Client

    staff = Client()
    staff.force_login(UserFactory(username="staff", staff=True))
    assert "Stopped serving new pairs: Vote budget reached: 20 of 20" in staff.get(f"/dashboard/studies/{rule_study.pk}/panel/").content.decode()
    assert state["stopped"] and state["stop_reason"].startswith("Vote budget reached: 20 of 20")
    forecast = api.get(f"/api/v1/studies/{rule_study.pk}/forecast/").json()
    assert forecast["comparisons"]["median"] == 0 and forecast["text"].startswith("Stopped: Vote budget reached")
    refused = api.post(f"/api/v1/studies/{rule_study.pk}/reopen/", {"vote_budget": 20}, format="json")
    assert refused.status_code == 400 and "higher than the current one (20" in refused.json()["vote_budget"][0]
    assert api.post(f"/api/v1/studies/{rule_study.pk}/reopen/", {}, format="json").status_code == 400
    reopened = api.post(f"/api/v1/studies/{rule_study.pk}/reopen/", {"vote_budget": 400}, format="json")
    assert reopened.status_code == 200 and reopened.json()["vote_budget"] == 400 and reopened.json()["stopped_at"] is None
    assert crowd.vote() == "recorded"


def test_forecast_before_launch_refuses_bad_input_with_its_caps(api):
    cases = [
        ({"vote_budget": 1000}, "models"),
        ({"models": 40, "vote_budget": 1000}, "models"),
        ({"models": 4, "vote_budget": 10**7}, "vote_budget"),
        ({"models": 4, "vote_budget": 1000, "runs": 1000}, "runs"),
        ({"elo": [0, "a lot"], "vote_budget": 1000}, "elo"),
        ({"elo": [[0, 100], [0, 100, 200]], "vote_budget": 1000}, "elo"),
        ({"models": 4, "vote_budget": 1000, "stop_when": "width"}, "stop_width"),
        ({"models": 4, "vote_budget": 1000, "stop_when": "target"}, "stop_when"),
        ({"models": 4}, "vote_budget"),
    ]
    for body, field in cases:
        response = api.post("/api/v1/forecasts/", body, format="json")
        assert response.status_code == 400 and field in response.json(), (body, response.json())
    assert "12" in api.post("/api/v1/forecasts/", {"models": 40, "vote_budget": 1000}, format="json").json()["models"][0]


def test_forecast_before_launch_is_within_a_quarter_of_simulated_studies(api, settings):
    settings.RATINGS_SAMPLING_REFRESH_VOTES = 50  # the studies below refresh every 50, as the forecast looks
    response = api.post("/api/v1/forecasts/", {
        "elo": ELO, "sampling": "adaptive", "stop_when": "separated", "vote_budget": 3000, "allow_ties": True,
        "runs": 100, "price_per_vote": 0.2, "crowd_size": 10,
    }, format="json")
    assert response.status_code == 200, response.json()
    forecast = response.json()
    assert forecast["budget_hits"] == 0 and "cost" in forecast and "hours" in forecast
    # Raters answer 10 pairs each, as crowd sessions do: a rater who has seen every slot of the
    # pair drawn for them gets the least-filled slot instead, which the forecast does not model.
    specs, prompt_set = benchmark.make_models(8, "accuracy", n_models=4)
    runs = [
        benchmark.run_study(specs, prompt_set, sampling_rule="adaptive", budget=3000, seed=seed, refresh_every=50, elo=ELO, quota=10)
        for seed in range(5)
    ]
    assert not any(run["budget_hit"] for run in runs)
    needed = statistics.median(run["votes"] for run in runs)
    assert abs(forecast["comparisons"]["median"] - needed) <= 0.25 * needed, (forecast["comparisons"], [r["votes"] for r in runs])
