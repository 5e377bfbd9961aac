"""Leaderboard options (ratings/results/options.py): one value, checked once when made, whose
defaults the cache key, the periodic refresh and the results pages share."""

import pytest
from django.core.cache import cache

from ratings import rater_flags, tasks
from ratings.models import Participation, Rater
from ratings.raters import rater_join
from ratings.results.caches import leaderboard_cache_key
from ratings.results.options import MAX_ROUNDS, MAX_SEED, LeaderboardOptions
from tests.ratings.results.test_caches import vote


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"method": "median"}, "Unknown method 'median': use one of"),
        ({"rounds": 0}, f"rounds must be a whole number from 1 to {MAX_ROUNDS}, got 0."),
        ({"rounds": MAX_ROUNDS + 1}, f"rounds must be a whole number from 1 to {MAX_ROUNDS}, got {MAX_ROUNDS + 1}."),
        ({"seed": -1}, f"seed must be a whole number from 0 to {MAX_SEED}, got -1."),
        ({"resample": "cluster"}, "Unknown resampling unit 'cluster': use one of comparison, prompt, rater, prompt_rater."),
        ({"by": "model"}, "Unknown breakdown 'model': use one of category, challenge."),
    ],
)
def test_options_out_of_bounds_are_refused_when_made_with_the_reason(fields, message):
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        LeaderboardOptions(**fields)


def test_options_are_given_as_a_value_or_as_its_fields_not_both():
    assert LeaderboardOptions.given(None, {"rounds": 50}) == LeaderboardOptions(rounds=50)
    options = LeaderboardOptions(method="elo")
    assert LeaderboardOptions.given(options, {}) is options
    with pytest.raises(TypeError, match="not both: rounds"):
        LeaderboardOptions.given(options, {"rounds": 50})


@pytest.mark.django_db
def test_the_default_variant_and_its_cache_key_take_the_studys_unit(make_study):
    study = make_study(n_models=2, n_prompts=2, unit="prompt")
    default = LeaderboardOptions().for_study(study)
    assert default.resample == "prompt" and default.is_default_for(study)
    assert LeaderboardOptions(resample="prompt").is_default_for(study)
    assert not LeaderboardOptions(resample="comparison").is_default_for(study)
    assert not LeaderboardOptions(rounds=999).is_default_for(study)
    assert leaderboard_cache_key(study.pk, default).endswith(":bt:1000:0:0:prompt:-")
    with pytest.raises(ValueError, match="name their bootstrap unit"):
        leaderboard_cache_key(study.pk, LeaderboardOptions())


@pytest.mark.django_db
def test_the_periodic_refresh_flags_through_the_raters_module_and_caches_the_default_board(make_study, hot_path, monkeypatch):
    """The task applies the self-consistency threshold (rater_flags.raters_flag_inconsistent_due), then
    refreshes the study's default leaderboard under the key of its own unit (not "comparison")."""
    study = make_study(n_models=3, n_prompts=4, attention_check_rate=0, repeat_share=0, quota_per_rater=100, unit="prompt",
                       min_self_consistency=0.75, min_repeats_to_judge=1)
    assert vote(study, 6) == 6
    fickle = Participation.objects.filter(study=study).first().rater
    steady, _ = rater_join(study=study, source=Rater.Source.PROLIFIC, external_id="options-steady")
    consistency = {"raters": {fickle.pk: {"repeats": 2, "share": 0.5}, steady.pk: {"repeats": 2, "share": 1.0}}, "criteria": {}}
    monkeypatch.setattr(rater_flags, "study_self_consistency", lambda *, study: consistency)
    key = leaderboard_cache_key(study.pk, LeaderboardOptions().for_study(study))
    assert cache.get(key) is None

    assert tasks.leaderboards_refresh_stale() == [study.pk]

    flags = dict(Participation.objects.filter(study=study, flagged=True).values_list("rater_id", "flag_reason"))
    assert flags == {fickle.pk: "self_consistency"}
    cached = cache.get(leaderboard_cache_key(study.pk, LeaderboardOptions().for_study(study)))
    assert cached is not None and cached["provenance"]["resample"] == "prompt" and cached["provenance"]["votes_in_study"] > 0
    assert rater_flags.raters_flag_inconsistent_due() == []  # already flagged
