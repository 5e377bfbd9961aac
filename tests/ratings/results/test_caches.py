"""A study's cached results follow every change of its state that changes what its pages say
(issue 26, item 3): stopping (by its budget, through the background refresh), reopening,
pausing, resuming and closing each drop the cache, as flags and exclusions do, so the leaderboard
page and the dashboard show the new state without "recompute now". On both database paths."""

import pytest
from django.contrib.auth.models import User
from django.test import Client

from ratings import sampling, scheduler, stopping, studies
from ratings.models import Rater, Study
from ratings.raters import rater_join
from ratings.results.leaderboards import study_leaderboard
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

ANSWERS = {"prompt_adherence": "left", "image_quality": "right"}


def vote(study, n: int) -> int:
    """Up to n answered comparisons by new raters through the scheduler (the hot path under
    test), until nothing more is served; returns how many were answered."""
    answered = 0
    while answered < n:
        rater, _ = rater_join(study=study, source=Rater.Source.PROLIFIC, external_id=f"cache-{Rater.objects.count()}")
        pairs = scheduler.session_serve(study_id=study.pk, rater_id=rater.pk)["pairs"]
        if not pairs:
            break
        while pairs and answered < n:
            result = scheduler.vote_submit(study_id=study.pk, rater_id=rater.pk, token=pairs[0]["token"], answers=ANSWERS, response_ms=4000)
            assert result["status"] == "recorded", result
            answered += 1
            pairs = result["pairs"]
    return answered


def stopped_by_budget(study) -> Study:
    vote(study, 10)
    assert sampling.study_sampling_refresh(study=study).stopped
    study.refresh_from_db()
    return study


def reopen(study):
    return stopping.study_reopen(study=study, vote_budget=40)


def page_texts(study) -> tuple[str, str]:
    staff = Client()
    user = User.objects.filter(username="cache-staff").first() or UserFactory(username="cache-staff", staff=True)
    staff.force_login(user)
    board = staff.get(f"/studies/{study.pk}/leaderboard/").content.decode()
    panel = staff.get(f"/dashboard/studies/{study.pk}/panel/").content.decode()
    return board, panel


# transition -> (set-up before it, the change, what the leaderboard page then says)
TRANSITIONS = {
    "stop": (lambda s: vote(s, 8), stopped_by_budget, "Vote budget reached: 10 of 10 comparisons"),
    "reopen": (stopped_by_budget, reopen, "budget 40 comparisons"),
    "pause": (lambda s: vote(s, 6), lambda s: studies.study_pause(study=s), None),
    "resume": (lambda s: (vote(s, 6), studies.study_pause(study=s)), lambda s: studies.study_resume(study=s), None),
    "close": (lambda s: vote(s, 6), lambda s: studies.study_close(study=s), None),
}


@pytest.mark.parametrize("transition", list(TRANSITIONS))
def test_every_state_change_refreshes_the_studys_cached_results(make_study, hot_path, transition):
    study = make_study(
        n_models=3, n_prompts=4, seeds=(0, 1), attention_check_rate=0, repeat_share=0, quota_per_rater=100,
        stop_when="separated", vote_budget=10,
    )
    before, change, says = TRANSITIONS[transition]
    before(study)
    study.refresh_from_db()
    cached = study_leaderboard(study=study)
    assert study_leaderboard(study=study)["provenance"]["computed_at"] == cached["provenance"]["computed_at"]  # it is cached
    board_before, _ = page_texts(study)
    change(study)
    study.refresh_from_db()
    fresh = study_leaderboard(study=study)
    assert fresh["provenance"]["computed_at"] != cached["provenance"]["computed_at"], f"{transition} left the cached results"
    board, panel = page_texts(study)
    assert study.get_status_display() in panel
    if says:
        assert says in board and says not in board_before, board
        assert fresh["provenance"]["design"]["vote_budget"] == study.vote_budget
