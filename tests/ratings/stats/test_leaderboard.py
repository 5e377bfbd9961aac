import numpy as np
import pytest

from conftest import simulate_votes
from ratings.stats import VoteArrays, breakdown, estimate, from_labels, leaderboard
from ratings.stats.ratings import interval_ranks


def test_rank_counts_models_whose_lower_bound_is_above_the_upper_bound():
    low = np.array([10.0, 8.0, 5.0, 1.0, np.nan])
    high = np.array([12.0, 11.0, 9.5, 4.0, np.nan])
    # model 2's upper bound 9.5 is below model 0's lower bound 10 only; model 3 is below all three
    np.testing.assert_array_equal(interval_ranks(low, high), [1, 1, 2, 4, 0])


def test_breakdown_runs_the_estimator_per_group():
    rng = np.random.default_rng(0)
    votes = simulate_votes([0.0, 0.5, 1.0], 900, rng)
    category = np.array(["Animals", "People", "Vehicles"])[rng.integers(0, 3, votes.n_votes)]
    per_group = breakdown(votes, category, method="winrate", rounds=50, seed=2)
    assert list(per_group) == ["Animals", "People", "Vehicles"]
    for name, rows in per_group.items():
        assert rows == leaderboard(votes.subset(category == name), method="winrate", rounds=50, seed=2)
    counts = breakdown(votes, category, estimator=lambda v: v.n_votes)
    assert sum(counts.values()) == votes.n_votes
    with pytest.raises(ValueError, match="one label per vote"):
        breakdown(votes, category[:-1])


def test_from_labels_and_validation():
    votes = from_labels(["b", "a"], ["c", "b"], [1.0, 0.5], ["quality", "adherence"], rater=["r9", "r1"])
    assert votes.model_names == ("a", "b", "c")
    np.testing.assert_array_equal(votes.model_a, [1, 0])
    assert votes.criterion_names == ("quality", "adherence")
    np.testing.assert_array_equal(votes.rater, [1, 0])
    with pytest.raises(ValueError, match="with itself"):
        VoteArrays(np.array([0]), np.array([0]), np.array([1.0]), ("a",))
    with pytest.raises(ValueError, match="outcome of vote 1"):
        VoteArrays(np.array([0, 0]), np.array([1, 1]), np.array([1.0, 0.3]), ("a", "b"))
    with pytest.raises(ValueError, match="codes outside"):
        VoteArrays(np.array([0]), np.array([2]), np.array([1.0]), ("a", "b"))


def test_estimate_rejects_unknown_methods_and_empty_votes():
    votes = from_labels(["a"], ["b"], [1.0])
    with pytest.raises(ValueError, match="method must be one of"):
        estimate(votes, "glicko")
    with pytest.raises(ValueError, match="no votes"):
        estimate(votes.subset(np.zeros(1, bool)))


def test_level_sets_the_interval():
    rng = np.random.default_rng(1)
    votes = simulate_votes([0.0, 0.8], 400, rng)
    wide, narrow = (estimate(votes, "bt", 300, 0, level=level).interval() for level in (0.95, 0.5))
    assert (wide[0] < narrow[0]).all() and (narrow[1] < wide[1]).all()
