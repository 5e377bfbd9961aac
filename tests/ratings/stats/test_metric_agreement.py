"""Agreement of an automated metric with the raters: on a constructed study where the metric is
the hidden truth, its pairwise accuracy is the simulated raters' own consistency; a shuffled
metric sits at a coin toss; rank correlations and per-model means read the same story."""

import numpy as np
import pytest

from ratings.stats.metric_agreement import model_metric_means, pairwise_accuracy, rank_correlation

MODELS, PROMPTS, SEEDS, VOTES = 4, 60, 2, 6000
#: The chance that a simulated rater picks the image that is truly better.
CONSISTENCY = 0.8
STRENGTH = np.array([0.0, 0.4, 0.8, 1.2])


@pytest.fixture(scope="module")
def study():
    """Images (model, prompt, seed) with a hidden true quality, and decisive votes on pairs of one
    prompt's images from two models, each right with probability CONSISTENCY."""
    rng = np.random.default_rng(7)
    model, prompt, seed = (a.ravel() for a in np.meshgrid(np.arange(MODELS), np.arange(PROMPTS), np.arange(SEEDS), indexing="ij"))
    truth = STRENGTH[model] + rng.normal(0, 1, model.size)
    index = {(m, p, s): i for i, (m, p, s) in enumerate(zip(model, prompt, seed))}
    vote_prompt = rng.integers(0, PROMPTS, VOTES)
    model_a = rng.integers(0, MODELS, VOTES)
    model_b = (model_a + rng.integers(1, MODELS, VOTES)) % MODELS
    image_a = np.array([index[m, p, s] for m, p, s in zip(model_a, vote_prompt, rng.integers(0, SEEDS, VOTES))])
    image_b = np.array([index[m, p, s] for m, p, s in zip(model_b, vote_prompt, rng.integers(0, SEEDS, VOTES))])
    a_truly_better = truth[image_a] > truth[image_b]
    right = rng.random(VOTES) < CONSISTENCY
    winner = np.where(a_truly_better == right, 1.0, 0.0)
    return dict(model=model, prompt=prompt, truth=truth, image_a=image_a, image_b=image_b, winner=winner, vote_prompt=vote_prompt)


def test_a_metric_equal_to_the_truth_agrees_as_often_as_the_raters_are_consistent(study):
    result = pairwise_accuracy(study["image_a"], study["image_b"], study["winner"], study["truth"], rounds=1000, seed=0)
    assert result.votes == VOTES and result.skipped == 0 and result.metric_ties == 0
    assert result.accuracy == pytest.approx(CONSISTENCY, abs=0.02)
    # The interval brackets the estimate and reaches the nominal consistency within sampling
    # error (one fixed draw of 6000 votes may sit 2 standard errors away).
    assert result.low < result.accuracy < result.high
    assert result.low - 0.01 < CONSISTENCY < result.high + 0.01
    # About +-1.96 * sqrt(0.8 * 0.2 / 6000) = +-0.010 on each side.
    assert 0.015 < result.high - result.low < 0.03
    by_prompt = pairwise_accuracy(study["image_a"], study["image_b"], study["winner"], study["truth"], cluster=study["vote_prompt"], rounds=1000)
    assert by_prompt.resample == "prompt" and by_prompt.low < by_prompt.accuracy < by_prompt.high


def test_a_shuffled_metric_agrees_half_the_time(study):
    # One shuffle's accuracy strays from 1/2 by its own luck (a random score is fixed per image,
    # so votes sharing an image move together); forty shuffles average to 1/2, and the interval
    # that resamples prompts covers 1/2 about as often as it claims.
    accuracies, covered, narrower = [], 0, 0
    for shuffle in range(40):
        shuffled = np.random.default_rng(100 + shuffle).permutation(study["truth"])
        by_prompt = pairwise_accuracy(study["image_a"], study["image_b"], study["winner"], shuffled, cluster=study["vote_prompt"], rounds=200, seed=shuffle)
        by_vote = pairwise_accuracy(study["image_a"], study["image_b"], study["winner"], shuffled, rounds=200, seed=shuffle)
        accuracies.append(by_prompt.accuracy)
        covered += by_prompt.low < 0.5 < by_prompt.high
        narrower += (by_vote.high - by_vote.low) < (by_prompt.high - by_prompt.low)
    assert np.mean(accuracies) == pytest.approx(0.5, abs=0.008)
    assert max(abs(a - 0.5) for a in accuracies) < 0.06
    assert covered >= 32
    assert narrower >= 36  # the vote-level interval ignores that dependence and is too narrow
    # A metric that sees the truth through noise lands between the two.
    noisy = study["truth"] + np.random.default_rng(5).normal(0, 1, study["truth"].size)
    between = pairwise_accuracy(study["image_a"], study["image_b"], study["winner"], noisy, rounds=0)
    assert 0.5 + 0.05 < between.accuracy < CONSISTENCY - 0.03
    assert np.isnan(between.low)  # no rounds, no interval


def test_human_ties_and_unscored_images_are_skipped_and_metric_ties_count_half():
    score = np.array([1.0, 2.0, 2.0, np.nan])
    result = pairwise_accuracy([0, 1, 0, 0, 3], [1, 2, 1, 1, 0], [0.0, 1.0, 0.5, 1.0, 1.0], score, rounds=10)
    # Counted: (0 vs 1, b chosen: agree), (1 vs 2, a chosen: metric tie), (0 vs 1, a chosen: disagree).
    assert (result.votes, result.skipped, result.metric_ties) == (3, 2, 1)
    assert result.accuracy == pytest.approx((1 + 0.5 + 0) / 3)
    empty = pairwise_accuracy([0], [1], [0.5], score)
    assert empty.votes == 0 and np.isnan(empty.accuracy)
    with pytest.raises(ValueError, match="image indices"):
        pairwise_accuracy([0], [9], [1.0], score)


def test_the_metric_ranking_of_models_matches_the_human_one(study):
    means = model_metric_means(study["model"], study["prompt"], study["truth"], rounds=500, seed=0)
    assert list(np.argsort(means.mean)) == [0, 1, 2, 3]
    assert list(means.prompts) == [PROMPTS] * MODELS
    # Each mean is over 60 prompts x 2 seeds of unit noise: standard error 1 / sqrt(120) = 0.09.
    assert np.abs(means.mean - STRENGTH).max() < 3 * 0.0913
    assert ((means.high - means.low) == pytest.approx(2 * 1.96 * 0.0913, rel=0.25))
    assert ((means.low < means.mean) & (means.mean < means.high)).all()
    same = rank_correlation(means.mean, STRENGTH)
    assert (same.spearman, same.kendall, same.models) == (pytest.approx(1.0), pytest.approx(1.0), MODELS)
    reversed_ = rank_correlation(-means.mean, STRENGTH)
    assert reversed_.spearman == pytest.approx(-1.0) and reversed_.kendall == pytest.approx(-1.0)
    # A model without a human rating is left out of the correlation, not ranked last.
    partial = rank_correlation(means.mean, np.array([0.0, np.nan, 0.8, 1.2]))
    assert partial.models == 3 and partial.spearman == pytest.approx(1.0)
    assert np.isnan(rank_correlation([1.0, 2.0], [np.nan, 1.0]).spearman)
