"""Leaderboards and exports through the API: per criterion and combined, by method; the votes
CSV; leaderboard files; refusals for unknown methods and formats."""

from __future__ import annotations

import csv
import io
import json

import pytest

from ratings.models import Vote


@pytest.mark.parametrize("method", ["bt", "elo", "winrate"])
def test_leaderboard_by_method_has_each_criterion_and_the_combined_rating(api, rated_study, method):
    response = api.get(f"/api/v1/studies/{rated_study.pk}/leaderboard/", {"method": method, "rounds": 50})
    assert response.status_code == 200, response.json()
    board = response.json()
    assert (board["method"], board["rounds"]) == (method, 50)
    criteria = {row["criterion"] for row in board["models"]}
    assert criteria == {"prompt_adherence", "image_quality", "mean"}
    assert {row["model"] for row in board["models"]} == {"Midjourney v6", "DALL-E 3", "Ideogram 2"}
    for row in board["models"]:
        if row["ci_low"] is not None:
            assert row["ci_low"] <= row["rating"] <= row["ci_high"]
    assert board["provenance"]["votes"] == 24 and board["provenance"]["raters"] == 2


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


def test_votes_export_is_the_arena_csv_with_pseudonymous_raters(api, rated_study):
    response = api.get(f"/api/v1/studies/{rated_study.pk}/export/votes/")
    assert response.status_code == 200 and response["Content-Type"] == "text/csv"
    assert f'filename="study-{rated_study.pk}-votes.csv"' in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert len(rows) == Vote.objects.count() == 24
    assert set(rows[0]) == {"model_a", "model_b", "winner", "criterion", "prompt_id", "rater_id", "tstamp"}
    assert {row["rater_id"] for row in rows}.isdisjoint({"rater-1", "rater-2"})
    assert len({row["rater_id"] for row in rows}) == 2


@pytest.mark.parametrize("fmt, content_type", [("csv", "text/csv"), ("json", "application/json"), ("md", "text/markdown"), ("latex", "application/x-latex")])
def test_leaderboard_export_in_each_format(api, rated_study, fmt, content_type):
    response = api.get(f"/api/v1/studies/{rated_study.pk}/export/leaderboard/", {"method": "winrate", "fmt": fmt})
    assert response.status_code == 200
    assert response["Content-Type"] == content_type
    assert "attachment; filename=" in response["Content-Disposition"]
    text = response.content.decode()
    if fmt == "json":
        assert json.loads(text)["method"] == "winrate"
    else:
        assert "DALL-E 3" in text


def test_leaderboard_export_refuses_unknown_formats_and_methods(api, rated_study):
    response = api.get(f"/api/v1/studies/{rated_study.pk}/export/leaderboard/", {"fmt": "xlsx"})
    assert response.status_code == 400 and "Unknown format 'xlsx'" in response.json()["fmt"][0]
    response = api.get(f"/api/v1/studies/{rated_study.pk}/export/leaderboard/", {"method": "glicko"})
    assert response.status_code == 400 and response.json() == {"method": ["Unknown method 'glicko'; use bt, elo or winrate."]}


def test_exports_of_someone_elses_study_are_404(other_api, rated_study):
    for path in ("leaderboard/", "export/votes/", "export/leaderboard/", "export/images/", "progress/", "raters/"):
        assert other_api.get(f"/api/v1/studies/{rated_study.pk}/{path}").status_code == 404, path
