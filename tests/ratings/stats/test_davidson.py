"""Bradley-Terry with Davidson's tie model: its fit, its agreement with an independent optimiser,
and the property it exists for: its target does not move with the design, the half-win one does."""

import math
from dataclasses import replace

import numpy as np
import pytest
from scipy.optimize import minimize

from conftest import simulate_votes
from ratings.stats.arrays import VoteArrays
from ratings.stats.bradley_terry import bradley_terry, fit_bradley_terry
from ratings.stats.davidson import davidson, fit_davidson
from ratings.stats.leaderboard import estimate

ELO_PER_UNIT = 400 / math.log(10)
M = 8
LO, HI = np.triu_indices(M, 1)
TRUTH = np.linspace(0.0, 600.0, M) / ELO_PER_UNIT
NU = 0.222  # about 10% ties between equal models


def expected_counts(games_per_pair: np.ndarray) -> np.ndarray:
    """Expected (lo wins, hi wins, ties) per pair under Davidson's model with TRUTH and NU."""
    x = TRUTH[LO] - TRUTH[HI]
    denominator = np.exp(x / 2) + np.exp(-x / 2) + NU
    return np.stack([np.exp(x / 2), np.exp(-x / 2), np.full_like(x, NU)], axis=-1) / denominator[:, None] * games_per_pair[:, None]


def spread(strength: np.ndarray) -> float:
    return float((strength.max() - strength.min()) * ELO_PER_UNIT)


def test_the_target_does_not_move_with_the_design_and_the_half_win_one_does():
    uniform = expected_counts(np.full(LO.size, 100.0))
    adjacent_heavy = expected_counts(np.where(HI - LO == 1, 1000.0, 10.0))
    for design in (uniform, adjacent_heavy):
        strength, nu, converged = fit_davidson(design, LO, HI, M)
        assert converged.all()
        np.testing.assert_allclose(strength[0], TRUTH - TRUTH.mean(), atol=1e-7)
        np.testing.assert_allclose(nu, [NU], rtol=1e-7)
    half_win = [
        spread(fit_bradley_terry(d[:, 0] + 0.5 * d[:, 2], d.sum(axis=1), LO, HI, M)[0][0]) for d in (uniform, adjacent_heavy)
    ]
    assert abs(half_win[0] - half_win[1]) > 5.0, half_win  # the half-win target moves with the design
    assert all(s < 590.0 for s in half_win)  # and shrinks the spread: a tie pulls both toward 0.5


def test_matches_an_independent_optimiser():
    rng = np.random.default_rng(3)
    counts = rng.poisson(expected_counts(np.full(LO.size, 60.0))).astype(float)

    def negative_log_likelihood(params):
        r = np.concatenate([[0.0], params[: M - 1]])
        x = r[LO] - r[HI]
        return -((counts[:, 0] - counts[:, 1]) * x / 2 + counts[:, 2] * params[-1] - counts.sum(axis=1) * np.log(2 * np.cosh(x / 2) + np.exp(params[-1]))).sum()

    def gradient(params):  # analytic, so BFGS reaches 1e-6 without the precision loss of finite differences
        r = np.concatenate([[0.0], params[: M - 1]])
        x = r[LO] - r[HI]
        denominator = 2 * np.cosh(x / 2) + np.exp(params[-1])
        n = counts.sum(axis=1)
        d_x = -((counts[:, 0] - counts[:, 1]) / 2 - n * np.sinh(x / 2) / denominator)
        d_r = np.zeros(M)
        np.add.at(d_r, LO, d_x)
        np.add.at(d_r, HI, -d_x)
        d_nu = -(counts[:, 2] - n * np.exp(params[-1]) / denominator).sum()
        return np.concatenate([d_r[1:], [d_nu]])

    result = minimize(negative_log_likelihood, np.zeros(M), jac=gradient, method="BFGS", options={"gtol": 1e-10})
    reference = np.concatenate([[0.0], result.x[: M - 1]])
    strength, nu, converged = fit_davidson(counts, LO, HI, M)
    assert converged.all()
    np.testing.assert_allclose(strength[0], reference - reference.mean(), atol=1e-6)
    np.testing.assert_allclose(nu[0], math.exp(result.x[-1]), rtol=1e-5)


def test_without_ties_it_is_bradley_terry():
    rng = np.random.default_rng(4)
    votes = simulate_votes(TRUTH, 2000, rng)
    np.testing.assert_allclose(davidson(votes, rounds=30, seed=2).rating, bradley_terry(votes, rounds=30, seed=2).rating, atol=1e-6)


def test_ratings_and_intervals_on_the_elo_scale_cover_the_truth():
    rng = np.random.default_rng(5)
    truth = 1000 + ELO_PER_UNIT * (TRUTH - TRUTH.mean())
    held = []
    for _ in range(40):
        a = rng.integers(0, M, 2500)
        b = (a + rng.integers(1, M, 2500)) % M
        x = TRUTH[a] - TRUTH[b]
        denominator = np.exp(x / 2) + np.exp(-x / 2) + NU
        u = rng.random(a.size)
        outcome = np.where(u < np.exp(x / 2) / denominator, 1.0, np.where(u < (np.exp(x / 2) + NU) / denominator, 0.5, 0.0))
        ratings = estimate(VoteArrays(a, b, outcome, tuple(f"m{i}" for i in range(M))), "davidson", rounds=200, seed=int(rng.integers(2**31)))
        assert ratings.method == "davidson" and ratings.converged and ratings.unconverged_rounds == 0
        low, high = ratings.interval()
        held.append((low[0] <= truth) & (truth <= high[0]))
    assert 0.88 <= np.mean(held) <= 0.99, np.mean(held)


def test_a_model_that_wins_everything_has_no_finite_fit():
    counts = np.zeros((3, 3))
    lo, hi = np.triu_indices(3, 1)  # pairs (0, 1), (0, 2), (1, 2)
    counts[0] = (5, 0, 0)  # model 0 beats model 1 every time
    counts[1] = (4, 0, 0)  # and model 2
    counts[2] = (3, 3, 2)
    assert not fit_davidson(counts, lo, hi, 3)[2].any()


@pytest.mark.parametrize("resample", ["comparison", "prompt"])
def test_bootstrap_units(resample):
    rng = np.random.default_rng(6)
    votes = simulate_votes(TRUTH, 1500, rng, tie_rate=0.1)
    votes = replace(votes, cluster=rng.integers(0, 30, votes.n_votes))
    ratings = davidson(votes, rounds=50, seed=1, resample=resample)
    assert ratings.resample == resample and ratings.draws.shape == (50, 1, M)
