"""What counts changes (a flag, an exclusion, excluded votes, a withdrawal, the automatic flag):
every cached leaderboard view and download shows the new count at once; a flag is per study."""

import pytest

from ratings import rater_flags, rater_reads, raters
from ratings.results import leaderboards
from ratings.models import Participation
from tests.factories import StudyWithImagesFactory, UserFactory
from tests.ratings.results.test_leaderboards import _vote_everything


def _views(study, client):
    """The vote counts every cached view and download shows: the leaderboard by each method, the
    CSV and Markdown downloads, and the staff page."""
    import re

    counts = {method: leaderboards.study_leaderboard(study=study, method=method, rounds=40)["provenance"]["votes"] for method in ("bt", "elo", "winrate")}
    for fmt in ("csv", "md"):
        text = client.get(f"/studies/{study.pk}/leaderboard.{fmt}?method=winrate&rounds=40").content.decode()
        counts[fmt] = int(re.search(r"(?m)^(?:# |<!-- )votes (\d+) in", text).group(1))
    page = client.get(f"/studies/{study.pk}/leaderboard/?rounds=40").content.decode()
    counts["page"] = int(re.search(r"Counted: (\d+) votes", page).group(1))
    return set(counts.values())


@pytest.mark.django_db
def test_every_change_of_what_counts_refreshes_every_cached_view(make_study, client):
    """Flag, unflag, exclude, include, exclude votes in the admin, withdraw: after each, every
    cached view and download shows the new count (the automatic flag: the next test)."""
    from ratings.models import Vote

    study = make_study(n_models=3, n_prompts=2, attention_check_rate=0, repeat_share=0)
    client.force_login(UserFactory(username="staff", superuser=True))
    voters = []
    for name in ("one", "two", "three"):
        rater = raters.rater_invite(study=study, user=UserFactory(username=name))
        _vote_everything(study, rater)
        voters.append(rater)
    per_rater = 6 * 2
    assert _views(study, client) == {3 * per_rater}
    one, two, three = voters
    rater_flags.rater_flag(study=study, rater=one)
    assert _views(study, client) == {2 * per_rater}
    rater_flags.rater_flag(study=study, rater=one, flagged=False)
    assert _views(study, client) == {3 * per_rater}
    rater_flags.rater_exclude(study=study, rater=two)
    assert _views(study, client) == {2 * per_rater}
    rater_flags.rater_exclude(study=study, rater=two, excluded=False)
    assert _views(study, client) == {3 * per_rater}
    vote = Vote.objects.filter(comparison__rater=one).first()
    response = client.post("/admin/ratings/vote/", {"action": "exclude_selected", "_selected_action": [str(vote.pk)]}, follow=True)
    assert "1 vote excluded (kept, never deleted)." in response.content.decode()
    assert _views(study, client) == {3 * per_rater - 1}
    raters.rater_withdraw(rater=three)
    assert _views(study, client) == {2 * per_rater - 1}


@pytest.mark.django_db
def test_automatic_flagging_refreshes_the_leaderboard_at_once(make_study, client, hot_path):
    from tests.ratings.scheduler.steps import crowd_rater, current, serve, vote as submit

    study = make_study(n_models=3, n_prompts=6, attention_check_rate=0.4, repeat_share=0, flag_after_failed_checks=1)
    client.force_login(UserFactory(username="staff", staff=True))
    rater = crowd_rater(study, "careless")
    result, normal_votes = serve(study, rater), 0
    while result["pairs"]:
        comparison = current(result)
        a_side, b_side = ("left", "right") if comparison.left_is_a else ("right", "left")
        if comparison.attention_check_id is not None and normal_votes >= 1:
            assert _views(study, client) == {normal_votes * 2}  # cached, with the rater's votes
            result = submit(study, rater, comparison.token, {c: b_side for c in study.criteria})
            assert result["status"] == "recorded" and "flagged_now" not in result  # nothing tells the rater
            assert Participation.objects.get(study=study, rater=rater).flagged
            assert _views(study, client) == {0}
            return
        result = submit(study, rater, comparison.token, {c: a_side for c in study.criteria})  # passes a check
        normal_votes += comparison.attention_check_id is None
    pytest.fail("no attention check came after an ordinary pair; the automatic flag was not exercised")


@pytest.mark.django_db
def test_a_rater_flagged_in_one_study_still_counts_in_another(make_study, hot_path):
    first = make_study(n_models=2, n_prompts=2, attention_check_rate=0, repeat_share=0)
    # The same models, prompts and images in a second study.
    second = StudyWithImagesFactory(
        name="Second", specs=list(first.job.specs.order_by("pk")), prompt_set=first.job.prompt_set, images=False, no_checks=True
    )
    user = UserFactory(username="crowd")
    rater = raters.rater_invite(study=first, user=user)
    raters.rater_invite(study=second, user=user)
    for study in (first, second):
        _vote_everything(study, rater)
    before = [leaderboards.study_leaderboard(study=s, method="winrate", rounds=20)["provenance"]["votes"] for s in (first, second)]
    assert before == [4, 4]
    rater_flags.rater_flag(study=first, rater=rater)
    after = [leaderboards.study_leaderboard(study=s, method="winrate", rounds=20)["provenance"]["votes"] for s in (first, second)]
    assert after == [0, 4]
    first_board = leaderboards.study_leaderboard(study=first, method="winrate", rounds=20)
    assert first_board["provenance"]["left_out"]["note"].startswith("All 4 votes were left out: every rater who voted is flagged in this study")

    assert {row["id"]: row["flagged"] for row in rater_reads.study_rater_table(study=second)} == {rater.pk: False}
    assert {row["id"]: row["flagged"] for row in rater_reads.study_rater_table(study=first)} == {rater.pk: True}
