"""The study report (ratings/results/report.py) and the figures of issue 27 item 4 (plots.py):
the report of a rated study with a reference and without one, as HTML (figures embedded, every
section) and as PDF (read back: its page count and the figures on their pages); the figures'
numbers taken from the decision table; the API's report for the study's team only, throttled
like the exports; the command."""

from __future__ import annotations

import re
import zlib

import pytest
from django.core.management import CommandError, call_command

from generation.models import SpeedMeasurement
from ratings.results import leaderboards, plots
from ratings.results.report import study_report, text_page_count
from ratings.results.report_sections import report_sections
from ratings.results.votes import model_label
from tests.factories import token_client
from tests.factories import UserFactory
from tests.ratings.test_versus import crowd_answers, versus_study

pytestmark = pytest.mark.django_db

VERSUS_FIGURES = ["versus-bars", "versus-table", "forest", "speed"]


def timed(study, *, device="cpu", skip=()):
    """A batch-1 speed measurement per model (slower with more steps), except the models in skip."""
    for spec in study.job.specs.all():
        if spec.pk in skip:
            continue
        SpeedMeasurement.objects.create(
            spec=spec, device=device, gpu_name="" if device == "cpu" else "NVIDIA A100", runs=5, warmup_runs=1,
            median_s=0.05 * spec.steps, p10_s=0.045 * spec.steps, p90_s=0.06 * spec.steps, height=64, width=64,
            torch_version="2", diffusers_version="0.30",
        )


def rated_versus_study(owner=None, **settings):
    study, teacher, students = versus_study(n_models=3, n_prompts=5, seeds=(0,), attention_check_rate=0, repeat_share=0, owner=owner, **settings)
    crowd_answers(study, n_raters=3)
    timed(study)
    return study, teacher, students


def rated_plain_study(make_study, owner=None):
    study = make_study(n_models=3, n_prompts=4, attention_check_rate=0, repeat_share=0, owner=owner)
    crowd_answers(study, n_raters=2)
    timed(study)
    return study


def pdf_pages(content: bytes) -> int:
    """Pages of a PDF counted from its structure: its /Type /Page objects (not /Pages)."""
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", content))


def pdf_page_texts(content: bytes) -> list[str]:
    """The text each page's content stream shows, in page order (matplotlib writes each page's
    stream deflated, its strings in parentheses, in the order the pages are added)."""
    texts = []
    for match in re.finditer(rb"<<([^>]*?)/Filter\s*/FlateDecode([^>]*?)>>\s*stream\r?\n", content):
        start = match.end()
        end = content.index(b"endstream", start)
        try:
            stream = zlib.decompress(content[start:end])
        except zlib.error:
            continue
        if b" Tf" not in stream and b"TJ" not in stream and b"Tj" not in stream:
            continue
        strings = re.compile(rb"\(((?:\\.|[^\\)])*)\)")
        shown = b" ".join(
            b"".join(strings.findall(operand)) for operand in re.findall(rb"(\((?:\\.|[^\\)])*\)\s*Tj|\[(?:\\.|[^\]])*\]\s*TJ)", stream)
        )
        texts.append(shown.decode("latin-1"))
    return texts


def test_the_report_of_a_study_with_a_reference_has_every_section_and_its_figures(db):
    study, teacher, students = rated_versus_study()
    head, sections = report_sections(study=study)
    document = head["document"]
    assert [s.anchor for s in sections] == ["design", "prompts", "raters", "stop", "versus", "ranking", "speed", "provenance"]
    assert [v for s in sections for kind, v in s.blocks if kind == "figure"] == VERSUS_FIGURES

    content, content_type, filename = study_report(study=study, fmt="html")
    page = content.decode()
    assert content_type.startswith("text/html") and filename == f"study-{study.pk}-report.html"
    assert page.count('src="data:image/png;base64,') == 4 and "<script" not in page and "http" not in page.split("<body>")[1]
    for anchor in ("design", "prompts", "raters", "stop", "versus", "ranking", "speed", "provenance"):
        assert f'<section id="{anchor}">' in page
    # The decision table's rows, as the leaderboard document has them.
    for row in document["versus"]:
        assert f"<td>{row['model']}</td><td>{row['criterion']}</td><td>{row['win_rate']:.3f}</td>" in page
    assert f"versus the reference {model_label(teacher)}" in page
    assert "5 prompts" in page and "seeds 0" in page and "Timed on a CPU" in page and document["provenance"]["code_version"] in page

    pdf, content_type, filename = study_report(study=study, fmt="pdf")
    assert pdf.startswith(b"%PDF-") and content_type == "application/pdf"
    texts = text_page_count(sections, head["header"])
    assert pdf_pages(pdf) == texts + len(VERSUS_FIGURES)
    pages = pdf_page_texts(pdf)
    assert len(pages) == texts + len(VERSUS_FIGURES), [p[:80] for p in pages]
    assert "study report" in pages[0]
    figure_pages = pages[texts:]
    assert "Win rate against" in figure_pages[0] and "Decisions against" in figure_pages[1]
    assert "rating and" in figure_pages[2] and "seconds per image" in figure_pages[3] and "CPU" in figure_pages[3]
    assert "Pareto front" in figure_pages[3]


def test_the_report_of_a_study_without_a_reference_leaves_the_versus_figures_out(make_study):
    study = rated_plain_study(make_study)
    head, sections = report_sections(study=study)
    assert "versus" not in [s.anchor for s in sections]
    page = study_report(study=study, fmt="html")[0].decode()
    assert page.count('src="data:image/png;base64,') == 2 and "Against the reference" not in page
    pdf = study_report(study=study, fmt="pdf")[0]
    assert pdf_pages(pdf) == text_page_count(sections, head["header"]) + 2
    with pytest.raises(ValueError, match="has none"):
        plots.plot_export(study=study, plot="versus-bars", fmt="svg")


def test_the_bars_draw_the_decision_tables_numbers_and_the_studys_margin(db):
    study, teacher, students = rated_versus_study(versus_margin=0.1)
    document = leaderboards.study_leaderboard(study=study)
    figure = plots.plot_figure(study=study, plot="versus-bars", document=document)
    criteria = list(dict.fromkeys(row["criterion"] for row in document["versus"]))
    criteria.sort(key=lambda name: name == "mean")
    models = sorted({row["model"] for row in document["versus"]})
    assert len(figure.axes) == len(criteria) == 3
    for axis, criterion in zip(figure.axes, criteria):
        widths = [bar.get_width() for bar in axis.patches if bar.get_height() == pytest.approx(0.6)]
        expected = [row["win_rate"] for name in models for row in document["versus"] if row["model"] == name and row["criterion"] == criterion]
        assert widths == pytest.approx(expected)
        dashed = [line.get_xdata()[0] for line in axis.lines if line.get_linestyle() == "--"]
        assert dashed == [pytest.approx(0.4)]  # 0.5 - the study's margin, not a constant
    svg = plots.plot_export(study=study, plot="versus-bars", fmt="svg")[0].decode()
    for row in document["versus"]:
        assert f"{row['win_rate']:.2f} {row['decision']}" in svg
    table = plots.plot_export(study=study, plot="versus-table", fmt="svg")[0].decode()
    assert all(f"{row['win_rate']:.3f}" in table for row in document["versus"])
    assert plots.plot_export(study=study, plot="versus-bars", fmt="pdf")[0].startswith(b"%PDF-")


def test_the_speed_plot_marks_the_pareto_front_and_names_the_device(db):
    assert plots.pareto_front({"a": (0.1, 900.0), "b": (0.2, 1000.0), "c": (0.4, 950.0), "d": (5.0, 1010.0)}) == ["a", "b", "d"]
    assert plots.pareto_front({"a": (1.0, 1.0), "b": (1.0, 1.0)}) == ["a", "b"]  # ties dominate neither
    study, teacher, students = rated_versus_study()
    document = leaderboards.study_leaderboard(study=study)
    figure = plots.plot_figure(study=study, plot="speed", document=document)
    axis = figure.axes[0]
    assert "CPU" in axis.get_xlabel() and axis.get_xscale() == "log"
    assert any("Pareto" in text.get_text() for text in axis.get_legend().get_texts())
    SpeedMeasurement.objects.all().delete()
    timed(study, device="cuda")
    figure = plots.plot_figure(study=study, plot="speed", document=document)
    assert "NVIDIA A100" in figure.axes[0].get_xlabel() and "CPU" not in figure.axes[0].get_xlabel()


def test_the_api_gives_the_report_to_the_studys_team_only_throttled_like_the_exports(db, settings):
    owner, stranger = UserFactory(username="ada"), UserFactory(username="grace")
    study, teacher, students = rated_versus_study(owner=owner)
    api, other = token_client(owner), token_client(stranger)
    url = f"/api/v1/studies/{study.pk}/report/"
    pdf = api.get(url, {"format": "pdf"})
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF-")
    assert pdf["Content-Disposition"] == f'attachment; filename="study-{study.pk}-report.pdf"'
    page = api.get(url, {"format": "html"})
    assert page.status_code == 200 and page["Content-Type"].startswith("text/html") and b"data:image/png;base64," in page.content
    assert api.get(url).content.startswith(b"%PDF-")  # pdf by default
    bad = api.get(url, {"format": "docx"})
    assert bad.status_code == 400 and bad.json() == {"detail": "Unknown report format 'docx': use pdf or html."}
    assert other.get(url, {"format": "pdf"}).status_code == 404
    settings.EVALSITE_THROTTLE_RATES = {**settings.EVALSITE_THROTTLE_RATES, "export": "1/minute"}
    from django.core.cache import cache

    cache.clear()
    assert api.get(url, {"format": "html"}).status_code == 200
    throttled = api.get(url, {"format": "html"})
    assert throttled.status_code == 429 and "EVALSITE_THROTTLE_EXPORT" in throttled.json()["detail"]


def test_the_results_page_links_the_figures_and_the_report_downloads(client, db):
    owner = UserFactory(username="ada")
    study, teacher, students = rated_versus_study(owner=owner)
    client.force_login(owner)
    page = client.get(f"/studies/{study.pk}/leaderboard/").content.decode()
    assert 'id="versus-bars-plot"' in page and 'id="versus-table-plot"' in page and "versus-bars.pdf" in page
    download = client.get(f"/studies/{study.pk}/report.html")
    assert download.status_code == 200 and download["Content-Disposition"].startswith("attachment;")
    assert client.get(f"/studies/{study.pk}/report.pdf").content.startswith(b"%PDF-")
    assert client.get(f"/studies/{study.pk}/report.docx").status_code == 404
    assert client.get(f"/studies/{study.pk}/plots/versus-bars.pdf").content.startswith(b"%PDF-")
    client.force_login(UserFactory(username="grace"))
    assert client.get(f"/studies/{study.pk}/report.html").status_code == 403


def test_the_command_writes_the_report(make_study, tmp_path):
    study = rated_plain_study(make_study)
    out = tmp_path / "report.html"
    call_command("report", "--study", str(study.pk), "--format", "html", "--output", str(out))
    assert out.read_text().startswith("<!doctype html>")
    call_command("report", "--study", str(study.pk), "--output", str(tmp_path / "report.pdf"))
    assert (tmp_path / "report.pdf").read_bytes().startswith(b"%PDF-")
    with pytest.raises(CommandError, match="There is no study with id 999999"):
        call_command("report", "--study", "999999")
    with pytest.raises(CommandError, match="Could not write"):
        call_command("report", "--study", str(study.pk), "--output", str(tmp_path / "missing" / "report.pdf"))


def test_the_api_draws_the_figures_for_the_studys_team(db):
    owner, stranger = UserFactory(username="ada"), UserFactory(username="grace")
    study, teacher, students = rated_versus_study(owner=owner)
    api = token_client(owner)
    document = leaderboards.study_leaderboard(study=study)
    bars = api.get(f"/api/v1/studies/{study.pk}/plots/versus-bars/", {"fmt": "svg"})
    assert bars.status_code == 200 and bars["Content-Type"] == "image/svg+xml"
    assert all(f"{row['win_rate']:.2f} {row['decision']}" in bars.content.decode() for row in document["versus"])
    assert api.get(f"/api/v1/studies/{study.pk}/plots/speed/", {"fmt": "png"}).content[:8] == b"\x89PNG\r\n\x1a\n"
    assert api.get(f"/api/v1/studies/{study.pk}/plots/versus-table/", {"fmt": "pdf"}).content.startswith(b"%PDF-")
    unknown = api.get(f"/api/v1/studies/{study.pk}/plots/pie/")
    assert unknown.status_code == 404 and "Unknown plot 'pie'" in unknown.json()["detail"]
    assert api.get(f"/api/v1/studies/{study.pk}/plots/speed/", {"fmt": "gif"}).status_code == 400
    assert token_client(stranger).get(f"/api/v1/studies/{study.pk}/plots/versus-bars/").status_code == 404


def test_a_study_without_votes_gets_a_report_that_says_so_and_its_name_stays_text(db):
    study, teacher, students = versus_study(n_models=3, n_prompts=3, seeds=(0,), attention_check_rate=0, repeat_share=0)
    study.name = 'Cubes <b>& $5 "students"</b>'
    study.save(update_fields=["name"])
    head, sections = report_sections(study=study)
    page = study_report(study=study, fmt="html")[0].decode()
    assert "No votes are counted yet: there is no ranking." in page and "<b>" not in page
    assert "Cubes &lt;b&gt;&amp; $5 &quot;students&quot;&lt;/b&gt;: study report" in page
    # The bars and the table say there are no votes against the reference; no ranking figure, no speed plot.
    assert page.count('src="data:image/png;base64,') == 2
    pdf = study_report(study=study, fmt="pdf")[0]
    assert pdf_pages(pdf) == text_page_count(sections, head["header"]) + 2
    assert "No votes against the reference yet." in " ".join(pdf_page_texts(pdf))
