"""Study leaderboards and exports: votes from PostgreSQL into the ratings engine, with provenance."""

import csv
import io
import json

import pytest
from django.contrib.auth import get_user_model

from ratings import exports, leaderboards, services
from ratings.models import Rater
from ratings.stats import read_vote_file


@pytest.fixture
def voted_study(tiny_specs, prompt_set, django_capture_on_commit_callbacks):
    """Every pair of the study answered once by each of two raters: turbo always wins on
    adherence and always loses on quality; a third, flagged rater always votes the other way."""
    # Plain comparisons only: no attention checks, repeats or minimum time (rater-side defaults).
    study = services.study_create(
        name="Voted", specs=tiny_specs, prompt_set=prompt_set, seeds=[0], display_size=64, votes_per_pair=3,
        attention_check_rate=0, repeat_share=0, min_seconds_per_vote=0,
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.study_start_generation(study=study)
    services.study_open(study=study)
    turbo = tiny_specs[0].pk
    for name, contrary in (("r1", False), ("r2", False), ("flagged", True)):
        rater = services.rater_invite(study=study, user=get_user_model().objects.create_user(name, password="pw"))
        while (comparison := services.comparison_serve(study=study, rater=rater)) is not None:
            a_side, b_side = ("left", "right") if comparison.left_is_a else ("right", "left")
            turbo_side = a_side if comparison.image_a.spec_id == turbo else b_side if comparison.image_b.spec_id == turbo else a_side
            other_side = b_side if turbo_side == a_side else a_side
            adherence, quality = (turbo_side, other_side) if not contrary else (other_side, turbo_side)
            services.vote_record(token=comparison.token, rater=rater, answers={"prompt_adherence": adherence, "image_quality": quality}, response_ms=800)
    Rater.objects.filter(user__username="flagged").update(flagged=True)
    return study


@pytest.mark.django_db(transaction=True)
def test_bradley_terry_leaderboard_leaves_flagged_raters_out_and_says_so(voted_study):
    document = leaderboards.compute_study_leaderboard(study=voted_study, method="bt", rounds=200, seed=1)
    by_key = {(row["model"], row["criterion"]): row for row in document["models"]}
    assert document["criteria"] == ["prompt_adherence", "image_quality"]
    turbo = "Tiny turbo (1 step)"
    assert by_key[(turbo, "prompt_adherence")]["rank"] == 1
    assert by_key[(turbo, "image_quality")]["rating"] < 1000 < by_key[(turbo, "prompt_adherence")]["rating"]
    # 3 pairs x 8 prompts answered by two counted raters; the turbo model is in 2 of 3 pairs.
    assert by_key[(turbo, "prompt_adherence")]["votes"] == 2 * 16
    assert {row["criterion"] for row in document["models"]} == {"prompt_adherence", "image_quality", "mean"}
    provenance = document["provenance"]
    assert (provenance["votes"], provenance["raters"], provenance["rounds"], provenance["seed"]) == (2 * 24 * 2, 2, 200, 1)
    assert len(provenance["excluded_raters"]) == 1 and "flagged" in provenance["excluded_raters"][0]["reason"]
    # The counted raters always gave model A's answer: one category only, so alpha is undefined.
    assert provenance["rater_agreement"] == {"prompt_adherence": None, "image_quality": None}
    with_flagged = leaderboards.compute_study_leaderboard(study=voted_study, method="bt", rounds=200, seed=1, include_flagged=True)
    assert with_flagged["provenance"]["votes"] == 3 * 24 * 2
    # The flagged rater always disagreed: two against one on every pair.
    assert with_flagged["provenance"]["rater_agreement"]["prompt_adherence"] < 0


@pytest.mark.django_db(transaction=True)
def test_leaderboard_is_cached_until_recomputed(voted_study):
    first = leaderboards.study_leaderboard(study=voted_study, method="winrate", rounds=50)
    again = leaderboards.study_leaderboard(study=voted_study, method="winrate", rounds=50)
    assert again["provenance"]["computed_at"] == first["provenance"]["computed_at"]
    fresh = leaderboards.study_leaderboard(study=voted_study, method="winrate", rounds=50, recompute=True)
    assert fresh["provenance"]["computed_at"] != first["provenance"]["computed_at"]


@pytest.mark.django_db(transaction=True)
def test_flagging_excluding_or_withdrawing_a_rater_drops_the_cached_leaderboards(voted_study):
    from ratings import study_services

    cached = leaderboards.study_leaderboard(study=voted_study, method="winrate", rounds=50)
    assert cached["provenance"]["votes"] == 2 * 24 * 2
    r1 = Rater.objects.get(user__username="r1")
    study_services.rater_flag(rater=r1)  # not a recompute: the cached one is gone
    assert leaderboards.study_leaderboard(study=voted_study, method="winrate", rounds=50)["provenance"]["votes"] == 24 * 2
    study_services.rater_flag(rater=r1, flagged=False)
    assert leaderboards.study_leaderboard(study=voted_study, method="winrate", rounds=50)["provenance"]["votes"] == 2 * 24 * 2
    study_services.rater_exclude(study=voted_study, rater=r1)
    assert leaderboards.study_leaderboard(study=voted_study, method="winrate", rounds=50)["provenance"]["votes"] == 24 * 2
    services.rater_withdraw(rater=Rater.objects.get(user__username="r2"))
    assert leaderboards.study_leaderboard(study=voted_study, method="winrate", rounds=50)["provenance"]["votes"] == 0


@pytest.mark.django_db(transaction=True)
def test_votes_export_is_an_arena_csv_the_leaderboard_command_reads(voted_study, tmp_path):
    content = exports.votes_csv(study=voted_study)
    rows = list(csv.DictReader(io.StringIO(content.decode())))
    assert len(rows) == 3 * 24 * 2
    assert set(rows[0]) == {"model_a", "model_b", "winner", "criterion", "prompt_id", "rater_id", "tstamp"}
    assert {row["winner"] for row in rows} <= {"model_a", "model_b", "tie"}
    raters = {row["rater_id"] for row in rows}
    assert len(raters) == 3 and not any(name in " ".join(raters) for name in ("r1", "r2", "flagged"))
    path = tmp_path / "votes.csv"
    path.write_bytes(content)
    arrays = read_vote_file(path)
    assert arrays.n_votes == len(rows)


@pytest.mark.django_db(transaction=True)
def test_leaderboard_exports_and_plots_carry_how_they_were_made(voted_study):
    for fmt in exports.LEADERBOARD_FORMATS:
        content, content_type, filename = exports.leaderboard_export(study=voted_study, method="bt", fmt=fmt, rounds=100)
        text = content.decode()
        assert filename.startswith(f"study-{voted_study.pk}-leaderboard-bt.")
        if fmt == "json":
            assert json.loads(text)["provenance"]["rounds"] == 100
        else:
            assert "method bt; rounds 100; seed 0" in text and "excluded raters: r_" in text, fmt
        if fmt == "latex":
            assert "\\begin{tabular}" in text and "steps" in text and "s/img" in text
    for plot in exports.PLOTS:
        png, content_type, _ = exports.plot_export(study=voted_study, plot=plot, fmt="png")
        assert content_type == "image/png" and png.startswith(b"\x89PNG"), plot
        svg, content_type, _ = exports.plot_export(study=voted_study, plot=plot, fmt="svg")
        assert content_type == "image/svg+xml" and b"<svg" in svg, plot


@pytest.mark.django_db(transaction=True)
def test_results_pages_for_staff(voted_study, client):
    client.force_login(get_user_model().objects.create_user("staff", password="pw", is_staff=True))
    html = client.get(f"/studies/{voted_study.pk}/leaderboard/?method=elo").content.decode()
    assert "spread over orderings" in html and "Tiny turbo (1 step)" in html
    response = client.get(f"/studies/{voted_study.pk}/leaderboard.latex?method=bt")
    assert response.status_code == 200 and "attachment" in response["Content-Disposition"]
    assert client.get(f"/studies/{voted_study.pk}/plots/heatmap.svg").status_code == 200
    assert client.get(f"/studies/{voted_study.pk}/leaderboard/?method=nonsense").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_export_command_writes_files_and_refuses_bad_input(voted_study, tmp_path):
    from django.core.management import CommandError, call_command

    call_command("export_study", "leaderboard", study=voted_study.pk, fmt="md", out=tmp_path / "board.md", rounds=50)
    assert "| criterion | rank | model |" in (tmp_path / "board.md").read_text()
    call_command("export_study", "votes", study=voted_study.pk, out=tmp_path / "votes.csv")
    assert (tmp_path / "votes.csv").read_text().startswith("model_a,model_b,winner")
    with pytest.raises(CommandError, match="no study with id 999999"):
        call_command("export_study", "votes", study=999999)
    with pytest.raises(CommandError, match="Unknown format 'docx'"):
        call_command("export_study", "leaderboard", study=voted_study.pk, fmt="docx")


@pytest.mark.django_db
def test_a_study_without_votes_exports_an_empty_leaderboard_in_every_format(make_study):
    study = make_study(n_models=2, n_prompts=2)
    for fmt in exports.LEADERBOARD_FORMATS:
        content, _, _ = exports.leaderboard_export(study=study, method="bt", fmt=fmt, rounds=10)
        assert b"votes 0 in 0 comparisons" in content or json.loads(content)["models"] == []


@pytest.mark.django_db
def test_separated_votes_carry_a_warning_on_the_page_and_in_exports(make_study, client):
    from tests.ratings.rater_client import RaterSession, RecordingClient

    study = make_study(n_models=2, n_prompts=2, attention_check_rate=0, repeat_share=0)
    session = RaterSession(RecordingClient(), study)
    session.join_prolific("separated1")
    session.start()
    session.vote({"prompt_adherence": "left", "image_quality": "left"})  # one vote: a model won every comparison
    document = leaderboards.study_leaderboard(study=study, method="bt", rounds=50, recompute=True)
    assert any("does not exist" in warning for warning in document["warnings"])
    content, _, _ = exports.leaderboard_export(study=study, method="bt", fmt="csv", rounds=50)
    assert b"# warning: the Bradley-Terry maximum likelihood does not exist" in content
    client.force_login(get_user_model().objects.create_user("staff", password="pw", is_staff=True))
    assert "Caution: the Bradley-Terry maximum likelihood" in client.get(f"/studies/{study.pk}/leaderboard/?recompute=1").content.decode()
