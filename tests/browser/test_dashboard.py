"""The staff dashboard in a real Chromium: a staff login, the study page with its charts, and
the panel refreshing itself when new votes arrive; nothing is fetched from another site."""

import random

import pytest

from ratings.models import Rater
from tests.factories import UserFactory, vote_as

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.mark.django_db(transaction=True)
def test_dashboard_shows_a_study_and_refreshes_itself(live_server, browser, rated_study, artifacts_dir, monkeypatch):
    from evalsite.dashboard import views

    monkeypatch.setattr(views, "REFRESH_SECONDS", 1)
    UserFactory(username="boss", password="a-staff-password", staff=True)
    page = browser.new_page(viewport={"width": 1280, "height": 1600})
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{live_server.url}/dashboard/studies/{rated_study.pk}/")
    page.fill("input[name=username]", "boss")
    page.fill("input[name=password]", "a-staff-password")
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/dashboard/studies/{rated_study.pk}/")
    assert page.locator("#images-done").inner_text() == "12 of 12"
    assert page.locator("#comparisons-done").inner_text() == "12 of 24"
    assert page.locator("#raters tbody tr").count() == 2
    assert page.locator("svg.chart").count() == 3
    assert page.locator("#leaderboard tbody tr").count() == 9  # 3 models x (2 criteria + mean)
    bar = page.eval_on_selector("#images-bar span", "node => node.getBoundingClientRect().width / node.parentNode.getBoundingClientRect().width")
    assert bar == pytest.approx(1.0, abs=0.02)
    page.screenshot(path=str(artifacts_dir / "dashboard-study.png"), full_page=True)

    vote_as(rated_study, Rater.objects.get(user__username="rater-1"), 2, random.Random(3))
    page.wait_for_function("document.getElementById('comparisons-done').innerText === '14 of 24'", timeout=15000)
    assert "last at" in page.locator("#refresh-state").inner_text()
    foreign = [url for url in requested if not url.startswith(live_server.url) and not url.startswith("data:")]
    assert foreign == []
    page.close()  # stop the refresh loop before the test database goes away
