import math
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize

from conftest import simulate_votes, votes_from_counts, with_second_criterion
from ratings.stats.arrays import VoteArrays
from ratings.stats.bradley_terry import bradley_terry, fit_bradley_terry
from ratings.stats.documents import fit_warnings
from ratings.stats.resample import pair_counts

ELO_PER_UNIT = 400 / math.log(10)


def test_two_models_closed_form():
    votes = votes_from_counts([(0, 1, 30, 10, 0)])
    ratings = bradley_terry(votes, rounds=10, seed=0)
    a, b = ratings.rating[0]
    assert a - b == pytest.approx(400 * math.log10(30 / 10), abs=1e-6)
    assert (a + b) / 2 == pytest.approx(1000.0, abs=1e-9)


def test_two_models_a_tie_is_half_a_win():
    votes = votes_from_counts([(0, 1, 30, 10, 4)])
    a, b = bradley_terry(votes, rounds=10, seed=0).rating[0]
    assert a - b == pytest.approx(400 * math.log10(32 / 12), abs=1e-6)


def test_anchor_pins_a_model():
    votes = votes_from_counts([(0, 1, 30, 10, 0), (1, 2, 5, 15, 2)])
    centred = bradley_terry(votes, rounds=50, seed=3)
    anchored = bradley_terry(votes, rounds=50, seed=3, anchor=("m1", 1200.0))
    shift = 1200.0 - centred.rating[0, 1]
    assert anchored.rating[0, 1] == pytest.approx(1200.0)
    np.testing.assert_allclose(anchored.rating, centred.rating + shift, atol=1e-8)
    np.testing.assert_allclose(anchored.draws[:, 0, 1], 1200.0)
    with pytest.raises(ValueError, match="anchor model 'nobody'"):
        bradley_terry(votes, rounds=5, anchor=("nobody", 1000.0))


def reference_fit(votes):
    """Independent reference: L-BFGS on the per-vote logistic log-likelihood (tie = half)."""
    m = votes.n_models

    def loss(x):
        r = np.concatenate([[0.0], x])  # model 0 fixed at 0
        d = r[votes.model_a] - r[votes.model_b]
        log_p, log_q = -np.logaddexp(0, -d), -np.logaddexp(0, d)
        p = 1 / (1 + np.exp(-d))
        value = -(votes.outcome * log_p + (1 - votes.outcome) * log_q).sum()
        g = np.zeros(m)
        np.add.at(g, votes.model_a, -(votes.outcome - p))
        np.add.at(g, votes.model_b, votes.outcome - p)
        return value, g[1:]

    result = minimize(loss, np.zeros(m - 1), jac=True, method="L-BFGS-B", options={"gtol": 1e-12, "ftol": 1e-15, "maxiter": 10000})
    r = np.concatenate([[0.0], result.x])
    return r - r.mean()


def test_matches_independent_lbfgs_fit():
    rng = np.random.default_rng(11)
    votes = simulate_votes(rng.normal(0, 1, 8), 3000, rng, tie_rate=0.15)
    tables = pair_counts(votes)
    counts = tables.counts[0]
    strength, converged = fit_bradley_terry(
        counts[:, 0] + 0.5 * counts[:, 2], counts.sum(axis=1), tables.lo, tables.hi, votes.n_models
    )
    assert converged.all()
    np.testing.assert_allclose(strength[0], reference_fit(votes), atol=1e-6)
    np.testing.assert_allclose(
        bradley_terry(votes, rounds=5).rating[0], 1000 + ELO_PER_UNIT * reference_fit(votes), atol=1e-6 * ELO_PER_UNIT
    )


def test_intervals_cover_the_true_ratings():
    rng = np.random.default_rng(2024)
    strength = np.array([-1.0, -0.5, 0.0, 0.2, 0.6, 1.1])
    truth = 1000 + ELO_PER_UNIT * (strength - strength.mean())
    held = []
    for _ in range(200):
        votes = simulate_votes(strength, 1500, rng)  # no ties: a tie rate unrelated to strength biases BT
        low, high = bradley_terry(votes, rounds=200, seed=int(rng.integers(2**31))).interval()
        held.append((low[0] <= truth) & (truth <= high[0]))
    coverage = np.mean(held)
    assert coverage >= 0.90, coverage


def test_unconverged_when_a_model_wins_everything():
    swept = bradley_terry(votes_from_counts([(0, 1, 5, 0, 0), (1, 2, 3, 3, 0)]), rounds=20)
    assert not swept.converged
    assert swept.unconverged_rounds == 20
    fine = bradley_terry(votes_from_counts([(0, 1, 50, 10, 0), (1, 2, 30, 30, 0), (0, 2, 10, 10, 0)]), rounds=20)
    assert fine.converged
    assert fine.unconverged_rounds == 0


def test_no_spurious_warning_on_well_connected_data():
    """Every model with hundreds of wins and losses: no bootstrap round may be reported as having
    no finite MLE. A 1e-12 ridge used to let rounding noise push Newton's steps along the constant
    direction, so about 2% (up to a third with wide spreads) of such rounds never met the tolerance."""
    rng = np.random.default_rng(5)
    strength = np.linspace(0.0, 800.0, 12) / ELO_PER_UNIT
    votes = simulate_votes(strength, 6000, rng, tie_rate=0.1)
    wins = np.zeros(12)
    np.add.at(wins, votes.model_a, votes.outcome)
    np.add.at(wins, votes.model_b, 1 - votes.outcome)
    assert wins.min() >= 140
    fitted = bradley_terry(votes, rounds=300, seed=1)
    assert fitted.converged and fitted.unconverged_rounds == 0
    assert fit_warnings(fitted, 300) == []
    by_prompt = replace(votes, cluster=rng.integers(0, 40, votes.n_votes))
    assert bradley_terry(by_prompt, rounds=300, seed=1, resample="prompt").unconverged_rounds == 0


def test_warning_on_models_never_linked_to_the_rest():
    """Two groups of models never compared with each other: their relative level is not
    determined, and the fit and every round say so."""
    split = votes_from_counts([(0, 1, 30, 20, 0), (2, 3, 25, 25, 0)])
    fitted = bradley_terry(split, rounds=20)
    assert not fitted.converged
    assert fitted.unconverged_rounds == 20
    warnings = fit_warnings(fitted, 20)
    assert len(warnings) == 2 and "never compared" in warnings[0]
    linked = votes_from_counts([(0, 1, 30, 20, 0), (2, 3, 25, 25, 0), (1, 2, 10, 10, 0)])
    assert bradley_terry(linked, rounds=20).converged


@st.composite
def small_studies(draw):
    m = draw(st.integers(2, 5))
    n = draw(st.integers(m, 40))
    a = np.array(draw(st.lists(st.integers(0, m - 1), min_size=n, max_size=n)))
    b = (a + np.array(draw(st.lists(st.integers(1, m - 1), min_size=n, max_size=n)))) % m
    outcome = np.array(draw(st.lists(st.sampled_from([0.0, 0.5, 1.0]), min_size=n, max_size=n)))
    # a tie between every pair keeps every maximum likelihood finite
    ring_a, ring_b = np.arange(m), (np.arange(m) + 1) % m
    a, b = np.concatenate([a, ring_a]), np.concatenate([b, ring_b])
    outcome = np.concatenate([outcome, np.full(m, 0.5)])
    return VoteArrays(a, b, outcome, tuple(f"m{i}" for i in range(m)))


@settings(max_examples=40, deadline=None)
@given(small_studies(), st.randoms(use_true_random=False))
def test_vote_order_does_not_change_bradley_terry(votes, random):
    order = np.array(random.sample(range(votes.n_votes), votes.n_votes))
    shuffled = VoteArrays(votes.model_a[order], votes.model_b[order], votes.outcome[order], votes.model_names)
    before, after = bradley_terry(votes, rounds=30, seed=1), bradley_terry(shuffled, rounds=30, seed=1)
    np.testing.assert_allclose(after.rating, before.rating, atol=1e-7)
    np.testing.assert_allclose(after.interval(), before.interval(), atol=1e-7)


@settings(max_examples=40, deadline=None)
@given(small_studies(), st.integers(0, 5))
def test_a_model_without_votes_changes_no_other_rating(votes, position):
    position = min(position, votes.n_models)
    shift = (votes.model_a >= position).astype(int), (votes.model_b >= position).astype(int)
    names = list(votes.model_names)
    names.insert(position, "silent")
    widened = VoteArrays(votes.model_a + shift[0], votes.model_b + shift[1], votes.outcome, tuple(names))
    others = [i for i in range(len(names)) if i != position]
    before, after = bradley_terry(votes, rounds=1, seed=5), bradley_terry(widened, rounds=1, seed=5)
    np.testing.assert_allclose(after.rating[:, others], before.rating, atol=1e-7)
    assert np.isnan(after.rating[0, position])
    assert after.votes[0, position] == 0
    # Bootstrap rounds may have no finite MLE (a model wins all its resampled games), where the
    # stopping point is not unique; a weak prior makes every round's optimum unique.
    before, after = (bradley_terry(v, rounds=30, seed=5, prior=1e-3) for v in (votes, widened))
    np.testing.assert_allclose(np.array(after.interval())[:, :, others], before.interval(), atol=1e-7)


def test_combined_is_the_mean_of_criteria_in_every_draw():
    rng = np.random.default_rng(5)
    votes = simulate_votes([0.0, 0.4, 0.9, -0.3], 800, rng, tie_rate=0.1, n_criteria=2)
    ratings = bradley_terry(votes, rounds=300, seed=9)
    rating, low, high = ratings.combined()
    np.testing.assert_allclose(rating, ratings.rating.mean(axis=0))
    np.testing.assert_allclose(low, np.percentile(ratings.draws.mean(axis=1), 2.5, axis=0))
    np.testing.assert_allclose(high, np.percentile(ratings.draws.mean(axis=1), 97.5, axis=0))


def test_criteria_of_one_comparison_are_resampled_together():
    rng = np.random.default_rng(8)
    one = simulate_votes([0.0, 0.5, 1.0], 600, rng, tie_rate=0.2)
    # criterion 1 repeats criterion 0's answer on every comparison: identical in every draw
    twice = with_second_criterion(one, one.outcome)
    draws = bradley_terry(twice, rounds=100, seed=4).draws
    np.testing.assert_allclose(draws[:, 0], draws[:, 1], atol=1e-9)
    separately = VoteArrays(twice.model_a, twice.model_b, twice.outcome, twice.model_names,
                            criterion=twice.criterion, criterion_names=("a", "b"))
    draws = bradley_terry(separately, rounds=100, seed=4).draws
    assert np.abs(draws[:, 0] - draws[:, 1]).max() > 1.0


def test_same_seed_same_draws_and_other_seed_other_draws():
    rng = np.random.default_rng(1)
    votes = simulate_votes([0.0, 0.5, 1.0], 300, rng)
    first, again, other = (bradley_terry(votes, rounds=50, seed=s).draws for s in (7, 7, 8))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
