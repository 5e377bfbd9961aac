"""Flags: a flagged participation's votes are kept and left out of leaderboards by default."""

import pytest

from ratings import selectors
from ratings.results import leaderboards
from ratings.models import Participation
from tests.ratings.scheduler.steps import crowd_rater, rate_until_done

pytestmark = pytest.mark.django_db


def test_flagged_raters_are_left_out_of_leaderboards_by_default_and_their_votes_kept(make_study):
    study = make_study(attention_check_rate=0, repeat_share=0, quota_per_rater=3)
    good, flagged = crowd_rater(study, "good"), crowd_rater(study, "flagged")
    rate_until_done(study, good)
    rate_until_done(study, flagged)
    Participation.objects.filter(study=study, rater=flagged).update(flagged=True)
    assert selectors.counted_votes(study=study).count() == 6
    assert selectors.counted_votes(study=study, include_flagged=True).count() == 12
    board = leaderboards.compute_study_leaderboard(study=study, method="winrate", rounds=10)
    assert board["provenance"]["votes"] == 6 and board["provenance"]["left_out"]["votes"] == 6
