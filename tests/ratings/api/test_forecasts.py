"""The sampling API: a study's sampling settings, its forecast from the votes so far, the
before-launch forecast (and its accuracy against studies simulated through the real serving and
voting code), and reopening a stopped study with a higher budget."""

from __future__ import annotations

import importlib.util
import statistics
from pathlib import Path

import pytest

from ratings import sampling
from ratings.models import Study
from ratings.slots import pair_slots_sync
from tests.factories import StudyFactory, UserFactory, database_random_seed

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[3]
_spec = importlib.util.spec_from_file_location("sampling_serving_benchmark", ROOT / "benchmarks" / "sampling_serving.py")
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
    pair_slots_sync(study=study)
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


def test_forecasts_say_their_unit_and_what_they_assumed(api, rule_study):
    """Issue 24: a forecast simulates the study's unit and says where its tie share and prompt
    spread came from: the votes, or a stated assumption."""
    body = api.post("/api/v1/forecasts/", {"models": 3, "elo_gap": 150, "vote_budget": 2000, "allow_ties": True, "runs": 10},
                    format="json").json()
    assert body["unit"] == "prompt"
    assert "Assumed: raters answer tie 10% of the time; models' strengths vary by 0 Elo across 50 prompts." in body["text"]
    body = api.post("/api/v1/forecasts/", {"models": 3, "elo_gap": 150, "vote_budget": 2000, "tie_share": 0.2, "prompts": 16,
                                           "prompt_spread": 80, "runs": 10}, format="json").json()
    assert "Assumed" not in body["text"] and body["unit"] == "prompt"
    crowd = benchmark.SimulatedCrowd(rule_study, list(rule_study.job.specs.order_by("pk")), seed=0, elo=ELO)
    for _ in range(60):
        assert crowd.vote() == "recorded"
    body = api.get(f"/api/v1/studies/{rule_study.pk}/forecast/?runs=10").json()
    assert body["unit"] == "prompt" and "across prompts (estimated from the votes, corrected for the estimate's bias" in body["text"], body["text"]


def staff_client():
    from django.test import Client

    staff = Client()
    staff.force_login(UserFactory(username="staff", staff=True))
    return staff


def test_a_budget_stopped_study_reads_as_stopped_and_its_forecast_says_what_is_still_needed(api, rule_study):
    Study.objects.filter(pk=rule_study.pk).update(vote_budget=20)
    sampling.budget_serves_recount(study=rule_study)  # as opening the study does
    before = api.get(f"/api/v1/studies/{rule_study.pk}/progress/").json()
    assert (before["status"], before["complete"], before["comparisons"]["target"], before["comparisons"]["measured_against"]) == (
        "rating", False, 20, "vote_budget")
    crowd = benchmark.SimulatedCrowd(rule_study, list(rule_study.job.specs.order_by("pk")), seed=0, elo=ELO)
    for _ in range(20):
        crowd.vote()
    assert sampling.study_sampling_refresh(study=rule_study).stopped
    progress = api.get(f"/api/v1/studies/{rule_study.pk}/progress/").json()
    state = progress["sampling"]
    # Stopped everywhere: status, complete (once the open pairs are answered), no time left, the budget as the target.
    assert progress["status"] == "stopped" and progress["status_text"] == "Stopped: vote budget reached"
    assert progress["comparisons"]["target"] == 20 and progress["comparisons"]["done"] == 20
    assert progress["seconds_left"] == {"generation": 0.0, "rating": 0.0, "total": 0.0}
    assert progress["complete"] is (progress["comparisons"]["open"] == 0)
    assert state["stopped"] and state["stopped_by"] == "budget" and state["stop_reason"].startswith("Vote budget reached: 20 of 20")
    staff = staff_client()
    panel = staff.get(f"/dashboard/studies/{rule_study.pk}/panel/").content.decode()
    assert "Stopped serving new pairs: Vote budget reached: 20 of 20" in panel
    assert "Stopped: vote budget reached" in panel and "time left" not in panel and "stopped: no new pairs are served" in panel
    assert "target: the vote budget (20 comparisons)" in panel
    studies_list = staff.get("/dashboard/").content.decode()
    assert "Stopped: vote budget reached" in studies_list and "Open for rating" not in studies_list
    # The forecast says what the rule still needs past the budget, not "0 more".
    forecast = api.get(f"/api/v1/studies/{rule_study.pk}/forecast/?runs=20").json()
    assert forecast["comparisons"]["median"] > 0 and forecast["done"] == 20
    assert forecast["text"].startswith("Stopped: Vote budget reached") and "To meet its stopping rule it still needs: about " in forecast["text"]
    assert f"Reopen with a budget of about {20 + forecast['comparisons']['high']:,.0f}" in forecast["text"]
    refused = api.post(f"/api/v1/studies/{rule_study.pk}/reopen/", {"vote_budget": 20}, format="json")
    assert refused.status_code == 400 and "20 comparisons are already answered" in refused.json()["vote_budget"][0]
    assert api.post(f"/api/v1/studies/{rule_study.pk}/reopen/", {}, format="json").status_code == 400
    reopened = api.post(f"/api/v1/studies/{rule_study.pk}/reopen/", {"vote_budget": 400}, format="json")
    assert reopened.status_code == 200 and reopened.json()["vote_budget"] == 400 and reopened.json()["stopped_at"] is None
    assert reopened.json()["warning"] == ""  # 120 Elo apart after 20 votes: far from decided
    assert crowd.vote() == "recorded"
    again = api.get(f"/api/v1/studies/{rule_study.pk}/progress/").json()
    assert again["status"] == "rating" and again["complete"] is False and again["comparisons"]["target"] == 400


def decided(rule_study):
    """Vote until the rule stops the study (models far apart), refreshing as beat would."""
    Study.objects.filter(pk=rule_study.pk).update(stop_top_k=1)
    database_random_seed(500)  # the scheduler's SQL draws with random(): one seed, one study
    crowd = benchmark.SimulatedCrowd(rule_study, list(rule_study.job.specs.order_by("pk")), seed=1, elo=[[0, 100, 200, 900]] * 2)
    for n in range(1, 2000):
        assert crowd.vote() == "recorded"
        if n % 20 == 0 and sampling.study_sampling_refresh(study=rule_study).stopped:
            return crowd
    raise AssertionError("the rule never stopped the study")


def test_a_rule_stopped_study_reads_as_stopped_and_reopening_it_as_decided_warns(api, rule_study):
    crowd = decided(rule_study)
    rule_study.refresh_from_db()
    at_stop = rule_study.stop_comparisons
    progress = api.get(f"/api/v1/studies/{rule_study.pk}/progress/").json()
    assert progress["status"] == "stopped" and progress["status_text"] == "Stopped: its stopping rule is met"
    assert progress["comparisons"]["target"] == 3000 and "the stopping rule ends it sooner" in progress["comparisons"]["target_text"]
    assert progress["seconds_left"]["total"] == 0.0
    forecast = api.get(f"/api/v1/studies/{rule_study.pk}/forecast/").json()
    assert forecast["comparisons"]["median"] == 0 and forecast["text"].startswith("Stopped: Decided")
    # Reopening it on the very votes that stopped it: accepted, with a warning that offers a
    # stricter rule. (Reopened later, the pairs still open at the stop may add answers that
    # unsettle a 6-prompt interval; these are the votes the rule was met on.)
    reopened = api.post(f"/api/v1/studies/{rule_study.pk}/reopen/", {}, format="json")
    assert reopened.status_code == 200, reopened.json()
    warning = reopened.json()["warning"]
    assert warning.startswith(f"Its stopping rule is already met on the {at_stop:,} comparisons so far")
    assert "stops again at the next refresh" in warning
    assert "stop_top_k above 1" in warning and "stop_alpha below 0.05" in warning
    assert sampling.study_sampling_refresh(study=rule_study).stopped  # as the warning said
    rule_study.refresh_from_db()
    assert rule_study.stop_comparisons == at_stop and rule_study.stopped_by == "rule"
    # The rater with pairs open at the stop answers them: then the study is complete.
    while crowd.pairs:
        assert crowd.vote() == "recorded"
    progress = api.get(f"/api/v1/studies/{rule_study.pk}/progress/").json()
    assert progress["complete"] is True and progress["comparisons"]["open"] == 0
    state = progress["sampling"]
    assert state["stopped_by"] == "rule" and state["comparisons_at_stop"] == at_stop
    assert state["comparisons_final"] == progress["comparisons"]["done"] > at_stop
    assert f"{at_stop:,} comparisons answered at the stop, {state['comparisons_final']:,} in all" in state["stop_text"]
    # With every adjacent pair to separate, the same votes do not decide it: no warning.
    stricter = api.post(f"/api/v1/studies/{rule_study.pk}/reopen/", {"stop_top_k": None, "stop_alpha": 0.001}, format="json")
    assert stricter.status_code == 200, stricter.json()
    body = stricter.json()
    assert (body["stop_top_k"], body["stop_alpha"], body["stopped_at"], body["warning"]) == (None, 0.001, None, "")
    bad = api.post(f"/api/v1/studies/{rule_study.pk}/reopen/", {"stop_top_k": 9}, format="json")
    assert bad.status_code == 400 and "between 1 and 3" in bad.json()["stop_top_k"][0]


def test_the_operations_page_shows_the_stop_warns_when_decided_and_reopens_with_a_stricter_rule(api, rule_study, researcher):
    from django.test import Client

    decided(rule_study)
    owner = Client()
    owner.force_login(researcher)
    page = owner.get(f"/studies/{rule_study.pk}/operations/").content.decode()
    assert 'id="stop-reason"' in page and "Decided:" in page and "at the stop" in page
    assert 'id="reopen-warning"' in page and "Its stopping rule is already met" in page and 'name="stop_top_k"' in page
    refused = owner.post(f"/studies/{rule_study.pk}/operations/reopen/", {"stop_top_k": "nine"}, follow=True).content.decode()
    assert "The study was not reopened" in refused and "whole number" in refused
    done = owner.post(f"/studies/{rule_study.pk}/operations/reopen/", {"stop_top_k": "all", "stop_alpha": "0.001"}, follow=True)
    rule_study.refresh_from_db()
    assert rule_study.stopped_at is None and rule_study.stop_top_k is None and rule_study.stop_alpha == 0.001
    assert "Reopened with a budget of 3,000 comparisons" in done.content.decode()
    assert 'id="stop-reason"' not in done.content.decode()


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
        "runs": 100, "price_per_vote": 0.2, "crowd_size": 10, "prompts": 8, "prompt_spread": 0,
    }, format="json")
    assert response.status_code == 200, response.json()
    forecast = response.json()
    assert forecast["budget_hits"] == 0 and "cost" in forecast and "hours" in forecast
    # The forecast is told the studies' design: 8 prompts on which the models' strengths do not vary.
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
    inside = sum(forecast["comparisons"]["low"] <= run["votes"] <= forecast["comparisons"]["high"] for run in runs)
    assert inside >= 4, (forecast["comparisons"], [r["votes"] for r in runs])
