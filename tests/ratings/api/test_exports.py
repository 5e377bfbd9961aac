"""Exports through the API: the votes CSV, leaderboard files in each format, refusals for unknown
formats and methods, other researchers' studies, and formulas or HTML in model names."""

from __future__ import annotations

import csv
import io
import json

import pytest

from ratings.models import Vote


def test_votes_export_is_the_arena_csv_with_pseudonymous_raters(api, rated_study):
    response = api.get(f"/api/v1/studies/{rated_study.pk}/export/votes/")
    assert response.status_code == 200 and response["Content-Type"] == "text/csv"
    assert f'filename="study-{rated_study.pk}-votes.csv"' in response["Content-Disposition"]
    text = response.content.decode()
    assert text.startswith(f"# study {rated_study.pk}: votes exported")
    rows = list(csv.DictReader(line for line in io.StringIO(text) if not line.startswith("#")))
    assert len(rows) == Vote.objects.count() == 24
    assert list(rows[0]) == ["model_a", "model_b", "winner", "criterion", "prompt_id", "rater_id", "tstamp", "category", "challenge", "counted", "rater_status"]
    assert {row["model_a"] for row in rows} | {row["model_b"] for row in rows} == {"midjourney-v6", "dall-e-3", "ideogram-2"}
    assert {(row["counted"], row["rater_status"]) for row in rows} == {("yes", "counted")}
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
        assert "dall-e-3" in text
        assert "p_holm" in text or "Holm" in text


def test_leaderboard_export_refuses_unknown_formats_and_methods(api, rated_study):
    response = api.get(f"/api/v1/studies/{rated_study.pk}/export/leaderboard/", {"fmt": "xlsx"})
    assert response.status_code == 400 and response.json() == {"fmt": ["Unknown format 'xlsx': use json, csv, md or latex."]}
    response = api.get(f"/api/v1/studies/{rated_study.pk}/export/leaderboard/", {"method": "glicko"})
    assert response.status_code == 400 and response.json() == {"method": ["Unknown method 'glicko': use bt, davidson, elo, winrate."]}


def test_exports_of_someone_elses_study_are_404(other_api, rated_study):
    for path in ("leaderboard/", "export/votes/", "export/leaderboard/", "export/images/", "progress/", "raters/"):
        assert other_api.get(f"/api/v1/studies/{rated_study.pk}/{path}").status_code == 404, path


def test_exports_neutralise_formulas_and_html_in_model_names(api, rated_study):
    from generation.models import ModelSpec

    ModelSpec.objects.filter(slug="dall-e-3").update(slug="=HYPERLINK(1)")
    ModelSpec.objects.filter(slug="ideogram-2").update(slug="<script>x</script>$a$")
    votes = api.get(f"/api/v1/studies/{rated_study.pk}/export/votes/").content.decode()
    assert "'=HYPERLINK(1)" in votes and "\n=HYPERLINK" not in votes and ",=HYPERLINK" not in votes
    board_csv = api.get(f"/api/v1/studies/{rated_study.pk}/export/leaderboard/", {"fmt": "csv", "rounds": 50}).content.decode()
    assert "'=HYPERLINK(1)" in board_csv and ",=HYPERLINK" not in board_csv
    md = api.get(f"/api/v1/studies/{rated_study.pk}/export/leaderboard/", {"fmt": "md", "rounds": 50}).content.decode()
    assert "<script>" not in md and "&lt;script&gt;" in md
