"""A versus-reference study's results page in Chromium under the production Content-Security-
Policy: the decision table against the reference is there, one row per model and criterion, and
its figures load."""

from __future__ import annotations

import pytest

from tests.factories import UserFactory
from tests.ratings.test_versus import crowd_answers, versus_study

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_results_page_shows_the_decision_table(live_server, browser):
    study, teacher, students = versus_study(n_models=3, n_prompts=3, seeds=(0,), attention_check_rate=0, repeat_share=0)
    crowd_answers(study, n_raters=2)
    UserFactory(username="boss", password="a-staff-password", staff=True)
    violations: list[str] = []
    page = browser.new_page(bypass_csp=False, viewport={"width": 1280, "height": 1000})
    page.on("console", lambda message: violations.append(message.text) if "Content Security Policy" in message.text else None)
    url = f"{live_server.url}/studies/{study.pk}/leaderboard/?rounds=50"
    page.goto(url)
    page.fill("input[name=username]", "boss")
    page.fill("input[name=password]", "a-staff-password")
    page.click("button[type=submit]")
    page.wait_for_selector("table.versus")
    label = teacher.slug if teacher.version == 1 else f"{teacher.slug}@{teacher.version}"
    assert f"Against the reference, {label}" in page.inner_text("body")
    rows = page.locator("table.versus tbody tr")
    assert rows.count() == 2 * 3  # two students x (two criteria + mean)
    decisions = {page.locator("table.versus tbody tr td.decision").nth(i).inner_text() for i in range(rows.count())}
    assert decisions <= {"better", "equivalent", "non-inferior", "inferior", "undecided"}
    # The figures of the papers (ADD's bars, the decision table, the speed plot) load under the CSP.
    for plot in ("#versus-bars-plot", "#versus-table-plot", "#speed-plot"):
        page.locator(plot).scroll_into_view_if_needed()
        page.wait_for_function("selector => { const i = document.querySelector(selector); return i.complete && i.naturalWidth > 0; }", arg=plot)
    assert page.locator("#report-links a").count() == 2
    page.screenshot(path="test-artifacts/versus-results.png", full_page=True)
    assert violations == []
