"""Leaderboards through the API: per criterion and combined, by method, flagged raters, bounds
on rounds and seeds, and the same significance numbers on the page, the API and every export."""

from __future__ import annotations

import csv
import io
import json

import pytest


@pytest.mark.parametrize("method", ["bt", "elo", "winrate"])
def test_leaderboard_by_method_has_each_criterion_and_the_combined_rating(api, rated_study, method):
    response = api.get(f"/api/v1/studies/{rated_study.pk}/leaderboard/", {"method": method, "rounds": 50})
    assert response.status_code == 200, response.json()
    board = response.json()
    assert (board["method"], board["rounds"]) == (method, 50)
    criteria = {row["criterion"] for row in board["models"]}
    assert criteria == {"prompt_adherence", "image_quality", "mean"}
    assert {row["model"] for row in board["models"]} == {"midjourney-v6", "dall-e-3", "ideogram-2"}
    for row in board["models"]:
        if row["ci_low"] is not None:
            assert row["ci_low"] <= row["rating"] <= row["ci_high"]
    assert board["provenance"]["votes"] == 24 and board["provenance"]["raters"] == 2
    # No unit asked for: the study's (issue 24; a new study's is the prompt).
    assert board["resample"] == "prompt" and "prompts like these" in board["population"]
    assert board["unit"] == "prompt" and "prompts like these" in board["unit_text"] and board["stopping_rule"].startswith("Fixed design")
    assert {p["criterion"] for p in board["pairs"]} == {"prompt_adherence", "image_quality", "mean"}
    assert len(board["pairs"]) == 3 * 3


@pytest.mark.parametrize("method", ["bt", "elo"])
def test_a_prompt_rater_study_leaderboard_resamples_prompts_and_raters_together(api, rated_study, method):
    """Issue 24: a prompt_rater study's intervals are the two-way (pigeonhole) bootstrap's, by default
    and when asked for, and say so."""
    from ratings.models import Study

    Study.objects.filter(pk=rated_study.pk).update(unit="prompt_rater")
    board = api.get(f"/api/v1/studies/{rated_study.pk}/leaderboard/", {"method": method, "rounds": 50, "recompute": "true"}).json()
    assert board["resample"] == "prompt_rater" and "prompts and raters both resampled" in board["population"]
    assert "resample prompts and raters together" in board["unit_text"]
    assert all(row["ci_low"] <= row["rating"] <= row["ci_high"] for row in board["models"] if row["ci_low"] is not None)
    asked = api.get(f"/api/v1/studies/{rated_study.pk}/leaderboard/", {"method": method, "rounds": 50, "resample": "prompt_rater"})
    assert asked.status_code == 200 and asked.json()["resample"] == "prompt_rater"


def test_every_response_and_export_of_a_study_says_its_unit_and_rule_and_why_it_stopped(api, rated_study):
    from django.utils import timezone

    from ratings.models import Study

    Study.objects.filter(pk=rated_study.pk).update(
        unit="comparison", stop_when="separated", vote_budget=100, stopped_at=timezone.now(),
        stop_reason="Vote budget reached: 100 of 100 comparisons answered before the ranking was decided.",
    )
    rule = "Stops when every pair of adjacent models are separated in every criterion by an anytime-valid confidence sequence"
    board = api.get(f"/api/v1/studies/{rated_study.pk}/leaderboard/", {"rounds": 20, "recompute": "true"}).json()
    assert board["resample"] == "comparison" and board["unit"] == "comparison"
    assert "these prompts and these raters" in board["unit_text"] and board["stopping_rule"].startswith(rule)
    assert board["provenance"]["design"]["stop_reason"].startswith("Vote budget reached")
    # The gaps at the stop: fitted, adjusted for the stopping's selection, anytime-valid interval.
    at_stop = board["at_stop"]
    assert at_stop["unit"] == "comparison" and "Whitehead" in at_stop["text"]
    for rows in at_stop["criteria"].values():
        assert len(rows) == 2 and all(row["interval"][0] <= row["gap"] <= row["interval"][1] for row in rows)
        assert all(row["gap"] >= 0 for row in rows)  # adjacent pairs, the better model first
    study = api.get(f"/api/v1/studies/{rated_study.pk}/").json()
    assert study["unit"] == "comparison" and study["stopping_rule"].startswith(rule) and study["stop_reason"].startswith("Vote budget")
    for fmt in ("csv", "md", "latex", "json"):
        text = api.get(f"/api/v1/studies/{rated_study.pk}/export/leaderboard/", {"fmt": fmt, "rounds": 20}).content.decode()
        assert "these prompts and these raters" in text and "anytime-valid confidence sequence" in text, fmt
        assert "Vote budget reached" in text, fmt
        assert "At the stop, on these prompts and raters" in text, fmt
    votes = api.get(f"/api/v1/studies/{rated_study.pk}/export/votes/").content.decode()
    assert "# unit comparison: Conclusions are about these prompts and these raters" in votes
    assert "# rule: " + rule in votes and "Stopped: Vote budget reached" in votes
    forecast = api.get(f"/api/v1/studies/{rated_study.pk}/forecast/").json()
    assert forecast["text"].startswith("Stopped: Vote budget reached")


def test_leaderboard_leaves_out_flagged_raters_unless_asked_and_recomputes_on_request(api, rated_study):
    from ratings.models import Rater

    url = f"/api/v1/studies/{rated_study.pk}/leaderboard/"
    assert api.get(url, {"rounds": 20}).json()["provenance"]["votes"] == 24
    rater = Rater.objects.get(user__username="rater-1")
    api.post(f"/api/v1/studies/{rated_study.pk}/raters/{rater.pk}/flag/", {}, format="json")
    assert api.get(url, {"rounds": 20, "recompute": "true"}).json()["provenance"]["votes"] == 12
    assert api.get(url, {"rounds": 20, "recompute": "true", "include_flagged": "true"}).json()["provenance"]["votes"] == 24


def test_leaderboard_refuses_unknown_methods_and_bad_rounds(api, rated_study):
    response = api.get(f"/api/v1/studies/{rated_study.pk}/leaderboard/", {"method": "glicko", "rounds": 0})
    assert response.status_code == 400
    assert set(response.json()) == {"method", "rounds"}
    assert response.json()["method"] == ["Unknown method 'glicko': use bt, davidson, elo, winrate."]


def test_leaderboard_by_davidson_ties(api, rated_study):
    response = api.get(f"/api/v1/studies/{rated_study.pk}/leaderboard/", {"method": "davidson", "rounds": 20})
    assert response.status_code == 200, response.content
    assert response.json()["method"] == "davidson" and response.json()["models"]


def test_leaderboard_bounds_rounds_and_seeds_and_queues_heavy_recomputes(api, rated_study, django_capture_on_commit_callbacks):
    import time
    from unittest import mock

    from ratings.results import leaderboards

    url = f"/api/v1/studies/{rated_study.pk}/leaderboard/"
    response = api.get(url, {"seed": -1})
    assert response.status_code == 400 and "greater than or equal to 0" in response.json()["seed"][0]
    assert api.get(url, {"seed": 2**40}).status_code == 400
    assert api.get(url, {"rounds": 10001}).status_code == 400
    assert api.get(url, {"resample": "judge"}).json() == {"resample": ["Unknown resampling unit 'judge': use comparison, prompt, rater or prompt_rater."]}
    started = time.monotonic()
    with django_capture_on_commit_callbacks() as queued:
        response = api.get(url, {"recompute": "true", "rounds": 10000})
        again = api.get(url, {"recompute": "true", "rounds": 10000})
    assert time.monotonic() - started < 2.0
    assert response.status_code == again.status_code == 202
    assert "computed in the background" in response.json()["detail"]
    assert len(queued) == 1  # one task per variant, however often it is asked for
    # The task computes it; the next request reads it.
    leaderboards.study_leaderboard(study=rated_study, rounds=10000, recompute=True, in_task=True)
    assert api.get(url, {"rounds": 10000}).json()["rounds"] == 10000
    # Every cached variant expires: the default after a day, any other after an hour.
    with mock.patch.object(leaderboards.cache, "set", wraps=leaderboards.cache.set) as cache_set:
        api.get(url, {"recompute": "true"})
        api.get(url, {"recompute": "true", "seed": 12345})
    # The leaderboards' own entries (the automated metrics section is cached beside each, for an hour;
    # the API's per-user rate counts live in the same cache).
    timeouts = [
        call.kwargs["timeout"] for call in cache_set.call_args_list
        if ":automated:" not in call.args[0] and not call.args[0].startswith("throttle_")
    ]
    assert timeouts == [leaderboards.DEFAULT_TTL, leaderboards.VARIANT_TTL]


def test_page_api_and_every_export_show_the_same_significance_numbers(api, rated_study):
    from ratings.results import leaderboards

    board = api.get(f"/api/v1/studies/{rated_study.pk}/leaderboard/", {"rounds": 200, "resample": "rater"}).json()
    assert board["resample"] == "rater" and "raters like these" in board["provenance"]["population"]
    export = lambda fmt: api.get(f"/api/v1/studies/{rated_study.pk}/export/leaderboard/", {"fmt": fmt, "rounds": 200, "resample": "rater"}).content.decode()  # noqa: E731
    assert json.loads(export("json"))["pairs"] == board["pairs"]
    csv_text = export("csv")
    section = csv_text.split("# pairwise significance")[1].split("\n", 1)[1]
    section = section.split("\n#")[0]
    from_csv = list(csv.DictReader(io.StringIO(section)))
    assert len(from_csv) == len(board["pairs"])
    for row, pair in zip(from_csv, board["pairs"]):
        assert (row["model_a"], row["model_b"], row["criterion"]) == (pair["model_a"], pair["model_b"], pair["criterion"])
        assert float(row["p_holm"]) == pair["p_holm"] and float(row["p_value"]) == pair["p_value"]
    md, latex = export("md"), export("latex")
    for pair in board["pairs"]:
        assert f"{pair['p_holm']:.3g}" in md and f"{pair['p_holm']:.3g}" in latex
    assert "resampling unit: rater" in csv_text
    # The staff page reads the same cached document.
    page_board = leaderboards.study_leaderboard(study=rated_study, rounds=200, resample="rater")
    assert page_board["pairs"] == board["pairs"]
