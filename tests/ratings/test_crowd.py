"""Outcome codes, the screener and the feedback box (ratings/crowd.py) through the rater's pages:
Prolific redirects per outcome, MTurk's externalSubmit form, the screener that ends a session
before any pair, and bad input (a forged outcome, a foreign turkSubmitTo, over-long feedback)."""

import re
from decimal import Decimal
from urllib.parse import parse_qs, urlparse

import pytest
from django.core.exceptions import ValidationError

from ratings import crowd, payments
from ratings.models import MAX_FEEDBACK_CHARS, Comparison, Participation, Study
from ratings.selectors import study_items
from tests.ratings.rater_client import RaterSession, RecordingClient, study_link

pytestmark = pytest.mark.django_db

PROLIFIC = "https://app.prolific.com/submissions/complete?cc={code}"


def code_of(response) -> str:
    assert response.status_code == 302, response.status_code
    return parse_qs(urlparse(response["Location"]).query)["cc"][0]


def answer_all(session: RaterSession, *, fail_checks: bool) -> None:
    """Vote until no pair is left: the right image on attention checks, or the wrong one."""
    while session.state.get("pairs"):
        comparison = Comparison.objects.get(token=session.token)
        side = "left" if comparison.left_is_a else "right"
        if comparison.attention_check_id is not None and fail_checks:
            side = "right" if side == "left" else "left"
        session.vote({criterion: side for criterion in session.study.criteria})


def test_prolific_participants_get_their_outcomes_code_and_appear_in_the_export(make_study):
    """One fails the attention checks and one completes: each is redirected with its own code,
    and the export suggests reject (no bonus) and approve (bonus per pair)."""
    study = make_study(
        attention_check_rate=0.5, repeat_share=0, quota_per_rater=6, flag_after_failed_checks=1,
        completion_url=PROLIFIC, bonus_per_pair="0.05",
    )
    codes = {study.completion_code, study.screened_out_code, study.no_consent_code, study.quota_full_code}
    assert len(codes) == 4
    careless = RaterSession(RecordingClient(), study)
    careless.join_prolific("careless", "STUDY", "SESSION-C")
    careless.start()
    answer_all(careless, fail_checks=True)
    careful = RaterSession(RecordingClient(), study)
    careful.join_prolific("careful", "STUDY", "SESSION-K")
    careful.start()
    answer_all(careful, fail_checks=False)
    assert Comparison.objects.filter(rater__external_id="careless", failed_check=True).exists()
    assert code_of(careless.finish()) == study.screened_out_code
    assert code_of(careful.finish()) == study.completion_code
    # The outcome holds: finishing again gives the same code.
    assert code_of(careless.finish()) == study.screened_out_code

    rows = {row["crowd_id"]: row for row in payments.study_participants(study=study)}
    assert rows["careless"]["outcome"] == "screened_out" and rows["careful"]["outcome"] == "completed"
    assert rows["careless"]["suggested_decision"] == "reject" and "attention check" in rows["careless"]["suggested_reason"]
    assert rows["careless"]["bonus"] == Decimal("0.00")
    assert rows["careful"]["suggested_decision"] == rows["careful"]["decision"] == "approve"
    assert rows["careful"]["pairs_answered"] == 6 and rows["careful"]["bonus"] == Decimal("0.30")
    assert rows["careful"]["crowd_session_id"] == "SESSION-K" and rows["careful"]["attention_checks_failed"] == 0
    assert rows["careless"]["attention_checks_failed"] >= 1
    csv_text = payments.participants_csv(study=study).decode()
    assert "careless" in csv_text and ",reject," in csv_text and ",0.30," in csv_text


def test_declining_consent_sends_the_no_consent_code_and_keeps_only_the_platform_id(make_study):
    study = make_study(attention_check_rate=0, repeat_share=0, completion_url=PROLIFIC)
    session = RaterSession(RecordingClient(), study)
    session.join_prolific("decliner", "STUDY", "SESSION-D")
    session.open()
    response = session.post_form(f"/rate/{study.pk}/consent/", {"answer": "decline"})
    assert code_of(response) == study.no_consent_code
    participation = Participation.objects.get()
    assert participation.outcome == "no_consent" and participation.rater.withdrawn_at is not None
    assert participation.rater.external_id == ""  # the rater row forgets them
    (row,) = payments.study_participants(study=study)
    assert row["crowd_id"] == "decliner" and row["crowd_session_id"] == "SESSION-D"
    assert row["suggested_decision"] == "return" and row["started_at"] is None and row["pairs_answered"] is None


def test_a_full_study_sends_the_quota_full_code(make_study):
    study = make_study(attention_check_rate=0, repeat_share=0, max_participants=1, completion_url=PROLIFIC)
    first = RaterSession(RecordingClient(), study)
    assert first.join_prolific("first").status_code == 302
    first.start()  # consenting takes the place (joining alone takes none)
    assert code_of(RaterSession(RecordingClient(), study).join_prolific("second")) == study.quota_full_code
    Study.objects.filter(pk=study.pk).update(completion_url="")
    page = RaterSession(RecordingClient(), study).join_prolific("third")
    assert page.status_code == 409 and study.quota_full_code in page.content.decode()


def test_a_forged_outcome_gets_a_clear_error_and_changes_nothing(make_study):
    study = make_study(attention_check_rate=0, repeat_share=0, quota_per_rater=1, completion_url=PROLIFIC)
    session = RaterSession(RecordingClient(), study)
    session.join_prolific("forger")
    session.start()
    response = session.client.get(f"/rate/{study.pk}/finish/?outcome=completed")
    assert response.status_code == 400 and "cannot be chosen" in response.content.decode()
    assert Participation.objects.get().outcome == ""
    session.vote()
    assert code_of(session.finish()) == study.completion_code
    assert session.client.get(f"/rate/{study.pk}/finish/?outcome=quota_full").status_code == 400
    assert Participation.objects.get().outcome == "completed"


# MTurk

def mturk_link(study, **extra) -> str:
    params = {"workerId": "WORKER1", "assignmentId": "ASSIGN1", "hitId": "HIT1", **extra}
    return study_link(study, "mturk", **params)


@pytest.mark.parametrize("submit_to", [
    "https://evil.example.com", "https://www.mturk.com.evil.example", "https://www.mturk.com@evil.example",
    "http://workersandbox.mturk.com", "javascript:alert(1)",
])
def test_a_turk_submit_to_another_host_is_refused_with_a_clear_error(make_study, submit_to):
    study = make_study(attention_check_rate=0, repeat_share=0)
    client = RecordingClient()
    from urllib.parse import quote

    response = client.get(mturk_link(study, turkSubmitTo=quote(submit_to, safe="")))
    html = response.content.decode()
    assert response.status_code == 400 and "is not an MTurk address" in html and "https://workersandbox.mturk.com" in html
    assert not Participation.objects.exists()


def test_an_mturk_assignment_is_posted_back_to_the_sandbox_with_its_code(make_study):
    study = make_study(attention_check_rate=0, repeat_share=0, quota_per_rater=1, ask_feedback=True)
    session = RaterSession(RecordingClient(), study)
    assert session.client.get(mturk_link(study, turkSubmitTo="https%3A%2F%2Fworkersandbox.mturk.com")).status_code == 302
    session.start()
    session.vote()
    page = session.finish()
    assert page.status_code == 200 and 'id="feedback-form"' in page.content.decode()
    session.post_form(f"/rate/{study.pk}/feedback/", {"feedback": "The second image was slow to load."})
    html = session.finish().content.decode()
    form = re.search(r'<form method="post" action="([^"]+)" id="mturk-submit"', html)
    assert form and form.group(1) == "https://workersandbox.mturk.com/mturk/externalSubmit"
    assert 'name="assignmentId" value="ASSIGN1"' in html and f'name="code" value="{study.completion_code}"' in html
    assert "csrfmiddlewaretoken" not in html.split('id="mturk-submit"')[1]  # never sent to another site
    assert Participation.objects.get().feedback == "The second image was slow to load."


def test_exit_targets_follow_the_platform(make_study):
    study = make_study(attention_check_rate=0, repeat_share=0, completion_url=PROLIFIC + "&a={assignment_id}")
    target = crowd.exit_target(study=study, outcome="quota_full", assignment_id="A1", submit_to="https://www.mturk.com")
    assert target == {"code": study.quota_full_code, "mturk": {"action": "https://www.mturk.com/mturk/externalSubmit", "assignment_id": "A1"}}
    target = crowd.exit_target(study=study, outcome="completed", assignment_id="A1")
    assert target["redirect"] == f"https://app.prolific.com/submissions/complete?cc={study.completion_code}&a=A1"
    with pytest.raises(ValueError):
        crowd.exit_target(study=study, outcome="paid_twice")


# The screener

def screener_study(make_study, **settings):
    study = make_study(attention_check_rate=0, repeat_share=0, quota_per_rater=2, completion_url=PROLIFIC, **settings)
    images = sorted(image for by_spec in study_items(study=study).values() for image in by_spec.values())
    crowd.study_screener_set(study=study, questions=[
        {"question": "Which image has higher quality?", "right_image": images[0], "wrong_image": None},
        {"question": "Which image shows the prompt?", "prompt": "a small red cube", "right_image": images[1], "wrong_image": images[-1]},
    ])
    return study


def screener_answers(participation, *, right: bool) -> dict:
    answers = {f"q{n}": crowd.screener_right_side(participation=participation, number=n) for n in range(2)}
    if not right:
        answers["q1"] = "left" if answers["q1"] == "right" else "right"
    return answers


def test_failing_the_screener_ends_the_session_before_any_pair_with_the_screened_out_code(make_study):
    study = screener_study(make_study)
    session = RaterSession(RecordingClient(), study)
    session.join_prolific("misreader", "STUDY", "SESSION-M")
    session.open()
    session.post_form(f"/rate/{study.pk}/consent/", {"answer": "agree"})
    session.post_form(f"/rate/{study.pk}/instructions/")
    page = session.open().content.decode()
    assert "Practice questions" in page and 'id="q1-left"' in page and "a small red cube" in page
    screener_images = [r for r in session.client.received if "/screener/" in r.url]
    assert len(screener_images) == 4 and all(r.status == 200 and r.headers["Content-Type"] == "image/png" for r in screener_images)
    participation = Participation.objects.get()
    # Unanswered: a clear error, nothing decided.
    response = session.post_form(f"/rate/{study.pk}/screener/", {"q0": "left"})
    assert response.status_code == 400 and "unanswered: 2" in response.content.decode()
    assert Participation.objects.get().outcome == ""
    response = session.post_form(f"/rate/{study.pk}/screener/", screener_answers(participation, right=False))
    assert response.status_code == 302
    assert code_of(session.finish()) == study.screened_out_code
    assert not Comparison.objects.exists()  # never served a pair
    # Answering again, right this time, changes nothing.
    session.post_form(f"/rate/{study.pk}/screener/", screener_answers(participation, right=True))
    assert session.client.get(f"/rate/{study.pk}/").status_code == 302
    assert not Comparison.objects.exists()
    (row,) = payments.study_participants(study=study)
    assert row["outcome"] == "screened_out" and row["suggested_decision"] == "return" and "screener" in row["suggested_reason"]


def test_passing_the_screener_leads_to_the_pairs(make_study):
    study = screener_study(make_study)
    session = RaterSession(RecordingClient(), study)
    session.join_prolific("reader")
    session.open()
    session.post_form(f"/rate/{study.pk}/consent/", {"answer": "agree"})
    session.post_form(f"/rate/{study.pk}/instructions/")
    assert session.client.get(f"/rate/{study.pk}/finish/").status_code == 302  # no code before the screener
    assert not Comparison.objects.exists()
    participation = Participation.objects.get()
    session.post_form(f"/rate/{study.pk}/screener/", screener_answers(participation, right=True))
    session.open()
    assert session.state["pairs"]
    assert session.client.get(f"/rate/{study.pk}/screener/0/left/").status_code == 404  # done with it
    answer_all(session, fail_checks=False)
    assert code_of(session.finish()) == study.completion_code


def test_screener_questions_are_checked(make_study):
    study = make_study(n_models=2, n_prompts=2, attention_check_rate=0, repeat_share=0)
    image = min(image for by_spec in study_items(study=study).values() for image in by_spec.values())
    with pytest.raises(ValidationError) as error:
        crowd.study_screener_set(study=study, questions=[
            {"question": "", "right_image": image},
            {"question": "Which?", "right_image": 10**9},
            {"question": "Which?", "right_image": image, "wrong_image": image},
            "not a question",
        ] + [{"question": "Which?", "right_image": image}] * 3)
    text = " ".join(error.value.messages)
    for expected in ("At most 5", "question 1: the question must be", "question 2: right_image", "question 3: right_image and wrong_image",
                     "question 4: give an object"):
        assert expected in text, text
    assert Study.objects.get(pk=study.pk).screener_questions == []


# Feedback

def test_over_long_feedback_is_refused_and_given_back_to_shorten(make_study):
    study = make_study(attention_check_rate=0, repeat_share=0, quota_per_rater=1, ask_feedback=True, completion_url=PROLIFIC)
    session = RaterSession(RecordingClient(), study)
    session.join_prolific("talker")
    session.start()
    session.vote()
    assert session.finish().status_code == 200  # the feedback box first
    long_text = "x" * (MAX_FEEDBACK_CHARS + 1)
    response = session.post_form(f"/rate/{study.pk}/feedback/", {"feedback": long_text})
    html = response.content.decode()
    assert response.status_code == 400 and f"at most {MAX_FEEDBACK_CHARS}" in html and long_text in html
    assert Participation.objects.get().feedback_at is None
    response = session.post_form(f"/rate/{study.pk}/feedback/", {"feedback": "Fine, thanks."})
    assert response.status_code == 302
    assert code_of(session.finish()) == study.completion_code
    (row,) = payments.study_participants(study=study)
    assert row["feedback"] == "Fine, thanks."
