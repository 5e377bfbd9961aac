"""An MTurk HIT as a worker meets it, in Chromium with the site's real Content-Security-Policy:
MTurk's page (a local stand-in on another site) frames the study link; the frame opens the study
in a tab of its own, where the worker consents, reads the instructions and votes; the frame
notices the worker has finished and posts the assignment to the stand-in's externalSubmit.
A site that is not MTurk cannot frame the link."""

import time
from urllib.parse import quote, urlparse

import pytest

from ratings.models import Participation
from tests.browser.mturk import StandInMTurk
from tests.ratings.rater_client import study_link

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def stand_in(live_server, settings):
    # Another site than the live server's (localhost and 127.0.0.1 are different sites), as MTurk is.
    host = "127.0.0.1" if urlparse(live_server.url).hostname == "localhost" else "localhost"
    with StandInMTurk(host) as server:
        settings.EVALSITE_MTURK_SUBMIT_HOSTS = ["https://www.mturk.com", server.origin]
        settings.EVALSITE_MTURK_FRAME_ANCESTORS = ["https://worker.mturk.com", server.origin]
        yield server


def until(predicate, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_an_mturk_hit_frame_opens_the_study_in_its_own_tab_and_submits_the_assignment_when_done(
    live_server, browser, make_study, stand_in, artifacts_dir
):
    study = make_study(display_size=128, attention_check_rate=0, repeat_share=0, quota_per_rater=2)
    link = study_link(study, "mturk", workerId="WORKERF1", assignmentId="ASSIGNF1", hitId="HITF1", turkSubmitTo=quote(stand_in.origin, safe=""))
    stand_in.frame_url = live_server.url + link
    page = browser.new_page(viewport={"width": 1100, "height": 800}, bypass_csp=False)
    page.goto(stand_in.origin + "/hit")
    frame = page.frame_locator("#hit")
    frame.locator("#open-study").wait_for()
    page.screenshot(path=str(artifacts_dir / "mturk-frame.png"))
    assert not Participation.objects.exists()  # the frame joins nobody

    with page.expect_popup() as popup:
        frame.locator("#open-study").click()
    tab = popup.value
    tab.wait_for_selector("#agree")
    with tab.expect_navigation():
        tab.click("#agree")
    with tab.expect_navigation():
        tab.click("#start")
    tab.wait_for_selector("#vote-form")
    for n in range(2):
        token = tab.input_value("#token")
        tab.keyboard.press("1")
        tab.keyboard.press("3")
        tab.keyboard.press("Enter")
        if n == 0:
            until(lambda: tab.input_value("#token") != token)
    tab.wait_for_selector("#return-to-hit")
    assert study.completion_code in tab.inner_text("main")

    assert stand_in.received.wait(timeout=30), "the frame posted nothing to MTurk"
    page.frame_locator("#hit").locator("#mturk-received").wait_for()
    (path, fields), = stand_in.posts  # once: from the frame, not from the tab
    assert path == "/mturk/externalSubmit" and fields == {"assignmentId": ["ASSIGNF1"], "code": [study.completion_code]}
    participation = Participation.objects.get()
    assert participation.answered == 2 and participation.outcome == "completed" and participation.crowd_submit_to == ""


def test_a_site_that_is_not_mturk_cannot_frame_the_link(live_server, browser, make_study, stand_in, settings):
    study = make_study(display_size=128, attention_check_rate=0, repeat_share=0)
    stand_in.frame_url = live_server.url + study_link(study, "mturk", workerId="WORKERF2", assignmentId="ASSIGNF2", hitId="HITF2")
    settings.EVALSITE_MTURK_FRAME_ANCESTORS = ["https://worker.mturk.com"]  # the stand-in is not among them
    page = browser.new_page(bypass_csp=False)
    page.goto(stand_in.origin + "/hit")
    page.wait_for_timeout(1500)
    framed = page.frame_locator("#hit").locator("#open-study")
    assert framed.count() == 0  # blocked by frame-ancestors: the frame stays empty
