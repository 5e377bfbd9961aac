"""A crowd session in Chromium from an MTurk sandbox link to MTurk: consent, instructions, the
screener, the votes, the feedback box, and the finish page's form posting the assignment to
the sandbox's externalSubmit. A local HTTP server stands in for MTurk's endpoint and records
the post (``EVALSITE_MTURK_SUBMIT_HOSTS`` lets the test name it as the sandbox)."""

from urllib.parse import quote

import pytest

from ratings import crowd
from ratings.models import Participation
from ratings.selectors import study_items
from tests.browser.mturk import StandInMTurk
from tests.ratings.rater_client import study_link

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def sandbox(settings):
    with StandInMTurk() as server:
        settings.EVALSITE_MTURK_SUBMIT_HOSTS = ["https://www.mturk.com", server.origin]
        yield server


def test_an_mturk_worker_walks_the_screener_votes_and_feedback_and_the_assignment_is_posted_to_the_sandbox(
    live_server, browser, make_study, sandbox, artifacts_dir
):
    study = make_study(display_size=128, attention_check_rate=0, repeat_share=0, quota_per_rater=3, ask_feedback=True)
    images = sorted(image for by_spec in study_items(study=study).values() for image in by_spec.values())
    crowd.study_screener_set(study=study, questions=[
        {"question": "Which image has higher quality?", "right_image": images[0], "wrong_image": None},
        {"question": "Which image follows the prompt?", "prompt": "a small red cube", "right_image": images[1], "wrong_image": images[-1]},
    ])
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    link = study_link(study, "mturk", workerId="WORKERB1", assignmentId="ASSIGNB1", hitId="HITB1", turkSubmitTo=quote(sandbox.origin, safe=""))
    page.goto(live_server.url + link)
    with page.expect_navigation():
        page.click("#agree")
    with page.expect_navigation():
        page.click("#start")

    # The screener: two questions, each with two loaded images; the right answers.
    page.wait_for_selector("#screener-form")
    widths = page.eval_on_selector_all(".screener-question img", "imgs => imgs.map(i => i.complete ? i.naturalWidth : 0)")
    assert widths == [128] * 4
    page.screenshot(path=str(artifacts_dir / "crowd-screener.png"), full_page=True)
    participation = Participation.objects.get()
    for number in range(2):
        page.check(f"#q{number}-{crowd.screener_right_side(participation=participation, number=number)}")
    with page.expect_navigation():
        page.click("#screener-submit")

    # The votes, by keyboard.
    page.wait_for_selector("#vote-form")
    for n in range(3):
        token = page.input_value("#token")
        page.keyboard.press("1")
        page.keyboard.press("3")
        page.keyboard.press("Enter")
        if n < 2:
            page.wait_for_function(f"document.getElementById('token').value !== '{token}'")

    # The feedback box, then the form that posts the assignment to the sandbox.
    page.wait_for_selector("#feedback-form")
    page.fill("#feedback", "Clear instructions; the second practice question was hard.")
    page.screenshot(path=str(artifacts_dir / "crowd-feedback.png"), full_page=True)
    page.click("#send-feedback")
    assert sandbox.received.wait(timeout=20), "nothing was posted to the MTurk sandbox"
    page.wait_for_selector("#mturk-received")
    (path, fields), = sandbox.posts
    assert path == "/mturk/externalSubmit"
    assert fields == {"assignmentId": ["ASSIGNB1"], "code": [study.completion_code]}
    participation.refresh_from_db()
    assert participation.outcome == "completed" and participation.answered == 3
    assert participation.feedback == "Clear instructions; the second practice question was hard."
    assert participation.crowd_submit_to == sandbox.origin
