"""The pages work in a real Chromium under the site's Content-Security-Policy (issue 18): the
rating page records votes and swaps pairs, the dashboard draws its charts, and Chromium reports
no violation. (Other browser tests run with the policy bypassed, since Playwright's
wait_for_function needs eval; these use only selectors and CDP evaluation.)"""

from __future__ import annotations

import time

import pytest

from ratings.models import Vote
from tests.ratings.rater_client import study_link
from tests.factories import UserFactory

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def strict_page(browser, violations: list):
    page = browser.new_page(bypass_csp=False, viewport={"width": 1280, "height": 1000})
    page.on("console", lambda message: violations.append(message.text) if "Content Security Policy" in message.text else None)
    return page


def wait_until(predicate, seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_the_rating_page_works_under_the_policy(live_server, browser, make_study):
    study = make_study(n_prompts=4, display_size=128, attention_check_rate=0, repeat_share=0, quota_per_rater=3)
    violations: list[str] = []
    page = strict_page(browser, violations)
    response = page.goto(live_server.url + study_link(study, PROLIFIC_PID="csp00000000000000000001", STUDY_ID="S1", SESSION_ID="X1"))
    assert "script-src 'self'" in response.headers["content-security-policy"]
    with page.expect_navigation():
        page.click("#agree")
    with page.expect_navigation():
        page.click("#start")
    page.wait_for_selector("#vote-form")
    for n in range(2):
        token = page.input_value("#token")
        wait_until(lambda: page.eval_on_selector_all(".pair img", "imgs => imgs.map(i => i.complete ? i.naturalWidth : 0)") == [128, 128])
        for criterion in study.criteria:
            page.check(f"input[name={criterion}][value=left]")
        with page.expect_response(lambda r: r.url.endswith("/vote/")) as answered:
            page.click("#submit")
        assert answered.value.status == 200
        wait_until(lambda: page.input_value("#token") != token)  # rate.js showed the next pair
        assert page.inner_text("#progress") == f"Pair {n + 2} of 3"
    assert Vote.objects.count() == 2 * len(study.criteria)
    assert violations == []


def test_the_dashboard_draws_its_charts_under_the_policy(live_server, browser, rated_study):
    UserFactory(username="boss", password="a-staff-password", staff=True)
    violations: list[str] = []
    page = strict_page(browser, violations)
    page.goto(f"{live_server.url}/dashboard/studies/{rated_study.pk}/")
    page.fill("input[name=username]", "boss")
    page.fill("input[name=password]", "a-staff-password")
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/dashboard/studies/{rated_study.pk}/")
    wait_until(lambda: page.locator("svg.chart").count() == 3)
    assert page.locator("#leaderboard tbody tr").count() == 9
    assert violations == []


def test_the_operations_page_shows_its_screening_grid_under_the_policy(live_server, browser, rated_study):
    UserFactory(username="boss", password="a-staff-password", staff=True)
    violations: list[str] = []
    page = strict_page(browser, violations)
    page.goto(f"{live_server.url}/studies/{rated_study.pk}/operations/")
    page.fill("input[name=username]", "boss")
    page.fill("input[name=password]", "a-staff-password")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/studies/{rated_study.pk}/operations/")
    assert page.locator("#screening-grid img").count() == 3 * 4  # three systems x four prompts x one seed
    page.locator("#screening-grid input[name=images]").first.check()
    with page.expect_navigation():
        page.click("button[value=hide]")
    assert "1 image(s) hidden" in page.content()
    assert violations == []
