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
    assert {row["model"] for row in board["models"]} == {"midjourney-v6", "dall-e-3", "ideogram-2"}
    for row in board["models"]:
        if row["ci_low"] is not None:
            assert row["ci_low"] <= row["rating"] <= row["ci_high"]
    assert board["provenance"]["votes"] == 24 and board["provenance"]["raters"] == 2
    assert board["resample"] == "comparison" and "these prompts and these raters" in board["population"]
    assert {p["criterion"] for p in board["pairs"]} == {"prompt_adherence", "image_quality", "mean"}
    assert len(board["pairs"]) == 3 * 3


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
    assert response.json()["method"] == ["Unknown method 'glicko': use bt, elo or winrate."]


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
    assert response.status_code == 400 and response.json() == {"method": ["Unknown method 'glicko': use bt, elo or winrate."]}


def test_exports_of_someone_elses_study_are_404(other_api, rated_study):
    for path in ("leaderboard/", "export/votes/", "export/leaderboard/", "export/images/", "progress/", "raters/"):
        assert other_api.get(f"/api/v1/studies/{rated_study.pk}/{path}").status_code == 404, path


def test_leaderboard_bounds_rounds_and_seeds_and_queues_heavy_recomputes(api, rated_study, django_capture_on_commit_callbacks):
    import time
    from unittest import mock

    from ratings.results import leaderboards

    url = f"/api/v1/studies/{rated_study.pk}/leaderboard/"
    response = api.get(url, {"seed": -1})
    assert response.status_code == 400 and "greater than or equal to 0" in response.json()["seed"][0]
    assert api.get(url, {"seed": 2**40}).status_code == 400
    assert api.get(url, {"rounds": 10001}).status_code == 400
    assert api.get(url, {"resample": "judge"}).json() == {"resample": ["Unknown resampling unit 'judge': use comparison, prompt or rater."]}
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
    # The leaderboards' own entries (the automated metrics section is cached beside each, for an hour).
    timeouts = [call.kwargs["timeout"] for call in cache_set.call_args_list if ":automated:" not in call.args[0]]
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
