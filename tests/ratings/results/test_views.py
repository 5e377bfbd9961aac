"""The leaderboard page as a researcher meets it (issue 26): the pictures before the tables,
options that work without inline script, the forecast while running and after a stop, and text
that reads right (one full stop, "< 0.001", code spans in the Markdown export kept as they are)."""

from __future__ import annotations

import random
import re

import pytest
from django.utils import timezone

from ratings.models import Rater, Study
from ratings.raters import rater_join
from ratings.results import exports, figures, plots
from tests.factories import UserFactory, comparison_serve, vote_as, vote_record

pytestmark = pytest.mark.django_db

BUDGET_REASON = "Vote budget reached: 24 of 24 comparisons answered before the ranking was decided."


@pytest.fixture
def adaptive_study(make_study):
    """Three models, adaptive sampling stopped by `separated` or a budget of 60; 24 comparisons."""
    study = make_study(
        n_models=3, n_prompts=4, sampling_rule="adaptive", stop_when="separated", vote_budget=60,
        attention_check_rate=0, repeat_share=0,
    )
    rng = random.Random(5)
    for name in ("pa", "pb", "pc"):
        rater, _ = rater_join(study=study, source=Rater.Source.PROLIFIC, external_id=f"forecast-rater-{name}")
        vote_as(study, rater, 8, rng)
    return study


@pytest.fixture
def staff_client(client, db):
    client.force_login(UserFactory(username="boss", staff=True))
    return client


def _paragraph(html: str, element_id: str) -> str:
    return re.sub(r"<[^>]+>", "", re.search(rf'id="{element_id}">(.*?)</p>', html, re.S).group(1))


def test_the_page_opens_with_the_pictures_then_the_tables_and_has_no_inline_script(adaptive_study, staff_client):
    html = staff_client.get(f"/studies/{adaptive_study.pk}/leaderboard/").content.decode()
    forest, heatmap, table = html.index('id="forest-plot"'), html.index('id="heatmap-plot"'), html.index('<table class="leaderboard"')
    assert forest < heatmap < table
    assert f"/studies/{adaptive_study.pk}/plots/forest.svg?" in html and "criterion=mean" in html
    # No handler attribute and no inline script: the options are sent by leaderboard.js, or by "Show".
    assert not re.search(r"\son[a-z]+=", html) and not re.search(r"<script(?![^>]*\ssrc=)", html)
    assert '<script src="/static/evalsite/leaderboard.js"></script>' in html
    assert 'id="show-options"' in html and 'id="leaderboard-options"' in html
    for name in ("method", "resample", "by", "include_flagged"):
        assert f'name="{name}"' in html


def test_a_non_default_seed_and_rounds_survive_a_change_of_option(adaptive_study, staff_client):
    html = staff_client.get(f"/studies/{adaptive_study.pk}/leaderboard/?rounds=300&seed=4").content.decode()
    form = re.search(r'<form method="get"[^>]*id="leaderboard-options">(.*?)</form>', html, re.S).group(1)
    assert '<input type="hidden" name="rounds" value="300">' in form and '<input type="hidden" name="seed" value="4">' in form


def test_the_forest_plot_draws_every_model_in_every_criterion_and_the_combined_rating(adaptive_study):
    content, content_type, _ = plots.plot_export(study=adaptive_study, plot="forest", fmt="svg")
    svg = content.decode()
    assert content_type == "image/svg+xml"
    for label in ("prompt adherence", "image quality", "combined (mean of prompt adherence and"):  # matplotlib names each text in a comment
        assert f"<!-- {label}" in svg
    for spec in adaptive_study.job.specs.all():
        assert spec.slug in svg
    assert plots.plot_export(study=adaptive_study, plot="forest", fmt="png")[0][:8] == b"\x89PNG\r\n\x1a\n"


def test_the_forest_plot_puts_each_model_on_its_own_row_in_every_panel():
    plt = figures.pyplot()
    document = {"criteria": ["a", "b"], "mean_of": ["a", "b"], "models": [
        {"model": m, "criterion": c, "rating": r + shift, "ci_low": r + shift - 50, "ci_high": r + shift + 80}
        for c, shift in (("a", 0), ("b", 10), ("mean", 5)) for m, r in (("top", 1200), ("middle", 1000), ("bottom", 800))
    ]}
    figure = plots._forest(plt, document, {})
    assert len(figure.axes) == 3
    assert [t.get_text() for t in figure.axes[0].get_yticklabels()] == ["bottom", "middle", "top"]
    for axis, shift in zip(figure.axes, (0, 10, 5)):
        points = [line.get_xydata()[0].tolist() for line in axis.lines]
        assert points[0::3] == [[800 + shift, 0.0], [1000 + shift, 1.0], [1200 + shift, 2.0]]  # the dots
        assert points[1::3] == [[750 + shift, 0.0], [950 + shift, 1.0], [1150 + shift, 2.0]]  # interval ends
        assert points[2::3] == [[880 + shift, 0.0], [1080 + shift, 1.0], [1280 + shift, 2.0]]
    plt.close(figure)


def test_the_forecast_shows_while_running_and_the_one_at_the_stop_after(adaptive_study, staff_client):
    running = _paragraph(staff_client.get(f"/studies/{adaptive_study.pk}/leaderboard/").content.decode(), "forecast")
    assert running.startswith("Forecast:") and re.search(r"About [\d,]+ more comparisons, 90% range", running)
    dashboard = _paragraph(staff_client.get(f"/dashboard/studies/{adaptive_study.pk}/").content.decode(), "forecast")
    assert dashboard.startswith("Forecast:") and "more comparisons" in dashboard

    Study.objects.filter(pk=adaptive_study.pk).update(stopped_at=timezone.now(), stop_reason=BUDGET_REASON)
    html = staff_client.get(f"/studies/{adaptive_study.pk}/leaderboard/?recompute=1").content.decode()
    after = _paragraph(html, "forecast")
    assert after.startswith("Forecast from the votes at the stop:")
    # A budget stop before the rule was met: the forecast still says what the rule needs (not 0).
    assert re.search(r"still needs: about [1-9][\d,]* more comparisons", after), after
    design = _paragraph(html, "design")
    assert "before the ranking was decided." in design and design.endswith("comparisons answered in all.") and ".." not in design
    dashboard = _paragraph(staff_client.get(f"/dashboard/studies/{adaptive_study.pk}/").content.decode(), "forecast")
    assert dashboard.startswith("Forecast from the votes at the stop") and re.search(r"about [1-9][\d,]* more", dashboard)


def test_p_values_below_a_thousandth_read_less_than(make_study, staff_client):
    """One model always beats the others: the win-rate cells' Holm p are far below 0.001."""
    study = make_study(n_models=3, n_prompts=8, seeds=(0, 1), attention_check_rate=0, repeat_share=0, votes_per_pair=2, quota_per_rater=1000)
    best = study.job.specs.order_by("pk")[0].pk
    for name in ("w1", "w2"):
        rater, _ = rater_join(study=study, source=Rater.Source.PROLIFIC, external_id=f"pvalue-rater-{name}")
        while (comparison := comparison_serve(study=study, rater=rater)) is not None:
            a, b = ("left", "right") if comparison.left_is_a else ("right", "left")
            winner = a if comparison.image_a.spec_id == best else b if comparison.image_b.spec_id == best else a
            vote_record(token=comparison.token, rater=rater, answers={c: winner for c in study.criteria}, response_ms=900)
    html = staff_client.get(f"/studies/{study.pk}/leaderboard/").content.decode()
    matrix = html[html.index('<table class="matrix pairs"'):]
    assert "p<sub>Holm</sub> &lt; 0.001" in matrix
    assert "p<sub>Holm</sub> 0.000" not in matrix


def test_the_markdown_export_keeps_code_spans_as_markdown_shows_them(adaptive_study):
    markdown = exports.leaderboard_export(study=adaptive_study, fmt="md", rounds=100)[0].decode()
    assert "`manage.py compute_metrics --study" in markdown
    assert "compute\\_metrics" not in markdown and "\\`" not in markdown


def test_a_plot_of_the_ratings_is_drawn_once_per_computed_leaderboard(adaptive_study, monkeypatch):
    from ratings.results.caches import leaderboards_invalidate

    drawn = []
    draw = plots._plot_export
    monkeypatch.setattr(plots, "_plot_export", lambda **kwargs: drawn.append(kwargs["plot"]) or draw(**kwargs))
    first = plots.plot_export(study=adaptive_study, plot="forest", fmt="svg")
    assert plots.plot_export(study=adaptive_study, plot="forest", fmt="svg") == first and drawn == ["forest"]
    plots.plot_export(study=adaptive_study, plot="speed", fmt="svg")
    plots.plot_export(study=adaptive_study, plot="speed", fmt="svg")
    assert drawn == ["forest", "speed", "speed"]  # speed also reads timings, which change on their own
    leaderboards_invalidate(study_ids=[adaptive_study.pk])  # a flag, an exclusion, a stop: new numbers, new plot
    plots.plot_export(study=adaptive_study, plot="forest", fmt="svg")
    assert drawn == ["forest", "speed", "speed", "forest"]
