"""The study report's HTML (ratings/results/report.py) opened in Chromium from a file, offline:
every figure loads from its data URI (naturalWidth > 0), every section is there, and nothing is
fetched from anywhere (the file is self-contained). With a reference and without one."""

from __future__ import annotations

import pytest

from ratings.results.report import study_report
from tests.ratings.results.test_report import rated_plain_study, rated_versus_study

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def open_report(browser, study, path):
    path.write_bytes(study_report(study=study, fmt="html")[0])
    requests: list[str] = []
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.on("request", lambda request: requests.append(request.url) if not request.url.startswith(("file:", "data:")) else None)
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return page, requests


def figures_loaded(page) -> list[dict]:
    return page.eval_on_selector_all(
        "figure img", "images => images.map(i => ({alt: i.alt, complete: i.complete, width: i.naturalWidth, height: i.naturalHeight}))",
    )


def test_the_report_of_a_study_with_a_reference_opens_with_its_figures(browser, tmp_path, artifacts_dir):
    study, teacher, students = rated_versus_study()
    page, requests = open_report(browser, study, tmp_path / "report.html")
    figures = figures_loaded(page)
    assert len(figures) == 4 and all(f["complete"] and f["width"] > 0 and f["height"] > 0 for f in figures), figures
    assert [f["alt"].split(" ")[0] for f in figures] == ["Win", "The", "Every", "Rating"]
    headings = page.eval_on_selector_all("section h2", "hs => hs.map(h => h.textContent)")
    assert headings[:4] == ["Design", "Prompts", "Raters and exclusions", "Status and stop"]
    assert any(h.startswith("Against the reference") for h in headings) and headings[-1] == "Provenance"
    rows = page.locator("#versus table tbody tr")
    assert rows.count() == 2 * 3  # two students x (two criteria + mean)
    assert requests == []
    page.screenshot(path=str(artifacts_dir / "report-versus.png"), full_page=True)


def test_the_report_of_a_study_without_a_reference_opens_with_its_figures(browser, tmp_path, make_study):
    study = rated_plain_study(make_study)
    page, requests = open_report(browser, study, tmp_path / "report.html")
    figures = figures_loaded(page)
    assert len(figures) == 2 and all(f["width"] > 0 for f in figures), figures
    assert page.locator("#versus").count() == 0 and page.locator("#ranking table").count() >= 1
    assert requests == []
