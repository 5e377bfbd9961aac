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


def crossed_votes(rng, *, advantage, prompt_sd, rater_sd, n_prompts, n_raters, n_votes):
    """Two models; each vote about a random prompt by a random rater, model 0 winning with
    probability expit(advantage + the prompt's deviation + the rater's lean)."""
    from scipy.special import expit

    prompt = rng.integers(0, n_prompts, n_votes)
    rater = rng.integers(0, n_raters, n_votes)
    logit = advantage + prompt_sd * rng.standard_normal(n_prompts)[prompt] + rater_sd * rng.standard_normal(n_raters)[rater]
    outcome = (rng.random(n_votes) < expit(logit)).astype(float)
    return VoteArrays(np.zeros(n_votes, int), np.ones(n_votes, int), outcome, ("a", "b"), cluster=prompt, rater=rater)


def test_pigeonhole_draws_weigh_each_vote_by_its_prompt_and_rater_multiplicities():
    """Each round's counts are sum over votes of W[prompt] * V[rater]: rebuilt from the same
    generator's prompt and rater draws; the total is the product of the two draws' sums' share."""
    from ratings.stats.resample import _compact

    rng = np.random.default_rng(5)
    votes = crossed_votes(rng, advantage=0.2, prompt_sd=0.5, rater_sd=0.5, n_prompts=5, n_raters=4, n_votes=60)
    rounds = 6
    draws = pair_counts(votes, rounds, np.random.default_rng(9), "prompt_rater").draws
    replay = np.random.default_rng(9)
    prompt_draws = replay.multinomial(5, np.full(5, 0.2), size=rounds)
    rater_draws = replay.multinomial(4, np.full(4, 0.25), size=rounds)
    prompt, rater = _compact(votes.cluster)[0], _compact(votes.rater)[0]
    weight = prompt_draws[:, prompt] * rater_draws[:, rater]  # [R, votes]
    a_won = votes.outcome == 1.0
    np.testing.assert_allclose(draws[:, 0, 0, 0], weight[:, a_won].sum(axis=1))
    np.testing.assert_allclose(draws[:, 0, 0, 1], weight[:, ~a_won].sum(axis=1))


def test_prompt_rater_bootstrap_needs_both_labels_and_online_elo_has_it_too():
    """Without rater labels the two-way bootstrap says what it needs; online Elo resamples
    prompts and raters crossed as well, its interval wider than the prompt bootstrap's when
    raters lean."""
    import pytest

    from ratings.stats.elo import online_elo

    rng = np.random.default_rng(1)
    votes = crossed_votes(rng, advantage=0.2, prompt_sd=0.3, rater_sd=1.0, n_prompts=12, n_raters=6, n_votes=400)
    with pytest.raises(ValueError, match="votes.rater"):
        pair_counts(VoteArrays(votes.model_a, votes.model_b, votes.outcome, ("a", "b"), cluster=votes.cluster), 10,
                    np.random.default_rng(0), "prompt_rater")
    widths = {}
    for unit in ("prompt", "prompt_rater"):
        ratings = online_elo(votes, 200, 0, resample=unit)
        assert ratings.resample == unit
        low, high = np.percentile(ratings.draws, [2.5, 97.5], axis=0)
        widths[unit] = float((high - low)[0, 0])
    assert widths["prompt_rater"] > 1.3 * widths["prompt"], widths


def test_two_way_bootstrap_is_wider_than_the_prompt_bootstrap_and_covers_under_leaning_raters():
    """Prompts differ and raters lean: resampling prompts only holds the raters fixed and its
    interval for the population win rate (over prompts and raters like these) is too narrow; the
    pigeonhole bootstrap (prompts and raters resampled, crossed) is wider and covers at about
    95% or more (Owen 2007: mildly conservative)."""
    from scipy.special import expit

    from ratings.stats import win_rates

    rng = np.random.default_rng(21)
    advantage, prompt_sd, rater_sd = 0.3, 0.6, 0.8
    population = advantage + prompt_sd * rng.standard_normal(2_000_000) + rater_sd * rng.standard_normal(2_000_000)
    truth = expit(population).mean()
    covered, widths = {"prompt": 0, "prompt_rater": 0}, {"prompt": [], "prompt_rater": []}
    studies = 200
    for _ in range(studies):
        votes = crossed_votes(rng, advantage=advantage, prompt_sd=prompt_sd, rater_sd=rater_sd, n_prompts=25, n_raters=15,
                              n_votes=600)
        for unit in covered:
            result = win_rates(votes, 300, int(rng.integers(2**31)), resample=unit)
            low, high = result.low[0, 0, 1], result.high[0, 0, 1]
            covered[unit] += low <= truth <= high
            widths[unit].append(high - low)
    rates = {unit: n / studies for unit, n in covered.items()}
    ratio = float(np.median(np.array(widths["prompt_rater"]) / np.array(widths["prompt"])))
    print(f"coverage of {truth:.3f}: prompt {rates['prompt']:.3f}, prompt_rater {rates['prompt_rater']:.3f}; "
          f"median width ratio {ratio:.2f}")
    assert ratio > 1.3
    assert rates["prompt_rater"] >= 0.92
    assert rates["prompt"] <= rates["prompt_rater"] - 0.1


def test_few_cluster_scale_widens_a_prompt_bootstrap_by_the_small_cluster_and_t_corrections():
    """sqrt(G / (G - 1)) t_{G-1} / z: about 1.12 with 16 prompts, vanishing with many; the
    comparison bootstrap is left alone; a prompt bootstrap's interval is that much wider than its
    plain percentile interval about the estimate."""
    from scipy.stats import norm, t as student

    from ratings.stats import win_rates
    from ratings.stats.resample import few_cluster_scale

    assert few_cluster_scale(None) == 1.0
    assert few_cluster_scale(16) == np.sqrt(16 / 15) * student.ppf(0.975, 15) / norm.ppf(0.975)
    assert 1.11 < few_cluster_scale(16) < 1.13 and few_cluster_scale(200) < 1.01
    assert few_cluster_scale(5) > few_cluster_scale(16) > few_cluster_scale(40)
    rng = np.random.default_rng(4)
    votes = crossed_votes(rng, advantage=0.2, prompt_sd=0.5, rater_sd=0.0, n_prompts=16, n_raters=5, n_votes=800)
    result = win_rates(votes, 400, 3, resample="prompt")
    point = result.matrix[0, 0, 1]
    draws = pair_counts(votes, 400, np.random.default_rng(3), "prompt").draws[:, 0, 0]
    plain = np.percentile(draws[:, 0] / draws[:, :2].sum(axis=1), [2.5, 97.5])  # no ties here
    widened = np.array([result.low[0, 0, 1], result.high[0, 0, 1]])
    np.testing.assert_allclose(widened - point, few_cluster_scale(16) * (plain - point), rtol=1e-9)
