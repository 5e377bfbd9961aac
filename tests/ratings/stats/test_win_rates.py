import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import simulate_votes, with_second_criterion
from ratings.stats.arrays import VoteArrays
from ratings.stats.win_rates import win_rates


def hand_votes():
    # A-B: A wins 3, B wins 1, 2 ties (shown both ways); B-C: B wins 1, C wins 1; A never meets C
    a = [0, 0, 1, 0, 1, 0, 1, 2]
    b = [1, 1, 0, 1, 0, 1, 2, 1]
    outcome = [1, 1, 0, 0, 0.5, 0.5, 1, 1]
    return VoteArrays(np.array(a), np.array(b), np.array(outcome, float), ("A", "B", "C"))


def test_hand_worked_matrix_ties_half():
    result = win_rates(hand_votes(), rounds=20, seed=0)
    matrix = result.matrix[0]
    assert matrix[0, 1] == pytest.approx((3 + 0.5 * 2) / 6)
    assert matrix[1, 0] == pytest.approx((1 + 0.5 * 2) / 6)
    assert matrix[1, 2] == pytest.approx(0.5)
    assert np.isnan(matrix[0, 2]) and np.isnan(matrix[2, 0])
    assert np.isnan(np.diag(matrix)).all()
    # mean win rate over the models met
    np.testing.assert_allclose(result.mean.rating[0], [4 / 6, (2 / 6 + 0.5) / 2, 0.5])
    np.testing.assert_array_equal(result.mean.votes[0], [6, 8, 2])


def test_hand_worked_matrix_ties_left_out():
    matrix = win_rates(hand_votes(), rounds=20, seed=0, ties="exclude").matrix[0]
    assert matrix[0, 1] == pytest.approx(3 / 4)
    assert matrix[1, 0] == pytest.approx(1 / 4)


def test_interval_holds_the_estimate_and_narrows_with_votes():
    rng = np.random.default_rng(3)
    small = win_rates(simulate_votes([0.0, 0.7, 1.2], 300, rng), rounds=300, seed=1)
    large = win_rates(simulate_votes([0.0, 0.7, 1.2], 30000, rng), rounds=300, seed=1)
    off = ~np.eye(3, dtype=bool)
    for result in (small, large):
        assert (result.low[0][off] <= result.matrix[0][off]).all()
        assert (result.matrix[0][off] <= result.high[0][off]).all()
    assert ((large.high - large.low)[0][off] < (small.high - small.low)[0][off]).all()


def test_cluster_bootstrap_resamples_prompts():
    rng = np.random.default_rng(4)
    votes = simulate_votes([0.0, 0.5], 400, rng)
    # model-0 wins every vote on prompts 0-4 and loses every vote on prompts 5-7: resampling
    # 8 prompts gives a much wider interval than resampling 400 votes
    prompt = np.arange(votes.n_votes) % 8
    outcome = ((prompt < 5) == (votes.model_a == 0)).astype(float)
    clustered = VoteArrays(votes.model_a, votes.model_b, outcome, votes.model_names, cluster=prompt)
    by_vote = win_rates(clustered, rounds=400, seed=2)
    by_prompt = win_rates(clustered, rounds=400, seed=2, resample="cluster")
    width = lambda r: r.high[0, 0, 1] - r.low[0, 0, 1]  # noqa: E731
    assert width(by_prompt) > 3 * width(by_vote)
    with pytest.raises(ValueError, match="needs votes.cluster"):
        win_rates(votes, rounds=5, resample="cluster")


def test_opposite_criteria_make_a_flat_combined_rating():
    """Criterion 1 contradicts criterion 0 on every comparison; resampling comparisons (not
    votes) keeps them together, so each model's mean over criteria is 1/2 in every draw."""
    rng = np.random.default_rng(6)
    one = simulate_votes([0.0, 0.6, 1.0], 500, rng)
    votes = with_second_criterion(one, 1 - one.outcome)
    rating, low, high = win_rates(votes, rounds=200, seed=0).mean.combined()
    np.testing.assert_allclose(rating, 0.5)
    np.testing.assert_allclose(low, 0.5)
    np.testing.assert_allclose(high, 0.5)


@st.composite
def studies(draw):
    m = draw(st.integers(2, 5))
    n = draw(st.integers(1, 40))
    a = np.array(draw(st.lists(st.integers(0, m - 1), min_size=n, max_size=n)))
    b = (a + np.array(draw(st.lists(st.integers(1, m - 1), min_size=n, max_size=n)))) % m
    outcome = np.array(draw(st.lists(st.sampled_from([0.0, 0.5, 1.0]), min_size=n, max_size=n)))
    return VoteArrays(a, b, outcome, tuple(f"m{i}" for i in range(m)))


@settings(max_examples=60, deadline=None)
@given(studies(), st.sampled_from(["half", "exclude"]))
def test_swapping_sides_mirrors_the_matrix(votes, ties):
    swapped = VoteArrays(votes.model_b, votes.model_a, votes.outcome, votes.model_names)
    matrix = win_rates(votes, rounds=1, ties=ties).matrix[0]
    mirrored = win_rates(swapped, rounds=1, ties=ties).matrix[0]
    np.testing.assert_allclose(mirrored, matrix.T, equal_nan=True)
    # the same votes told from the other side (sides and outcome swapped) change nothing
    retold = VoteArrays(votes.model_b, votes.model_a, 1 - votes.outcome, votes.model_names)
    np.testing.assert_allclose(win_rates(retold, rounds=1, ties=ties).matrix[0], matrix, equal_nan=True)
