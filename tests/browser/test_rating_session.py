"""The rater's page in a real Chromium, through a Prolific study link: a whole session by
keyboard only, an attention check failed on purpose, a session resumed in a fresh browser,
and screenshots at desktop and phone widths (kept in the test artifacts)."""

import pytest

from ratings.models import Comparison, Participation, Rater, Vote
from tests.ratings.rater_client import study_link

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def press_on(page, element_id: str, key: str = "Enter", tabs: int = 12) -> None:
    """Reach an element with Tab, as a keyboard user does, and press a key on it."""
    for _ in range(tabs):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement && document.activeElement.id") == element_id:
            page.keyboard.press(key)
            return
    raise AssertionError(f"#{element_id} cannot be reached with the Tab key")


def join_by_keyboard(page, live_server, study, pid: str) -> None:
    page.goto(live_server.url + study_link(study, PROLIFIC_PID=pid, STUDY_ID="S1", SESSION_ID="X1"))
    page.wait_for_selector("#agree")
    with page.expect_navigation():
        press_on(page, "agree")
    page.wait_for_selector("#start")
    with page.expect_navigation():
        press_on(page, "start")
    page.wait_for_selector("#vote-form")


def on_screen(page) -> Comparison:
    return Comparison.objects.get(token=page.input_value("#token"))


def wait_for_pair(page, number: int, quota: int) -> None:
    page.wait_for_function(f"document.getElementById('progress').textContent === 'Pair {number} of {quota}'")


def test_a_whole_session_of_ten_votes_by_keyboard_only(live_server, browser, make_study, artifacts_dir):
    study = make_study(n_prompts=8, display_size=128, attention_check_rate=0, repeat_share=0, quota_per_rater=10)
    page = browser.new_page(viewport=DESKTOP)
    join_by_keyboard(page, live_server, study, "kbd0000000000000000000001")
    page.screenshot(path=str(artifacts_dir / "rate-desktop.png"), full_page=True)
    shown = []
    for n in range(10):
        wait_for_pair(page, n + 1, 10)
        comparison = on_screen(page)
        shown.append(comparison.pk)
        # Both images are loaded (preloaded for every pair after the first) at the display size.
        widths = page.eval_on_selector_all(".pair img", "imgs => imgs.map(i => i.complete ? i.naturalWidth : 0)")
        assert widths == [128, 128]
        page.keyboard.press("1")  # prompt adherence: left
        page.keyboard.press("4")  # image quality: right
        page.keyboard.press("Enter")
        if n < 9:
            page.wait_for_function(f"document.getElementById('token').value !== '{comparison.token}'")
    page.wait_for_selector("#completion-code")
    assert page.inner_text("#completion-code") == study.completion_code
    assert len(set(shown)) == 10
    for comparison in Comparison.objects.filter(pk__in=shown):
        left, right = ("a", "b") if comparison.left_is_a else ("b", "a")
        votes = {v.criterion: v.choice for v in comparison.votes.all()}
        assert votes == {"prompt_adherence": left, "image_quality": right}
        assert all(v.response_ms > 0 for v in comparison.votes.all())
    assert Participation.objects.get().finished_at is not None


def test_an_attention_check_failed_on_purpose_flags_the_rater(live_server, browser, make_study):
    study = make_study(display_size=128, attention_check_rate=1.0, repeat_share=0, flag_after_failed_checks=1)
    page = browser.new_page(viewport=DESKTOP)
    join_by_keyboard(page, live_server, study, "careless00000000000000001")
    check = on_screen(page)
    assert check.attention_check is not None
    # Pick the worse image (B) for both questions.
    wrong = ("2", "4") if check.left_is_a else ("1", "3")
    for key in wrong:
        page.keyboard.press(key)
    page.keyboard.press("Enter")
    page.wait_for_function(f"document.getElementById('token').value !== '{check.token}'")
    check.refresh_from_db()
    assert check.failed_check is True
    rater = Rater.objects.get(external_id="careless00000000000000001")
    participation = Participation.objects.get(rater=rater)
    assert participation.flagged and participation.failed_checks == 1
    # The rater is told nothing that would teach them which pairs are checks.
    assert page.is_hidden("#message")
    text = page.inner_text("main").lower()
    assert not any(word in text for word in ("attention", "flag", "check", "fail"))


def test_a_rater_closes_the_tab_and_resumes_in_a_fresh_browser(live_server, browser, make_study, artifacts_dir):
    study = make_study(display_size=128, attention_check_rate=0, repeat_share=0, quota_per_rater=6, min_seconds_per_vote=2)  # 2 s: an answer at once is too fast even on a loaded machine
    first = browser.new_context(viewport=DESKTOP)
    page = first.new_page()
    join_by_keyboard(page, live_server, study, "resumer00000000000000001")
    # Too fast: refused with a message, nothing recorded.
    page.keyboard.press("1")
    page.keyboard.press("3")
    page.keyboard.press("Enter")
    page.wait_for_selector("#message:not([hidden])")
    assert "at least 2 seconds" in page.inner_text("#message")
    assert Vote.objects.count() == 0
    for n in range(2):
        page.wait_for_timeout(2100)
        token = page.input_value("#token")
        page.keyboard.press("1")
        page.keyboard.press("3")
        page.keyboard.press("Enter")
        page.wait_for_function(f"document.getElementById('token').value !== '{token}'")
    on_screen_token = page.input_value("#token")
    first.close()

    phone = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = phone.new_page()
    # The same Prolific session (its link carries the same SESSION_ID): another PID-only join is refused (issue 18).
    page.goto(live_server.url + study_link(study, PROLIFIC_PID="resumer00000000000000001", STUDY_ID="S1", SESSION_ID="X1"))
    page.wait_for_selector("#vote-form")
    assert page.inner_text("#progress") == "Pair 3 of 6"
    assert page.input_value("#token") == on_screen_token
    # On a phone the two images sit side by side within the screen's width (issue 26: the prompt,
    # both images and the questions with the least scrolling), left one on the left.
    left, right = page.locator("#left-image").bounding_box(), page.locator("#right-image").bounding_box()
    assert abs(left["y"] - right["y"]) < 2 and left["x"] + left["width"] <= right["x"] + 1
    assert right["x"] + right["width"] <= PHONE["width"] + 1
    page.screenshot(path=str(artifacts_dir / "rate-phone.png"), full_page=True)
    assert Participation.objects.get().answered == 2


def test_skipping_past_the_allowance_says_so_and_keeps_the_pair_on_screen(live_server, browser, make_study):
    """Issue 25: skips are bounded; the page says why in plain words and the pair stays to be answered."""
    from ratings.scheduler.voting import reports_allowed

    study = make_study(display_size=128, attention_check_rate=0, repeat_share=0, quota_per_rater=6)
    page = browser.new_context(viewport=DESKTOP).new_page()
    join_by_keyboard(page, live_server, study, "skipper00000000000000001")
    for _ in range(reports_allowed(study)):
        token = page.input_value("#token")
        page.click("#report-toggle")
        page.click("#report-submit")
        page.wait_for_function(f"document.getElementById('token').value !== '{token}'")
    token = page.input_value("#token")
    page.click("#report-toggle")
    page.click("#report-submit")
    page.wait_for_selector("#message:not([hidden])")
    assert "as many as it allows" in page.inner_text("#message")
    assert page.input_value("#token") == token and Comparison.objects.get(token=token).reported_at is None
    page.evaluate("document.activeElement.blur()")  # keys pressed in the skip form are the form's own
    page.keyboard.press("1")
    page.keyboard.press("3")
    page.keyboard.press("Enter")
    page.wait_for_function(f"document.getElementById('token').value !== '{token}'")
    assert Vote.objects.filter(comparison__token=token).exists()
