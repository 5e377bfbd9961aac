"""Raters (ratings/rater_reads.py, ratings/rater_flags.py): their statistics in a study (agreement with the others,
self-consistency on deliberate repeats) and the flags those set."""

from __future__ import annotations

import pytest

from ratings import rater_flags, rater_reads
from ratings.models import Comparison, Participation
from ratings.results import leaderboards
from tests.ratings.scheduler.steps import crowd_rater, current, serve, vote as submit


def test_agreement_is_the_share_of_votes_matching_the_others_majority(rated_study):
    # Both raters always picked the left image; where they saw the same pair, they agree
    # exactly when their left images were the same one.
    table = {row["name"]: row for row in rater_reads.study_rater_table(study=rated_study)}
    # Answered ones only: the rater side keeps the next pair reserved (unanswered) for each rater.
    comparisons = list(Comparison.objects.filter(study=rated_study, answered_at__isnull=False).select_related("rater__user"))
    shared = {}
    for c in comparisons:
        shared.setdefault(frozenset((c.image_a_id, c.image_b_id)), []).append(c)
    both = [cs for cs in shared.values() if len(cs) == 2]
    if not both:
        assert table["rater-1"]["agreement"] is None
        return
    same_left = sum(1 for a, b in both if (a.image_a_id if a.left_is_a else a.image_b_id) == (b.image_a_id if b.left_is_a else b.image_b_id))
    assert table["rater-1"]["agreement"] == pytest.approx(same_left / len(both))


@pytest.mark.django_db
def test_self_consistency_per_rater_and_study_and_the_study_threshold_flags(make_study, hot_path):
    study = make_study(n_prompts=6, attention_check_rate=0, repeat_share=1.0, quota_per_rater=12, min_self_consistency=0.75, min_repeats_to_judge=4)
    steady, fickle = crowd_rater(study, "steady"), crowd_rater(study, "fickle")
    for rater, flip in ((steady, False), (fickle, True)):
        result = serve(study, rater)
        while result["pairs"]:
            comparison = current(result)
            picked_a = True
            if comparison.is_repeat and flip:
                picked_a = False  # answers a repeat the other way
            side = ("left" if comparison.left_is_a else "right") if picked_a else ("right" if comparison.left_is_a else "left")
            result = submit(study, rater, comparison.token, {c: side for c in study.criteria})
    repeats = Comparison.objects.filter(study=study, is_repeat=True, answered_at__isnull=False)
    assert repeats.filter(rater=steady).exists() and repeats.filter(rater=fickle).exists()
    consistency = rater_reads.study_self_consistency(study=study)
    assert consistency["raters"][steady.pk]["share"] == 1.0 and consistency["raters"][fickle.pk]["share"] == 0.0
    n = consistency["raters"][steady.pk]["repeats"] + consistency["raters"][fickle.pk]["repeats"]
    assert sum(cell["repeats"] for cell in consistency["criteria"].values()) == n
    assert consistency["criteria"]["prompt_adherence"]["share"] == pytest.approx(0.5, abs=0.2)
    table = {row["id"]: row for row in rater_reads.study_rater_table(study=study)}
    assert table[fickle.pk]["self_consistency"] == 0.0 and table[steady.pk]["self_consistency"] == 1.0
    assert consistency["raters"][fickle.pk]["repeats"] >= 4  # enough to judge (min_repeats_to_judge=4)
    assert rater_flags.raters_flag_inconsistent(study=study) == 1
    assert Participation.objects.get(study=study, rater=fickle).flag_reason == "self_consistency"
    assert not Participation.objects.get(study=study, rater=steady).flagged
    assert rater_flags.raters_flag_inconsistent(study=study) == 0  # already flagged
    board = leaderboards.compute_study_leaderboard(study=study, method="winrate", rounds=20)
    assert board["provenance"]["self_consistency"] == consistency["criteria"]
