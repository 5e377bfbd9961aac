"""What a rater sees when the database is briefly unavailable: the vote request answers with
the product's 503 (the body the outage middleware sends), the page says to submit again and
keeps the answers, and the resubmit is recorded."""

import json

import pytest
from django.test import RequestFactory

from evalsite.middleware import DatabaseUnavailableMiddleware
from ratings import raters, studies
from ratings.models import Comparison, Vote
from tests.factories import StudyFactory, UserFactory

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def outage_response():
    """The middleware's own answer to a JSON request during a database outage."""
    from django.db import OperationalError

    middleware = DatabaseUnavailableMiddleware(lambda request: None)
    request = RequestFactory().post("/rate/1/vote/", "{}", content_type="application/json")
    return middleware.process_exception(request, OperationalError("connection refused"))


@pytest.mark.django_db(transaction=True)
def test_a_database_outage_shows_a_retry_message_and_keeps_the_answers(live_server, browser, tiny_specs, prompt_set, django_capture_on_commit_callbacks, artifacts_dir):
    study = StudyFactory(name="Outage", specs=tiny_specs[:2], prompt_set=prompt_set, no_checks=True)
    with django_capture_on_commit_callbacks(execute=True):
        studies.study_start_generation(study=study)
    studies.study_open(study=study)
    raters.rater_invite(study=study, user=UserFactory(username="rater", password="a-rater-password"))
    outage = outage_response()
    assert outage.status_code == 503
    body = outage.content.decode()
    message = json.loads(body)["message"]

    page = browser.new_page()
    page.goto(f"{live_server.url}/rate/{study.pk}/")
    page.fill("input[name=username]", "rater")
    page.fill("input[name=password]", "a-rater-password")
    page.click("button[type=submit]")
    with page.expect_navigation():
        page.click("#agree")
    with page.expect_navigation():
        page.click("#start")
    page.wait_for_selector("#vote-form")
    token = page.input_value("#token")
    fail_once = {"left": 1}

    def vote_route(route):
        if fail_once["left"]:
            fail_once["left"] -= 1
            route.fulfill(status=503, headers={"Content-Type": "application/json", "Retry-After": "5"}, body=body)
        else:
            route.continue_()

    page.route(f"**/rate/{study.pk}/vote/", vote_route)
    page.keyboard.press("1")
    page.keyboard.press("4")
    page.click("#submit")
    page.wait_for_selector("#message:not([hidden])")
    assert page.inner_text("#message") == message
    assert page.input_value("#token") == token  # still the same pair
    assert page.is_checked("input[name=prompt_adherence][value=left]") and page.is_checked("input[name=image_quality][value=right]")
    page.screenshot(path=str(artifacts_dir / "rate-outage-message.png"))
    assert not Vote.objects.exists()
    page.click("#submit")
    page.wait_for_function(f"document.getElementById('token').value !== '{token}'")
    assert page.is_hidden("#message")
    assert Vote.objects.filter(comparison=Comparison.objects.get(token=token)).count() == 2
