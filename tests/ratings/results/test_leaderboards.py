"""Study leaderboards and exports: votes from PostgreSQL into the ratings engine, with provenance."""

import csv
import io
import json

import pytest

from ratings import rater_flags, raters, scheduler, studies
from ratings.results import caches, exports, leaderboards, plots
from ratings.results.votes import model_label
from ratings.models import Participation, Rater
from ratings.stats import read_vote_file
from tests.factories import RatedStudyFactory, StudyFactory, StudyWithImagesFactory, UserFactory, comparison_serve, vote_record


@pytest.fixture
def voted_study(tiny_specs, prompt_set, django_capture_on_commit_callbacks):
    """Every pair of the study answered once by each of two raters: turbo always wins on
    adherence and always loses on quality; a third, flagged rater always votes the other way."""
    # Plain comparisons only: no attention checks, repeats or minimum time (rater-side defaults).
    # Its images are files made in the test (the results read votes, not pixels): no pipeline runs per test.
    study = StudyWithImagesFactory(name="Voted", specs=tiny_specs, prompt_set=prompt_set, votes_per_pair=3, no_checks=True)
    turbo = tiny_specs[0].pk
    for name, contrary in (("r1", False), ("r2", False), ("flagged", True)):
        rater = raters.rater_invite(study=study, user=UserFactory(username=name))
        while (comparison := comparison_serve(study=study, rater=rater)) is not None:
            a_side, b_side = ("left", "right") if comparison.left_is_a else ("right", "left")
            turbo_side = a_side if comparison.image_a.spec_id == turbo else b_side if comparison.image_b.spec_id == turbo else a_side
            other_side = b_side if turbo_side == a_side else a_side
            adherence, quality = (turbo_side, other_side) if not contrary else (other_side, turbo_side)
            vote_record(token=comparison.token, rater=rater, answers={"prompt_adherence": adherence, "image_quality": quality}, response_ms=800)
    Participation.objects.filter(study=study, rater__user__username="flagged").update(flagged=True, flag_reason="staff")
    return study


@pytest.mark.django_db(transaction=True)
def test_bradley_terry_leaderboard_leaves_flagged_raters_out_and_says_so(voted_study):
    document = leaderboards.compute_study_leaderboard(study=voted_study, method="bt", rounds=200, seed=1)
    by_key = {(row["model"], row["criterion"]): row for row in document["models"]}
    assert document["criteria"] == ["prompt_adherence", "image_quality"]
    turbo = model_label(voted_study.job.specs.order_by("pk")[0])
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
    cached = leaderboards.study_leaderboard(study=voted_study, method="winrate", rounds=50)
    assert cached["provenance"]["votes"] == 2 * 24 * 2
    r1 = Rater.objects.get(user__username="r1")
    rater_flags.rater_flag(study=voted_study, rater=r1)  # not a recompute: the cached one is gone
    assert leaderboards.study_leaderboard(study=voted_study, method="winrate", rounds=50)["provenance"]["votes"] == 24 * 2
    rater_flags.rater_flag(study=voted_study, rater=r1, flagged=False)
    assert leaderboards.study_leaderboard(study=voted_study, method="winrate", rounds=50)["provenance"]["votes"] == 2 * 24 * 2
    rater_flags.rater_exclude(study=voted_study, rater=r1)
    assert leaderboards.study_leaderboard(study=voted_study, method="winrate", rounds=50)["provenance"]["votes"] == 24 * 2
    raters.rater_withdraw(rater=Rater.objects.get(user__username="r2"))
    assert leaderboards.study_leaderboard(study=voted_study, method="winrate", rounds=50)["provenance"]["votes"] == 0


@pytest.mark.django_db(transaction=True)
def test_votes_export_is_an_arena_csv_the_leaderboard_command_reads(voted_study, tmp_path):
    content = exports.votes_csv(study=voted_study)
    text = content.decode()
    assert text.startswith(f"# study {voted_study.pk}: votes exported") and "48 votes are of raters flagged in this study" in text
    rows = list(csv.DictReader(line for line in io.StringIO(text) if not line.startswith("#")))
    assert len(rows) == 3 * 24 * 2
    assert list(rows[0])[:7] == ["model_a", "model_b", "winner", "criterion", "prompt_id", "rater_id", "tstamp"]
    assert sum(row["counted"] == "no" for row in rows) == 48 and {row["rater_status"] for row in rows} == {"counted", "flagged"}
    slugs = {model_label(spec) for spec in voted_study.job.specs.all()}
    assert {row["model_a"] for row in rows} <= slugs
    assert {row["winner"] for row in rows} <= {"model_a", "model_b", "tie"}
    raters = {row["rater_id"] for row in rows}
    assert len(raters) == 3 and not any(name in " ".join(raters) for name in ("r1", "r2", "flagged"))
    path = tmp_path / "votes.csv"
    path.write_bytes(content)
    assert read_vote_file(path).n_votes == 2 * 24 * 2  # the flagged rater's votes are not counted
    assert read_vote_file(path, include_uncounted=True).n_votes == len(rows)
    # One vote order, one seed rule: the command's intervals on the downloaded votes are the page's.
    from ratings.stats import cli

    for method, resample in (("bt", "comparison"), ("bt", "prompt"), ("winrate", "rater")):
        options = {"votes": str(path), "method": method, "rounds": 300, "seed": 7, "output_format": "json", "resample": resample, "pairs": True}
        offline = json.loads(cli.run(options))
        online = leaderboards.compute_study_leaderboard(study=voted_study, method=method, rounds=300, seed=7, resample=resample)
        assert offline["models"] == online["models"], (method, resample)
        assert offline["pairs"] == online["pairs"], (method, resample)


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
    for plot in plots.VERSUS_PLOTS:  # drawn only for a study with a reference; this one has none
        with pytest.raises(ValueError, match="for a study with a reference model"):
            plots.plot_export(study=voted_study, plot=plot, fmt="png")
    for plot in set(plots.PLOTS) - set(plots.VERSUS_PLOTS):
        png, content_type, _ = plots.plot_export(study=voted_study, plot=plot, fmt="png")
        assert content_type == "image/png" and png.startswith(b"\x89PNG"), plot
        svg, content_type, _ = plots.plot_export(study=voted_study, plot=plot, fmt="svg")
        assert content_type == "image/svg+xml" and b"<svg" in svg, plot


@pytest.mark.django_db(transaction=True)
def test_results_pages_for_staff(voted_study, client):
    client.force_login(UserFactory(username="staff", staff=True))
    html = client.get(f"/studies/{voted_study.pk}/leaderboard/?method=elo").content.decode()
    turbo = model_label(voted_study.job.specs.order_by("pk")[0])
    assert "Spread over orderings (not a confidence interval)" in html and turbo in html
    assert "95% bootstrap interval" in html and "votes resampled" in html
    # The flagged rater's votes are left out, and the page says so with a switch to include them.
    assert "48 of 144 votes were left out" in html and "Include flagged raters" in html
    included = client.get(f"/studies/{voted_study.pk}/leaderboard/?include_flagged=1").content.decode()
    assert "left out" not in included.split("Raters flagged in this study are included")[0]
    assert "Counted: 144 votes" in included
    response = client.get(f"/studies/{voted_study.pk}/leaderboard.latex?method=bt")
    assert response.status_code == 200 and "attachment" in response["Content-Disposition"]
    assert client.get(f"/studies/{voted_study.pk}/plots/heatmap.svg").status_code == 200
    response = client.get(f"/studies/{voted_study.pk}/leaderboard/?method=nonsense")
    assert response.status_code == 400
    assert client.get(f"/studies/{voted_study.pk}/leaderboard/?seed=-1").status_code == 400


@pytest.mark.django_db(transaction=True)
def test_export_command_writes_files_and_refuses_bad_input(voted_study, tmp_path):
    from django.core.management import CommandError, call_command

    call_command("export_study", "leaderboard", study=voted_study.pk, fmt="md", out=tmp_path / "board.md", rounds=50)
    assert "| criterion | rank | model |" in (tmp_path / "board.md").read_text()
    call_command("export_study", "votes", study=voted_study.pk, out=tmp_path / "votes.csv")
    assert (tmp_path / "votes.csv").read_text().startswith(f"# study {voted_study.pk}: votes exported")
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
def test_the_leaderboard_counts_every_answer_of_every_rater(hot_path):
    study = RatedStudyFactory(specs__n=3, prompt_set__size=4, votes__raters=3, votes__per_rater=5)
    board = leaderboards.study_leaderboard(study=study, method="winrate", rounds=20)
    assert board["provenance"]["votes"] == 3 * 5 * len(study.criteria)


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
    client.force_login(UserFactory(username="staff", staff=True))
    assert "Caution: the Bradley-Terry maximum likelihood" in client.get(f"/studies/{study.pk}/leaderboard/?recompute=1").content.decode()


def _vote_everything(study, rater, pick_a=True):
    """The rater answers every pair: image A on both criteria (or B)."""
    while (comparison := comparison_serve(study=study, rater=rater)) is not None:
        a_side, b_side = ("left", "right") if comparison.left_is_a else ("right", "left")
        side = a_side if pick_a else b_side
        vote_record(token=comparison.token, rater=rater, answers={"prompt_adherence": side, "image_quality": side}, response_ms=800)


@pytest.mark.django_db(transaction=True)
def test_breakdown_by_prompt_category_on_page_and_api(voted_study, client):
    from generation.models import Prompt

    prompts = list(Prompt.objects.filter(prompt_set=voted_study.job.prompt_set).order_by("pk"))
    Prompt.objects.filter(pk__in=[p.pk for p in prompts[:6]]).update(category="Animals")
    Prompt.objects.filter(pk__in=[p.pk for p in prompts[6:]]).update(category="Vehicles")
    document = leaderboards.study_leaderboard(study=voted_study, method="bt", rounds=100, by="category", recompute=True)
    assert set(document["by_category"]) == {"Animals", "Vehicles"}
    animals, vehicles = document["by_category"]["Animals"], document["by_category"]["Vehicles"]
    assert animals["votes"] == 6 * 3 * 2 * 2 and vehicles["votes"] == 2 * 3 * 2 * 2
    assert any("too few to rank" in w for w in vehicles["warnings"])
    assert {row["votes"] for row in vehicles["models"] if row["criterion"] != "mean"} == {2 * 2 * 2}
    client.force_login(UserFactory(username="staff", staff=True))
    html = client.get(f"/studies/{voted_study.pk}/leaderboard/?by=category&rounds=100").content.decode()
    assert "Category: Animals" in html and "Category: Vehicles" in html and "too few to rank" in html
    md = client.get(f"/studies/{voted_study.pk}/leaderboard.md?by=category&rounds=100").content.decode()
    assert "Category Animals (72 votes)" in md


@pytest.mark.django_db(transaction=True)
def test_plots_survive_dollar_signs_and_ratings_outside_their_interval(voted_study):
    from generation.models import ModelSpec

    ModelSpec.objects.filter(pk=voted_study.job.specs.order_by("pk")[0].pk).update(slug="cost-$5-$model")
    caches.leaderboards_invalidate(study_ids=[voted_study.pk])
    for method in ("elo", "bt"):
        for plot in set(plots.PLOTS) - set(plots.VERSUS_PLOTS):  # no reference in this study
            content, content_type, _ = plots.plot_export(study=voted_study, plot=plot, fmt="png", method=method)
            assert content.startswith(b"\x89PNG"), (method, plot)
    row = {"rating": 10.0, "ci_low": 11.0, "ci_high": 12.0}
    assert plots._errors(row) == (0.0, 2.0)
    assert plots.model_colours(["a", "b"])["a"] == plots.model_colours(["b", "a"])["a"]


def test_the_design_and_the_weights_behind_the_images_are_in_every_result(make_study, client):
    """The page and exports say how pairs were chosen, warn where a method is biased under
    adaptive sampling (online Elo, mean win rate; never Bradley-Terry), give the forecast, and
    name the hub commits each model's images came from."""
    from django.db.models import Q

    from generation.models import Image
    from ratings.models import Study

    study = make_study(n_models=2, n_prompts=2, attention_check_rate=0, repeat_share=0)
    rater = raters.rater_join(study=study, source=Rater.Source.PROLIFIC, external_id="design1")[0]
    _vote_everything(study, rater)
    first = study.job.specs.order_by("pk").first()
    commit = {"weights": {"repo": "stabilityai/sdxl-turbo", "revision": "main", "commit": "f4c1d3e9b2a7"}}
    Image.objects.filter(Q(spec=first)).update(weights_revisions=commit)
    label = model_label(first)

    uniform = leaderboards.study_leaderboard(study=study, method="elo", rounds=40, recompute=True)["provenance"]
    assert uniform["design"]["sampling"] == "uniform" and uniform["design"]["note"] is None
    assert uniform["weights"] == {label: [{"role": "weights", "repo": "stabilityai/sdxl-turbo", "revision": "main", "commit": "f4c1d3e9b2a7"}]}

    Study.objects.filter(pk=study.pk).update(sampling="adaptive", stop_when="separated", vote_budget=500)
    study.refresh_from_db()
    for method, biased in (("bt", False), ("elo", True), ("winrate", True)):
        document = leaderboards.study_leaderboard(study=study, method=method, rounds=40, recompute=True)
        assert (document["provenance"]["design"]["note"] is not None) is biased
        content = exports.leaderboard_export(study=study, method=method, fmt="md", rounds=40)[0].decode()
        assert "pairs chosen by adaptive sampling; stops on separated (budget 500 comparisons)" in content
        assert ("caution: " in content) is biased
        assert f"weights of {label}: weights stabilityai/sdxl-turbo@f4c1d3e9b2a7" in content
    client.force_login(UserFactory(username="staff-design", staff=True))
    page = client.get(f"/studies/{study.pk}/leaderboard/?method=elo&rounds=40&recompute=1").content.decode()
    assert "Pairs were chosen by adaptive sampling" in page and 'id="design-caution"' in page and "Forecast: " in page
    page = client.get(f"/studies/{study.pk}/leaderboard/?method=bt&rounds=40&recompute=1").content.decode()
    assert "Pairs were chosen by adaptive sampling" in page and 'id="design-caution"' not in page

    # A study that allows ties: Bradley-Terry's half-win convention depends on the design and every
    # result says so; the Davidson tie model does not, and says nothing.
    Study.objects.filter(pk=study.pk).update(allow_ties=True)
    study.refresh_from_db()
    for method, warned in (("bt", True), ("davidson", False)):
        note = leaderboards.study_leaderboard(study=study, method=method, rounds=40, recompute=True)["provenance"]["design"]["note"]
        assert ("ties count as half a win" in (note or "")) is warned
        for fmt in ("md", "csv", "json", "latex"):
            content = exports.leaderboard_export(study=study, method=method, fmt=fmt, rounds=40)[0].decode()
            assert ("ties count as half a win" in content) is warned, fmt
    page = client.get(f"/studies/{study.pk}/leaderboard/?method=bt&rounds=40&recompute=1").content.decode()
    assert 'id="design-caution"' in page and "Davidson tie model" in page
    page = client.get(f"/studies/{study.pk}/leaderboard/?method=davidson&rounds=40&recompute=1").content.decode()
    assert 'id="design-caution"' not in page and "ties count as half a win" not in page and "Davidson ties" in page


@pytest.mark.django_db(transaction=True)
def test_win_rates_count_each_models_votes_per_criterion(tiny_specs, prompt_set, django_capture_on_commit_callbacks):
    study = StudyFactory(specs=tiny_specs, prompt_set=prompt_set, seeds=[0, 1], votes_per_pair=1, no_checks=True)
    with django_capture_on_commit_callbacks(execute=True):
        studies.study_start_generation(study=study)
    studies.study_open(study=study)
    rater = raters.rater_invite(study=study, user=UserFactory())
    slug_of = {spec.pk: spec.slug for spec in study.job.specs.all()}
    while (comparison := comparison_serve(study=study, rater=rater)) is not None:
        slug_a, slug_b = slug_of[comparison.image_a.spec_id], slug_of[comparison.image_b.spec_id]
        side = {"a": "left" if comparison.left_is_a else "right", "b": "right" if comparison.left_is_a else "left"}
        # The turbo model always wins on adherence and always loses on quality; LCM beats the baseline on both.
        if "tiny-turbo-1step" in (slug_a, slug_b):
            turbo = "a" if slug_a == "tiny-turbo-1step" else "b"
            other = "b" if turbo == "a" else "a"
            answers = {"prompt_adherence": side[turbo], "image_quality": side[other]}
        else:
            lcm = "a" if slug_a == "tiny-lcm-4step" else "b"
            answers = {"prompt_adherence": side[lcm], "image_quality": side[lcm]}
        vote_record(token=comparison.token, rater=rater, answers=answers, response_ms=1000)
    board = leaderboards.compute_study_leaderboard(study=study, method="winrate", rounds=20)
    adherence = {row["model"]: (row["votes"], row["rating"]) for row in board["models"] if row["criterion"] == "prompt_adherence"}
    quality = {row["model"]: (row["votes"], row["rating"]) for row in board["models"] if row["criterion"] == "image_quality"}
    assert adherence == {"tiny-turbo-1step": (32, 1.0), "tiny-lcm-4step": (32, 0.5), "tiny-base-25step": (32, 0.0)}
    assert quality == {"tiny-turbo-1step": (32, 0.0), "tiny-lcm-4step": (32, 1.0), "tiny-base-25step": (32, 0.5)}


@pytest.mark.parametrize("method", ["winrate", "elo", "bt"])
def test_set_votes_rate_the_models_under_their_own_criterion_in_every_method(make_study, client, method):
    """The set criterion's votes go through the same machinery as any criterion: here the model
    with the lowest id is always the more varied set and always loses on both pair questions, so
    the diversity ranking is the pair rankings reversed, with its own votes, pairs and mean."""
    from ratings.models import Vote

    study = make_study(n_models=3, n_prompts=3, seeds=(1, 2), set_criteria=["diversity"], votes_per_pair=1, attention_check_rate=0, repeat_share=0, quota_per_rater=100)
    rater = raters.rater_invite(study=study, user=UserFactory())
    while (comparison := comparison_serve(study=study, rater=rater)) is not None:
        a, b = ("left", "right") if comparison.left_is_a else ("right", "left")  # A is the lower-id model
        answers = {"diversity": a, "prompt_adherence": b, "image_quality": b}
        vote_record(token=comparison.token, rater=rater, answers=answers, response_ms=1000)
    assert Vote.objects.filter(criterion="diversity").count() == 3 * 3  # prompts x model pairs
    labels = [model_label(spec) for spec in study.job.specs.order_by("pk")]
    board = leaderboards.compute_study_leaderboard(study=study, method=method, rounds=50)
    assert board["criteria"] == ["prompt_adherence", "image_quality", "diversity"]
    order = lambda criterion: [row["model"] for row in board["models"] if row["criterion"] == criterion]  # noqa: E731
    assert order("diversity") == labels and order("prompt_adherence") == labels[::-1] == order("image_quality")
    assert {row["votes"] for row in board["models"] if row["criterion"] == "diversity"} == {2 * 3}  # 2 opponents x 3 prompts
    diversity_pairs = [p for p in board["pairs"] if p["criterion"] == "diversity"]
    assert len(diversity_pairs) == 3 and all(p["wins_a"] + p["wins_b"] == 3 for p in diversity_pairs)
    for p in diversity_pairs:
        lower = labels.index(p["model_a"]) < labels.index(p["model_b"])
        assert p["win_rate"] == (1.0 if lower else 0.0)
    # The page shows the set question's leaderboard, its win-rate matrix, and the rating beside automated diversity.
    client.force_login(UserFactory(is_staff=True))
    html = client.get(f"/studies/{study.pk}/leaderboard/?method={method}&rounds=50").content.decode()
    assert 'data-criterion="diversity"' in html and "Which set of images is more varied?" in html
    assert 'class="matrix pairs" data-criterion="diversity"' in html
    assert 'class="human-diversity" data-criterion="diversity"' in html


@pytest.mark.django_db(transaction=True)
def test_the_speed_plots_say_when_the_timings_come_from_a_cpu(voted_study, client):
    from generation.models import SpeedMeasurement

    specs = list(voted_study.job.specs.order_by("pk"))

    def measured(spec, device, gpu_name=""):
        SpeedMeasurement.objects.create(
            spec=spec, device=device, gpu_name=gpu_name, runs=3, warmup_runs=2, median_s=0.1 * (spec.steps or 1), p10_s=0.05,
            p90_s=0.5, height=64, width=64, torch_version="t", diffusers_version="d",
        )

    for spec in specs:
        measured(spec, "cuda", "NVIDIA A100")
    assert plots.cpu_timing_note(["NVIDIA A100"]) == ""
    svg, _, _ = plots.plot_export(study=voted_study, plot="speed", fmt="svg")
    assert b"Timed on a CPU" not in svg and b"NVIDIA A100" in svg
    assert "Timed on a CPU" not in exports.leaderboard_export(study=voted_study, method="bt", fmt="latex", rounds=100)[0].decode()
    client.force_login(UserFactory(username="speed-staff", staff=True))
    assert "Timed on a CPU" not in client.get(f"/dashboard/studies/{voted_study.pk}/panel/").content.decode()
    measured(specs[0], "cpu")  # the newest measurement counts: one model now timed on a CPU
    assert plots.cpu_timing_note(["CPU", "NVIDIA A100"]).startswith("Timed on a CPU")
    assert plots.cpu_timing_note(["CPU, in-batch estimate"]).startswith("Timed on a CPU")
    svg, _, _ = plots.plot_export(study=voted_study, plot="speed", fmt="svg")
    assert b"Timed on a CPU" in svg
    panel = client.get(f"/dashboard/studies/{voted_study.pk}/panel/").content.decode()
    assert 'class="speed-note">Timed on a CPU: not the GPU seconds a paper reports' in panel
    latex = exports.leaderboard_export(study=voted_study, method="bt", fmt="latex", rounds=100)[0].decode()
    assert "% s/img: Timed on a CPU: not the GPU seconds a paper reports" in latex
