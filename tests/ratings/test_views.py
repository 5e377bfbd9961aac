"""The rater's pages and endpoints through Django's test client, on PostgreSQL: access by
invited account and by signed study link, consent, instructions, JSON votes, reports, finish,
withdrawal, and the leaderboard page."""

import json
import re
from urllib.parse import parse_qs, urlparse

import pytest
from django.test import Client

from ratings import raters
from ratings.models import Comparison, Participation, Rater, Vote
from tests.ratings.rater_client import RaterSession, RecordingClient, study_link
from tests.factories import UserFactory, comparison_serve

pytestmark = pytest.mark.django_db


@pytest.fixture
def study(make_study):
    return make_study(attention_check_rate=0, repeat_share=0, quota_per_rater=4)


def login_rater(client, study, name="rater"):
    user = UserFactory(username=name)
    rater = raters.rater_invite(study=study, user=user)
    client.force_login(user)
    return rater


def test_anonymous_visitor_is_sent_to_log_in(client, study):
    response = client.get(f"/rate/{study.pk}/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_invited_account_consents_reads_instructions_then_sees_the_pair_and_both_questions(study):
    session = RaterSession(RecordingClient(), study)
    login_rater(session.client, study)
    consent = session.open()
    assert "Before you start" in consent.content.decode() and study.consent_text[:60] in consent.content.decode()
    session.post_form(f"/rate/{study.pk}/consent/", {"answer": "agree"})
    instructions = session.open().content.decode()
    assert "How to rate" in instructions and "Example 1" in instructions
    examples = [r for r in session.client.received if "/example/" in r.url]
    assert len(examples) == 4 and all(r.status == 200 and r.headers["Content-Type"] == "image/png" for r in examples)
    session.post_form(f"/rate/{study.pk}/instructions/")
    html = session.open().content.decode()
    comparison = Comparison.objects.filter(answered_at__isnull=True).order_by("pk").first()
    assert comparison.prompt.text in html
    assert "Which image follows the prompt better?" in html and "Which image has higher quality?" in html
    assert "Pair 1 of 4" in html and "<kbd>1</kbd>" in html and "<kbd>4</kbd>" in html and "Skip / report this pair" in html
    images = [r for r in session.client.received if "/image/" in r.url]
    assert images and all(r.status == 200 and r.headers["Content-Type"] == "image/png" for r in images)


def test_one_json_submit_records_both_answers_and_returns_the_next_pair(study):
    session = RaterSession(RecordingClient(), study)
    login_rater(session.client, study)
    session.start()
    first = session.token
    before = len(session.client.received)
    response = session.vote({"prompt_adherence": "left", "image_quality": "right"}, response_ms=2300)
    assert len([r for r in session.client.received[before:] if "/vote/" in r.url]) == 1
    payload = response.json()
    assert response.status_code == 200 and payload["status"] == "recorded" and payload["answered"] == 1
    assert payload["pairs"][0]["token"] != first and len(payload["pairs"]) == 2
    comparison = Comparison.objects.get(token=first)
    left, right = ("a", "b") if comparison.left_is_a else ("b", "a")
    assert {v.criterion: (v.choice, v.response_ms) for v in comparison.votes.all()} == {
        "prompt_adherence": (left, 2300), "image_quality": (right, 2300)}


def test_plain_form_post_without_javascript_records_the_vote_too(client, study):
    login_rater(client, study)
    session = RaterSession(client, study)
    session.start()
    response = client.post(f"/rate/{study.pk}/vote/", {"token": session.token, "prompt_adherence": "left", "image_quality": "right", "response_ms": "2300"})
    assert response.status_code == 302
    assert Vote.objects.filter(comparison__token=session.token).count() == 2


def test_another_raters_pair_gets_403_and_its_images_404_and_an_uninvited_account_403(client, study):
    other = login_rater(Client(), study, "other")
    theirs = comparison_serve(study=study, rater=other)
    login_rater(client, study)
    session = RaterSession(client, study)
    session.start()
    response = client.post(f"/rate/{study.pk}/vote/", json.dumps({"token": str(theirs.token), "answers": {"prompt_adherence": "left", "image_quality": "left"}}),
                           content_type="application/json")
    assert response.status_code == 403 and response.json()["message"] == "This pair was not given to you to rate."
    assert client.get(f"/rate/{study.pk}/image/{theirs.token}/left/").status_code == 404
    assert Vote.objects.count() == 0
    client.force_login(UserFactory(username="stranger"))
    assert client.get(f"/rate/{study.pk}/").status_code == 403


def test_a_vote_without_the_csrf_token_is_refused(study):
    client = Client(enforce_csrf_checks=True)
    login_rater(client, study)
    session = RaterSession(client, study)
    session.start()
    body = json.dumps({"token": session.token, "answers": {"prompt_adherence": "left", "image_quality": "left"}})
    assert client.post(f"/rate/{study.pk}/vote/", body, content_type="application/json").status_code == 403
    assert Vote.objects.count() == 0
    assert client.post(f"/rate/{study.pk}/vote/", body, content_type="application/json", HTTP_X_CSRFTOKEN=session.csrf()).status_code == 200


def test_too_fast_votes_are_refused_with_a_message(make_study):
    study = make_study(attention_check_rate=0, repeat_share=0, min_seconds_per_vote=30)
    session = RaterSession(RecordingClient(), study)
    session.join_prolific("fastclicker")
    session.start()
    response = session.vote()
    assert response.status_code == 429
    assert response.json()["message"] == "Please take at least 30 seconds to look at both images before answering."
    assert Vote.objects.count() == 0


def test_prolific_link_joins_and_the_same_crowd_session_resumes_in_a_fresh_browser(study):
    first = RaterSession(RecordingClient(), study)
    response = first.join_prolific("60a1b2c3d4e5f60718293a4b", "PSTUDY", "PSESSION")
    assert response.status_code == 302 and response["Location"] == f"/rate/{study.pk}/"
    first.start()
    first.vote()
    token_on_screen = first.token
    # Another session id with the same participant id is not the same participant (issue 18).
    other = RaterSession(RecordingClient(), study)
    assert other.join_prolific("60a1b2c3d4e5f60718293a4b", "PSTUDY", "PSESSION2").status_code == 409
    # The tab is closed; the same participant comes back in a fresh browser through their link.
    second = RaterSession(RecordingClient(), study)
    second.join_prolific("60a1b2c3d4e5f60718293a4b", "PSTUDY", "PSESSION")
    second.open()
    assert second.token == token_on_screen and second.state["answered"] == 1
    assert Rater.objects.filter(external_id="60a1b2c3d4e5f60718293a4b").count() == 1
    participation = Participation.objects.get()
    assert (participation.crowd_study_id, participation.crowd_session_id, participation.answered) == ("PSTUDY", "PSESSION", 1)


def test_a_made_up_or_altered_study_link_is_refused_and_creates_nothing(study, client):
    good = study_link(study, PROLIFIC_PID="abc")
    signature = good.split("/")[4]
    forged = good.replace(signature, signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB"))
    for url in (forged, f"/rate/{study.pk}/join/made-up/?PROLIFIC_PID=abc", good.replace(f"/rate/{study.pk}/", f"/rate/{study.pk + 1}/")):
        response = client.get(url)
        assert response.status_code in (403, 404)
        if response.status_code == 403:
            assert "This study link is not valid" in response.content.decode()
    assert not Rater.objects.exists()
    assert client.get(study_link(study, PROLIFIC_PID="bad id!")).status_code == 400
    assert client.get(study_link(study)).status_code == 400


def test_mturk_preview_creates_nothing_and_an_accepted_assignment_joins(study, client):
    preview = client.get(study_link(study, "mturk", assignmentId="ASSIGNMENT_ID_NOT_AVAILABLE", hitId="H1"))
    assert preview.status_code == 200 and "This is a preview" in preview.content.decode()
    assert not Rater.objects.exists()
    accepted = client.get(study_link(study, "mturk", workerId="A1WORKER", assignmentId="ASSIGN1", hitId="H1"))
    assert accepted.status_code == 302
    assert Rater.objects.get().source == "mturk" and Participation.objects.get().crowd_session_id == "ASSIGN1"


def test_participant_cap_refuses_new_participants_but_lets_joined_ones_resume(make_study):
    study = make_study(max_participants=1, attention_check_rate=0, repeat_share=0)
    first = RaterSession(RecordingClient(), study)
    assert first.join_prolific("first").status_code == 302
    first.start()  # a place is taken on consent
    full = RaterSession(RecordingClient(), study).join_prolific("second")
    assert full.status_code == 409 and "This study is full" in full.content.decode()
    assert RaterSession(RecordingClient(), study).join_prolific("first").status_code == 302
    assert Participation.objects.count() == 1


def test_a_joined_participant_who_has_not_consented_takes_no_place(make_study):
    study = make_study(max_participants=1, attention_check_rate=0, repeat_share=0)
    early = RaterSession(RecordingClient(), study)
    assert early.join_prolific("early").status_code == 302
    early.open()  # the consent page, not yet answered
    second = RaterSession(RecordingClient(), study)
    assert second.join_prolific("second").status_code == 302
    second.start()
    assert second.state["pairs"]
    # The early one consents after the place went: the study-full outcome and its page.
    refused = early.post_form(f"/rate/{study.pk}/consent/", {"answer": "agree"})
    assert refused.status_code == 409 and "This study is full" in refused.content.decode()
    assert study.quota_full_code in refused.content.decode()
    assert Participation.objects.get(rater__external_id="early").outcome == "quota_full"


def test_finishing_redirects_to_the_completion_url_with_the_code(make_study):
    study = make_study(attention_check_rate=0, repeat_share=0, quota_per_rater=2,
                       completion_url="https://app.prolific.com/submissions/complete?cc={code}")
    session = RaterSession(RecordingClient(), study)
    session.join_prolific("finisher")
    session.start()
    session.vote()
    payload = session.vote().json()
    assert payload["pairs"] == [] and payload["finish_url"] == f"/rate/{study.pk}/finish/"
    response = session.finish()
    assert response.status_code == 302
    assert parse_qs(urlparse(response["Location"]).query) == {"cc": [study.completion_code]}
    assert Participation.objects.get().finished_at is not None
    # Reopening the study link later goes straight to the completion URL.
    assert session.client.get(f"/rate/{study.pk}/").status_code == 302


def test_without_a_completion_url_the_finish_page_shows_the_code(make_study):
    study = make_study(attention_check_rate=0, repeat_share=0, quota_per_rater=1)
    session = RaterSession(RecordingClient(), study)
    session.join_prolific("finisher")
    session.start()
    session.vote()
    html = session.finish().content.decode()
    assert study.completion_code in html and "You have rated 1 pair" in html


def test_reporting_through_the_page_serves_another_pair(study):
    session = RaterSession(RecordingClient(), study)
    session.join_prolific("reporter")
    session.start()
    reported = session.token
    payload = session.report("offensive", "not for work").json()
    assert payload["status"] == "reported" and reported not in [p["token"] for p in payload["pairs"]]
    assert Comparison.objects.get(token=reported).report_reason == "offensive"
    bad = session.client.post(f"/rate/{study.pk}/report/", json.dumps({"token": session.token, "reason": "meh"}),
                              content_type="application/json", HTTP_X_CSRFTOKEN=session.csrf())
    assert bad.status_code == 400 and "Choose why" in bad.json()["message"]


def test_withdrawing_from_the_page_removes_the_id_and_ends_the_session(study):
    session = RaterSession(RecordingClient(), study)
    session.join_prolific("leaver123")
    session.start()
    session.vote()
    assert "Withdraw and remove my answers" in session.client.get(f"/rate/{study.pk}/withdraw/").content.decode()
    response = session.post_form(f"/rate/{study.pk}/withdraw/")
    assert "You have withdrawn" in response.content.decode()
    assert not Rater.objects.filter(external_id="leaver123").exists()
    assert Vote.objects.filter(excluded=False).count() == 0
    assert session.client.get(f"/rate/{study.pk}/").status_code == 302  # cookie gone: back to log in


def test_declining_consent_keeps_nothing_that_identifies_the_participant(study):
    session = RaterSession(RecordingClient(), study)
    session.join_prolific("decliner")
    session.open()
    response = session.post_form(f"/rate/{study.pk}/consent/", {"answer": "decline"})
    assert "You chose not to take part" in response.content.decode()
    assert not Rater.objects.filter(external_id="decliner").exists()


def test_livez_answers_json_without_the_database(client, db):
    assert client.get("/livez/").json() == {"status": "ok"}


def test_leaderboard_is_for_staff_and_owner_only(client, study):
    login_rater(client, study)
    assert client.get(f"/studies/{study.pk}/leaderboard/").status_code == 403
    staff = UserFactory(username="staff", staff=True)
    client.force_login(staff)
    html = client.get(f"/studies/{study.pk}/leaderboard/").content.decode()
    for spec in study.job.specs.all():
        assert spec.slug in html
    assert "Win rate" in html
    assert re.search(r"0 of \d+ made|\d+ of \d+ made", html)


def _pixels(content: bytes):
    import io

    import numpy as np
    from PIL import Image as PILImage

    return np.asarray(PILImage.open(io.BytesIO(content)).convert("RGB"))


def test_a_set_page_shows_every_seed_of_one_model_per_side_never_one_model_on_both(make_study):
    """A set question: for one prompt, the left grid holds one model's images of every seed (in
    the study's seed order), the right grid the other model's; never one model on both sides."""
    from django.core.files.storage import default_storage

    from generation.models import DisplayCopy
    from ratings.models import PairSlot

    study = make_study(n_models=3, n_prompts=2, seeds=(31, 17, 23), set_criteria=["diversity"], attention_check_rate=0, repeat_share=0, quota_per_rater=6)
    PairSlot.objects.filter(study=study, kind="pair").update(retired=True)
    session = RaterSession(RecordingClient(), study)
    login_rater(session.client, study)
    html = session.start().content.decode()
    instructions = next(r.body.decode() for r in session.client.received if b"How to rate" in r.body)
    assert "two <em>sets</em> of images" in instructions and "<kbd>1</kbd> for the left set" in instructions
    assert "Which set of images is more varied?" in html and 'id="set-view"' in html
    assert re.search(r'<fieldset data-criterion="prompt_adherence" data-kind="pair" disabled hidden>', html)
    assert re.search(r'<fieldset data-criterion="diversity" data-kind="set">', html)
    copies = {
        (c.image.spec_id, c.image.prompt_id, c.image.seed): _pixels(default_storage.open(c.file.name, "rb").read())
        for c in DisplayCopy.objects.filter(image__spec__in=study.job.specs.all()).select_related("image")
    }
    for _ in range(6):
        pair = session.state["pairs"][0]
        assert pair["kind"] == "set" and len(pair["left_set"]) == len(pair["right_set"]) == 3
        comparison = Comparison.objects.select_related("image_a", "image_b").get(token=pair["token"])
        sides = {}
        for side in ("left", "right"):
            shown = [_pixels(session.client.get(url).content) for url in pair[f"{side}_set"]]
            owners = {
                spec for spec in (comparison.image_a.spec_id, comparison.image_b.spec_id)
                if all((copies[(spec, comparison.prompt_id, seed)] == image).all() for seed, image in zip((31, 17, 23), shown))
            }
            assert len(owners) == 1, f"the {side} set is not exactly one model's images of every seed"
            sides[side] = owners.pop()
        a_side = "left" if comparison.left_is_a else "right"
        assert sides[a_side] == comparison.image_a.spec_id and sides["left"] != sides["right"]
        assert session.client.get(f"/rate/{study.pk}/image/{pair['token']}/left/3/").status_code == 404  # past the last seed
        response = session.vote({"diversity": "left"})
        assert response.status_code == 200 and response.json()["status"] == "recorded"
        if not session.state["pairs"]:
            break
    answered = Comparison.objects.filter(study=study, answered_at__isnull=False)
    assert answered.count() == 6
    assert {v.criterion for v in Vote.objects.filter(comparison__in=answered)} == {"diversity"}


def test_a_set_image_is_only_for_the_rater_it_was_served_to_and_only_for_sets(make_study):
    from ratings.models import PairSlot

    study = make_study(n_models=2, n_prompts=2, seeds=(1, 2), set_criteria=["diversity"], attention_check_rate=0, repeat_share=0)
    other = login_rater(Client(), study, "other")
    PairSlot.objects.filter(study=study, kind="pair").update(retired=True)
    theirs = comparison_serve(study=study, rater=other)
    assert theirs.slot.kind == "set"
    PairSlot.objects.filter(study=study, kind="pair").update(retired=False)
    PairSlot.objects.filter(study=study, kind="set").update(retired=True)
    client = Client()
    login_rater(client, study)
    session = RaterSession(client, study)
    session.start()
    mine = session.state["pairs"][0]
    assert "kind" not in mine and client.get(mine["left"]).status_code == 200
    assert client.get(f"/rate/{study.pk}/image/{theirs.token}/left/0/").status_code == 404  # another rater's set
    assert client.get(f"/rate/{study.pk}/image/{mine['token']}/left/0/").status_code == 404  # a pair has no set


def test_a_set_vote_by_plain_form_post_records_the_set_answer(client, make_study):
    from ratings.models import PairSlot

    study = make_study(n_models=2, n_prompts=2, seeds=(1, 2), set_criteria=["diversity"], attention_check_rate=0, repeat_share=0)
    PairSlot.objects.filter(study=study, kind="pair").update(retired=True)
    login_rater(client, study)
    session = RaterSession(client, study)
    session.start()
    response = client.post(f"/rate/{study.pk}/vote/", {"token": session.token, "diversity": "right", "response_ms": "2300"})
    assert response.status_code == 302
    assert list(Vote.objects.filter(comparison__token=session.token).values_list("criterion", flat=True)) == ["diversity"]


def test_head_on_an_image_answers_as_get_with_the_same_headers_and_no_body(study):
    session = RaterSession(RecordingClient(), study)
    login_rater(session.client, study)
    session.start()
    urls = [f"/rate/{study.pk}/image/{session.token}/{side}/" for side in ("left", "right")]
    urls += [f"/rate/{study.pk}/example/{kind}/" for kind in ("clear", "degraded")]
    for url in urls:
        got = session.client.get(url)
        head = session.client.head(url)
        assert got.status_code == 200 and head.status_code == 200, (url, head.status_code)
        assert head.content == b"" and len(got.content) == int(got["Content-Length"]) > 0
        # Size-blinding: HEAD tells exactly what GET tells, the byte length included.
        same = {name: value for name, value in head.headers.items() if name != "X-Request-ID"}  # new per request
        assert same == {name: value for name, value in got.headers.items() if name != "X-Request-ID"}, url
        assert "Content-Length" in same
    other = RaterSession(RecordingClient(), study)
    login_rater(other.client, study, name="other")
    other.start()
    assert other.client.head(urls[0]).status_code == 404  # someone else's pair, as for GET
