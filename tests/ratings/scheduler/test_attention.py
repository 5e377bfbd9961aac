"""Attention checks on both hot paths: mixed in, graded, and flagging a rater who fails them
(``ratings/scheduler/attention.py``)."""

import pytest

from ratings import selectors
from ratings.models import Participation
from tests.ratings.scheduler.steps import crowd_rater, serve, vote, current

pytestmark = pytest.mark.django_db


def test_attention_checks_are_mixed_in_and_failing_them_flags_the_rater(make_study, hot_path):
    study = make_study(attention_check_rate=1.0, repeat_share=0, flag_after_failed_checks=2)
    rater = crowd_rater(study)
    result = serve(study, rater)
    outcomes = []
    for wrong in (True, False, True):
        comparison = current(result)
        check = comparison.attention_check
        assert check is not None
        a_side = "left" if comparison.left_is_a else "right"
        b_side = "right" if comparison.left_is_a else "left"
        answers = {c: (b_side if wrong else a_side) for c in study.criteria}
        result = vote(study, rater, comparison.token, answers)
        comparison.refresh_from_db()
        outcomes.append(comparison.failed_check)
        if len(outcomes) == 1:
            assert not Participation.objects.get(rater=rater).flagged  # one failure is below the threshold
    assert outcomes == [True, False, True]
    participation = Participation.objects.get(rater=rater)
    assert participation.failed_checks == 2
    assert participation.flagged and participation.flag_reason == "attention_checks"
    # Attention-check votes never reach a leaderboard.
    assert not selectors.counted_votes(study=study, include_flagged=True).exists()
