import numpy as np
import pytest

from conftest import simulate_votes, with_second_criterion
from ratings.stats.arrays import VoteArrays
from ratings.stats.elo import online_elo


def expected(r_a, r_b):
    return 1 / (1 + 10 ** ((r_b - r_a) / 400))


def test_hand_worked_sequence_k1():
    # A beats B, B beats A, A ties C, C beats B
    votes = VoteArrays(np.array([0, 1, 0, 2]), np.array([1, 0, 2, 1]), np.array([1, 1, 0.5, 1.0]), ("A", "B", "C"))
    ratings = online_elo(votes, permutations=3, shuffle=False)
    a = b = c = 1000.0
    a, b = a + 0.5, b - 0.5  # E = 1/2 at equal ratings: 1000.5, 999.5
    assert (a, b) == (1000.5, 999.5)
    e_b = expected(b, a)  # 1 / (1 + 10**(1/400)) = 1 / 2.0057731 = 0.4985609
    assert e_b == pytest.approx(0.4985609, abs=1e-7)
    b, a = b + (1 - e_b), a - (1 - e_b)
    e_a = expected(a, c)
    a, c = a + (0.5 - e_a), c - (0.5 - e_a)
    e_c = expected(c, b)
    c, b = c + (1 - e_c), b - (1 - e_c)
    np.testing.assert_allclose(ratings.ordering_draws, [[[a, b, c]]] * 3, rtol=0, atol=1e-9)
    np.testing.assert_allclose(ratings.rating[0], [a, b, c], atol=1e-9)


def test_k_scale_and_start_follow_the_arguments():
    votes = VoteArrays(np.array([0]), np.array([1]), np.array([1.0]), ("A", "B"))
    ratings = online_elo(votes, permutations=1, k=32, initial=1500, shuffle=False)
    np.testing.assert_allclose(ratings.rating[0], [1516, 1484])


def test_orderings_are_uniform_permutations():
    # A beats B then B beats A ends with B ahead, and the other order with A ahead: half each
    votes = VoteArrays(np.array([0, 1]), np.array([1, 0]), np.array([1.0, 1.0]), ("A", "B"))
    draws = online_elo(votes, permutations=4000, seed=3).ordering_draws[:, 0]
    a_ahead = np.mean(draws[:, 0] > draws[:, 1])
    assert 0.47 < a_ahead < 0.53
    three = VoteArrays(np.array([0, 1, 0]), np.array([1, 2, 2]), np.array([1.0, 0.0, 0.5]), ("A", "B", "C"))
    finals = online_elo(three, permutations=6000, seed=1).ordering_draws[:, 0].round(9)
    values, counts = np.unique(finals, axis=0, return_counts=True)
    assert values.shape[0] == 6  # each of the 3! orders ends differently, and each happens
    assert counts.min() > 0.85 * 1000 and counts.max() < 1.15 * 1000


def test_spread_is_labelled_and_seeded():
    rng = np.random.default_rng(0)
    votes = simulate_votes([0.0, 0.3, 0.9], 500, rng, n_criteria=2)
    first, again, other = (online_elo(votes, permutations=200, seed=s) for s in (5, 5, 6))
    np.testing.assert_array_equal(first.ordering_draws, again.ordering_draws)
    assert not np.array_equal(first.ordering_draws, other.ordering_draws)
    assert first.interval_kind.startswith("bootstrap percentile interval (votes resampled")
    low, high, _, _ = first.ordering_spread
    np.testing.assert_allclose(low, np.percentile(first.ordering_draws, 2.5, axis=0))
    np.testing.assert_allclose(high, np.percentile(first.ordering_draws, 97.5, axis=0))
    np.testing.assert_allclose(first.rating, first.ordering_draws.mean(axis=0))
    assert (first.rating[:, 2] > first.rating[:, 0]).all()


def test_criteria_share_each_ordering():
    """Criterion 1 repeats criterion 0 on every comparison: every ordering gives both the same."""
    rng = np.random.default_rng(2)
    one = simulate_votes([0.0, 0.5, 1.0], 300, rng)
    votes = with_second_criterion(one, one.outcome)
    draws = online_elo(votes, permutations=50, seed=0).ordering_draws
    np.testing.assert_allclose(draws[:, 0], draws[:, 1], atol=1e-9)


def test_a_model_without_votes_is_nan():
    votes = VoteArrays(np.array([0, 2]), np.array([2, 0]), np.array([1.0, 0.5]), ("A", "B", "C"))
    ratings = online_elo(votes, permutations=10)
    assert np.isnan(ratings.rating[0, 1])
    assert ratings.votes[0, 1] == 0


def test_interval_is_a_bootstrap_that_narrows_with_votes_and_not_with_orderings():
    """The Elo interval resamples votes and then orders them: 8x the votes make it about
    sqrt(8) times narrower, while more orderings of the point estimate leave it as it is (and the
    spread over orderings, what ADD's bars show, does not narrow with votes at all)."""
    widths, spreads = {}, {}
    for n in (3000, 24000):
        votes = simulate_votes([0.0, 0.4, 0.8], n, np.random.default_rng(1))
        for orderings in (100, 400):
            ratings = online_elo(votes, permutations=orderings, seed=0, bootstrap_rounds=100)
            low, high = ratings.interval()
            widths[n, orderings] = (high - low)[0]
            spread_low, spread_high, _, _ = ratings.ordering_spread
            spreads[n, orderings] = (spread_high - spread_low)[0]
    np.testing.assert_allclose(widths[3000, 100], widths[3000, 400])
    np.testing.assert_allclose(widths[24000, 100], widths[24000, 400])
    ratio = widths[3000, 400] / widths[24000, 400]
    assert (1.8 < ratio).all() and (ratio < 4.5).all(), ratio
    assert (spreads[24000, 400] > 0.8 * spreads[3000, 400]).all()


def test_rank_uses_the_bootstrap_interval():
    from ratings.stats import leaderboard

    votes = simulate_votes([0.0, 0.0, 1.5], 6000, np.random.default_rng(4))
    rows = {row["model"]: row for row in leaderboard(votes, "elo", 200, 0)}
    assert rows["model-2"]["rank"] == 1
    # The two equal models overlap: both rank 2, whatever order their point estimates take.
    assert rows["model-0"]["rank"] == rows["model-1"]["rank"] == 2
