"""The rater page in a real Chromium: log in, vote on three pairs, votes recorded."""

import pytest

from ratings import raters, studies
from ratings.models import Comparison, Vote
from tests.factories import StudyFactory, UserFactory

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture
def open_study(tiny_specs, prompt_set, django_capture_on_commit_callbacks):
    study = StudyFactory(name="Browser", specs=tiny_specs, prompt_set=prompt_set, display_size=128, no_checks=True)
    with django_capture_on_commit_callbacks(execute=True):
        studies.study_start_generation(study=study)
    studies.study_open(study=study)
    user = UserFactory(username="rater", password="a-rater-password")
    raters.rater_invite(study=study, user=user)
    return study


@pytest.mark.django_db(transaction=True)
def test_rater_logs_in_and_votes_on_three_pairs(live_server, browser, open_study, artifacts_dir):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{live_server.url}/rate/{open_study.pk}/")
    page.fill("input[name=username]", "rater")
    page.fill("input[name=password]", "a-rater-password")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/rate/{open_study.pk}/")
    with page.expect_navigation():
        page.click("#agree")
    with page.expect_navigation():
        page.click("#start")
    for n in range(3):
        page.wait_for_selector("#vote-form")
        page.wait_for_function(f"document.getElementById('progress').textContent === 'Pair {n + 1} of {open_study.quota_per_rater}'")
        # Both images actually loaded in the browser.
        widths = page.eval_on_selector_all(".pair img", "imgs => imgs.map(i => i.naturalWidth)")
        assert widths == [128, 128]
        if n == 0:
            page.screenshot(path=str(artifacts_dir / "rate-page-desktop.png"))
        token = page.input_value("#token")
        page.check("input[name=prompt_adherence][value=left]")
        page.keyboard.press("4")  # keyboard shortcut: image quality -> right
        page.click("#submit")  # the next pair comes without a page load
        page.wait_for_function(f"document.getElementById('token').value !== '{token}'")
    answered = Comparison.objects.filter(study=open_study, answered_at__isnull=False)
    assert answered.count() == 3
    for comparison in answered:
        votes = {v.criterion: v.choice for v in Vote.objects.filter(comparison=comparison)}
        left, right = ("a", "b") if comparison.left_is_a else ("b", "a")
        assert votes == {"prompt_adherence": left, "image_quality": right}
        assert all(v.response_ms > 0 for v in Vote.objects.filter(comparison=comparison))
