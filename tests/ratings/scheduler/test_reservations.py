"""Reservations on both hot paths: lapsed ones go back to the pool, a withdrawal gives back the
rater's (``ratings/scheduler/reservations.py``)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from ratings import raters, selectors
from ratings.models import Comparison, PairSlot, Participation, Rater, Vote
from tests.ratings.scheduler.steps import crowd_rater, serve, vote, current, rate_until_done

pytestmark = pytest.mark.django_db


def test_lapsed_reservations_are_freed_and_a_vote_on_a_live_one_is_accepted(make_study, hot_path):
    study = make_study(n_models=2, n_prompts=1, votes_per_pair=1, attention_check_rate=0, repeat_share=0, reservation_seconds=60)
    first, second = crowd_rater(study, "first"), crowd_rater(study, "second")
    held = current(serve(study, first))
    assert serve(study, second)["pairs"] == []  # the only slot is reserved
    Comparison.objects.filter(pk=held.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    taken = current(serve(study, second))  # the abandoned tab's pair is given back and served again
    assert taken.slot_id == held.slot_id
    assert Comparison.objects.get(pk=held.pk).released_at is not None
    # The first rater comes back late: the slot went to someone else, the vote is refused.
    late = vote(study, first, held.token)
    assert late["status"] == "expired" and late["message"].startswith("This pair was open too long")
    assert not Vote.objects.filter(comparison=held).exists()
    # The second rater's reservation is live: always accepted.
    assert vote(study, second, taken.token)["status"] == "recorded"
    assert PairSlot.objects.get(pk=taken.slot_id).filled == 1


def test_withdrawal_removes_votes_from_leaderboards_and_identifying_data(make_study, hot_path):
    study = make_study(attention_check_rate=0, repeat_share=0, quota_per_rater=3)
    stays, leaves = crowd_rater(study, "stays"), crowd_rater(study, "5f1e2d3c4b5a69788796a5b4")
    Participation.objects.filter(rater=leaves).update(crowd_study_id="STUDY123", crowd_session_id="SESSION456")
    rate_until_done(study, stays)
    rate_until_done(study, leaves)
    assert selectors.counted_votes(study=study).count() == 12
    raters.rater_withdraw(rater=leaves)
    leaves.refresh_from_db()
    assert leaves.withdrawn_at is not None and leaves.external_id == ""
    assert Participation.objects.filter(rater=leaves, crowd_study_id="", crowd_session_id="").exists()
    assert selectors.counted_votes(study=study).count() == 6
    assert Vote.objects.filter(comparison__rater=leaves).count() == 6  # kept, flagged as excluded
    assert not Rater.objects.filter(external_id="5f1e2d3c4b5a69788796a5b4").exists()
