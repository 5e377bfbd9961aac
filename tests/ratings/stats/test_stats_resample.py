import numpy as np

from conftest import simulate_votes, with_second_criterion
from ratings.stats.arrays import VoteArrays
from ratings.stats.resample import _sum_into_cells, pair_counts, vote_cells


def test_pattern_draws_have_the_distribution_of_resampled_votes():
    """Drawing patterns from a multinomial = resampling votes with replacement: compare the
    cell counts' means and covariances with a plain vote bootstrap over many rounds."""
    rng = np.random.default_rng(0)
    votes = simulate_votes([0.0, 0.4, 1.0], 60, rng, tie_rate=0.2)
    rounds = 20000
    draws = pair_counts(votes, rounds, np.random.default_rng(1)).draws.reshape(rounds, -1)
    _, _, vote_pair, category = vote_cells(votes)
    cell = vote_pair * 3 + category
    picked = cell[np.random.default_rng(2).integers(0, votes.n_votes, (rounds, votes.n_votes))]
    plain = np.stack([np.bincount(row, minlength=draws.shape[1]) for row in picked])
    share = np.bincount(cell, minlength=draws.shape[1]) / votes.n_votes
    theory = votes.n_votes * (np.diag(share) - np.outer(share, share))
    for sample in (draws, plain):
        np.testing.assert_allclose(sample.mean(axis=0), votes.n_votes * share, atol=0.1)
        np.testing.assert_allclose(np.cov(sample, rowvar=False), theory, atol=0.3)  # ~5 standard errors
    assert (draws.sum(axis=1) == votes.n_votes).all()


def test_dense_product_and_segment_sum_agree():
    rng = np.random.default_rng(3)
    drawn = rng.integers(0, 5, (7, 30)).astype(float)
    entry_pattern = np.repeat(np.arange(30), 2)
    entry_cell = rng.integers(0, 12, 60)
    entry_cell[1::2] = (entry_cell[::2] + 1) % 12  # two distinct cells per pattern
    weight = rng.integers(1, 4, 60).astype(float)
    dense = _sum_into_cells(drawn, entry_pattern, entry_cell, weight, 12)
    expected = np.zeros((7, 12))
    for p, c, w in zip(entry_pattern, entry_cell, weight):
        expected[:, c] += drawn[:, p] * w
    np.testing.assert_allclose(dense, expected)
    sparse = _sum_into_cells(drawn, entry_pattern, entry_cell, weight, 10_000)  # too sparse: gather
    np.testing.assert_allclose(sparse[:, :12], expected)
    assert not sparse[:, 12:].any()


def test_irregular_comparisons_fall_back_to_one_pattern_per_unit():
    rng = np.random.default_rng(4)
    one = simulate_votes([0.0, 0.5, 1.0], 200, rng)
    regular = with_second_criterion(one, one.outcome)
    # the same votes with two votes of one criterion in some comparisons: the generic path
    irregular = VoteArrays(regular.model_a, regular.model_b, regular.outcome, regular.model_names,
                           criterion=np.zeros(regular.n_votes, int), criterion_names=("a",),
                           comparison=regular.comparison)
    counts = pair_counts(irregular, 500, np.random.default_rng(5))
    # comparisons move whole: every draw holds each comparison's two identical votes in pairs
    assert (counts.draws % 2 == 0).all()
    np.testing.assert_allclose(counts.draws.mean(axis=0), counts.counts, rtol=0.1, atol=2)


def test_prompt_bootstrap_covers_the_population_truth_and_the_vote_bootstrap_does_not():
    """Models whose advantage differs by prompt: the interval from resampling prompts covers the
    win rate over the population of prompts at close to 95%; resampling votes, which treats the
    study's prompts as the whole population, covers it visibly less often."""
    from scipy.special import expit

    from ratings.stats import win_rates
    from ratings.stats.arrays import VoteArrays

    rng = np.random.default_rng(11)
    mean_advantage, prompt_sd, n_prompts, votes_per_prompt = 0.3, 1.0, 30, 20
    truth = expit(mean_advantage + prompt_sd * rng.standard_normal(2_000_000)).mean()
    covered = {"prompt": 0, "comparison": 0}
    studies = 300
    for _ in range(studies):
        advantage = mean_advantage + prompt_sd * rng.standard_normal(n_prompts)
        prompt = np.repeat(np.arange(n_prompts), votes_per_prompt)
        outcome = (rng.random(prompt.size) < expit(advantage[prompt])).astype(float)
        votes = VoteArrays(np.zeros(prompt.size, int), np.ones(prompt.size, int), outcome, ("a", "b"), cluster=prompt)
        for unit in covered:
            result = win_rates(votes, 400, int(rng.integers(2**31)), resample=unit)
            covered[unit] += result.low[0, 0, 1] <= truth <= result.high[0, 0, 1]
    rates = {unit: n / studies for unit, n in covered.items()}
    print(f"coverage of the population win rate {truth:.3f}: prompt bootstrap {rates['prompt']:.2f}, vote bootstrap {rates['comparison']:.2f}")
    assert 0.88 <= rates["prompt"] <= 0.99
    assert rates["comparison"] <= rates["prompt"] - 0.15
