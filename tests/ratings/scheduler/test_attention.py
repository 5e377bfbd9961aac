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


def test_the_scheduler_says_a_vote_flagged_the_rater_and_leaves_the_caches_to_its_caller(make_study, hot_path, monkeypatch):
    """``scheduler.vote_submit`` returns ``flagged_now`` and refreshes nothing; ``raters.vote_submit``
    (what the rating page calls) refreshes the study's cached results and keeps the key from the rater."""
    from ratings import raters, scheduler
    from ratings.results import caches

    refreshed = []
    monkeypatch.setattr(caches, "leaderboards_invalidate", lambda *, study_ids: refreshed.append(list(study_ids)))
    monkeypatch.setattr(raters, "leaderboards_invalidate", lambda *, study_ids: refreshed.append(list(study_ids)))
    study = make_study(attention_check_rate=1.0, repeat_share=0, flag_after_failed_checks=1)
    first, second = crowd_rater(study, "first"), crowd_rater(study, "second")
    results = []
    for rater, submit in ((first, scheduler.vote_submit), (second, raters.vote_submit)):
        comparison = current(serve(study, rater))
        b_side = "right" if comparison.left_is_a else "left"  # the decoy: a failed check
        results.append(submit(study_id=study.pk, rater_id=rater.pk, token=comparison.token,
                              answers={c: b_side for c in study.criteria}, response_ms=1500))
        if rater == first:
            assert refreshed == []  # the scheduler touched no cache
    assert results[0]["status"] == results[1]["status"] == "recorded"
    assert results[0]["flagged_now"] is True and "flagged_now" not in results[1]
    assert refreshed == [[study.pk]]
    assert all(p.flagged for p in Participation.objects.filter(study=study))
