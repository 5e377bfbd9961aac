"""The one votes-to-arrays function (ratings/results/votes.py): a study's counted votes, in vote
order, each with its models, outcome, criterion, prompt and rater; flags marked or left out;
excluded votes never there; raters pseudonymized stably; models labelled by slug and version."""

from __future__ import annotations

import re

import numpy as np
import pytest

from ratings import rater_flags
from ratings.models import Rater, Vote
from ratings.results.votes import CHOICE_OUTCOME, _judged_items, model_label, rater_pseudonym, study_votes


def test_every_counted_vote_becomes_one_row_with_its_models_outcome_criterion_prompt_and_rater(rated_study):
    votes = study_votes(study=rated_study)
    rows = list(Vote.objects.filter(comparison__study=rated_study).order_by("pk").select_related(
        "comparison__image_a__spec", "comparison__image_b__spec", "comparison__rater"))
    arrays = votes.arrays
    assert arrays.n_votes == len(rows) > 0
    assert arrays.model_names == tuple(model_label(spec) for spec in rated_study.job.specs.order_by("pk"))
    assert arrays.criterion_names == tuple(rated_study.all_criteria)
    for i, vote in enumerate(rows):
        comparison = vote.comparison
        assert arrays.model_names[arrays.model_a[i]] == model_label(comparison.image_a.spec)
        assert arrays.model_names[arrays.model_b[i]] == model_label(comparison.image_b.spec)
        assert arrays.outcome[i] == CHOICE_OUTCOME[vote.choice]
        assert arrays.criterion_names[arrays.criterion[i]] == vote.criterion
        assert votes.prompt_ids[i] == comparison.prompt_id and votes.rater_ids[i] == comparison.rater_id
        assert votes.image_a_ids[i] == comparison.image_a_id and votes.tstamps[i] == vote.created_at
    assert votes.n_raters == 2 and not votes.flagged.any() and votes.flag_reasons == {}


def test_a_flagged_raters_votes_are_marked_kept_or_left_out_and_excluded_votes_never_appear(rated_study):
    first, second = Rater.objects.filter(participations__study=rated_study).order_by("pk")
    rater_flags.rater_flag(study=rated_study, rater=first)
    rater_flags.rater_exclude(study=rated_study, rater=second)
    every = study_votes(study=rated_study)
    flagged_votes = Vote.objects.filter(comparison__study=rated_study, comparison__rater=first).count()
    assert every.arrays.n_votes == flagged_votes and every.flagged.all()
    assert set(every.rater_ids.tolist()) == {first.pk}
    assert every.flag_reasons == {first.pk: "flagged in this study by staff"}
    assert every.counted().n_votes == 0 and every.counted(include_flagged=True).n_votes == flagged_votes
    assert study_votes(study=rated_study, include_flagged=False).arrays.n_votes == 0


def test_rater_pseudonyms_are_stable_distinct_and_depend_on_the_secret(settings):
    assert rater_pseudonym(1) == rater_pseudonym(1) != rater_pseudonym(2)
    assert re.fullmatch(r"r_[0-9a-f]{12}", rater_pseudonym(1))
    before = rater_pseudonym(1)
    settings.SECRET_KEY = "another secret"
    assert rater_pseudonym(1) != before


@pytest.mark.django_db
def test_model_labels_name_the_version_from_the_second_on():
    from tests.factories import ModelSpecFactory

    assert model_label(ModelSpecFactory(slug="zephyr", version=1)) == "zephyr"
    assert model_label(ModelSpecFactory(slug="zephyr", version=2)) == "zephyr@2"


def test_a_judged_item_is_its_prompt_seed_and_unordered_model_pair():
    prompts, seeds = np.array([1, 1, 1, 2, 1]), np.array([0, 0, 1, 0, 0])
    model_a, model_b = np.array([0, 1, 0, 0, 0]), np.array([1, 0, 1, 1, 2])
    items = _judged_items(prompts, seeds, model_a, model_b)
    assert items[0] == items[1]  # the same pair shown either way round
    assert len({items[0], items[2], items[3], items[4]}) == 4  # another seed, prompt or pair
    assert _judged_items(*(np.zeros(0, dtype=np.int64),) * 4).shape == (0,)
