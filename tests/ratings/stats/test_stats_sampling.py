"""The adaptive sampling rule and the anytime-valid stopping rule, on fixed fits and simulations."""

import numpy as np
import pytest

from ratings.stats import forecast, sampling


def counts_for(strength, games_per_pair, rng=None):
    """float[1, P, 3]: expected (rng None) or drawn counts of `games_per_pair` games per pair."""
    strength = np.asarray(strength, dtype=float)
    lo, hi = sampling.pair_index(strength.size)
    p = forecast.outcome_probabilities(strength, lo, hi, 0.0)
    games = np.broadcast_to(np.asarray(games_per_pair, dtype=float), lo.shape)
    if rng is None:
        return (games[:, None] * p)[None], lo, hi
    return rng.multinomial(games.astype(int), p)[None].astype(float), lo, hi


def pair_position(lo, hi, a, b):
    return int(np.flatnonzero((lo == min(a, b)) & (hi == max(a, b)))[0])


def test_fit_recovers_strengths_and_covariance_shrinks_with_votes():
    strength = np.array([0.6, 0.1, -0.2, -0.5])
    counts, lo, hi = counts_for(strength, 400)
    model_fit = sampling.fit(counts, lo, hi, 4)
    assert np.allclose(model_fit.strength[0], strength - strength.mean(), atol=0.02)
    more = sampling.fit(counts * 4, lo, hi, 4)
    var_few = sampling.difference_variance(model_fit.covariance, np.array([[0]]), np.array([[1]]))
    var_many = sampling.difference_variance(more.covariance, np.array([[0]]), np.array([[1]]))
    assert var_many[0, 0] == pytest.approx(var_few[0, 0] / 4, rel=0.02)


def test_settled_pair_gets_fewer_serves_and_uncertain_adjacent_pair_more():
    # Models 0 > 1 > 2 > 3; 1 and 2 are 35 Elo apart, the others 150+.
    elo = np.array([1300.0, 1115.0, 1080.0, 900.0])
    strength = forecast.strengths_from_elo(elo)[0]
    counts, lo, hi = counts_for(strength, 60)
    weights = sampling.pair_weights(sampling.fit(counts, lo, hi, 4), exploration=0.2)
    uniform = 1.0 / lo.size
    close = weights[pair_position(lo, hi, 1, 2)]
    far = weights[pair_position(lo, hi, 0, 3)]
    assert close > 0.5  # the one undecided adjacent pair takes most of the adaptive share
    assert far < uniform  # a settled pair gets less than under uniform sampling
    assert weights.sum() == pytest.approx(1.0)


def test_exploration_floor_holds_for_every_pair():
    strength = forecast.strengths_from_elo([1300.0, 1115.0, 1080.0, 900.0, 700.0])[0]
    counts, lo, hi = counts_for(strength, 40)
    for exploration in (0.0, 0.2, 0.5):
        weights = sampling.pair_weights(sampling.fit(counts, lo, hi, 5), exploration=exploration)
        assert weights.min() >= exploration / lo.size - 1e-12
        assert weights.sum() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="exploration"):
        sampling.pair_weights(sampling.fit(counts, lo, hi, 5), exploration=1.5)


def test_no_votes_and_decided_studies_are_served_uniformly():
    lo, hi = sampling.pair_index(4)
    empty = sampling.fit(np.zeros((1, lo.size, 3)), lo, hi, 4)
    assert np.allclose(sampling.pair_weights(empty), 1.0 / lo.size)
    strength = forecast.strengths_from_elo([1600.0, 1200.0, 800.0, 400.0])[0]
    counts, _, _ = counts_for(strength, 2000)
    decided = sampling.fit(counts, lo, hi, 4)
    assert sampling.separation(decided).decided().all()
    assert np.allclose(sampling.pair_weights(decided), 1.0 / lo.size)


def test_boundary_is_stricter_than_a_fixed_level_and_grows_slowly():
    information = np.array([10.0, 100.0, 1000.0, 10000.0])
    z = sampling.boundary(information, alpha=0.05)
    assert (z > 1.96).all()  # stricter than one look at 95%
    assert (np.diff(z[1:]) > 0).all() and z[-1] < 5.0  # grows like sqrt(log I)
    with pytest.raises(ValueError, match="alpha"):
        sampling.boundary(information, alpha=0.0)


def test_separation_needs_the_boundary_not_just_the_sign():
    strength = forecast.strengths_from_elo([1100.0, 1090.0])[0]
    few, lo, hi = counts_for(strength, 50)
    assert not sampling.separation(sampling.fit(few, lo, hi, 2)).decided().any()
    strength = forecast.strengths_from_elo([1300.0, 1000.0])[0]
    many, lo, hi = counts_for(strength, 500)
    result = sampling.separation(sampling.fit(many, lo, hi, 2))
    assert result.decided().all() and result.order[0, 0] == 0


def test_top_k_considers_only_the_leading_pairs():
    # 0 and 1 well apart; 2 and 3 indistinguishable: top-1 is decided, the full ranking is not.
    strength = forecast.strengths_from_elo([1400.0, 1100.0, 900.0, 900.0])[0]
    counts, lo, hi = counts_for(strength, 300)
    model_fit = sampling.fit(counts, lo, hi, 4)
    assert sampling.stop_reached(model_fit, rule="separated", top_k=1)
    assert not sampling.stop_reached(model_fit, rule="separated")
    with pytest.raises(ValueError, match="top_k"):
        sampling.separation(model_fit, top_k=4)


def test_peeking_after_every_batch_keeps_false_separations_under_alpha():
    """Two equal models, the rule checked after every 20 votes up to 4,000: the share of runs
    that ever declare them separated stays under alpha (a fixed 95% interval checked as often
    is wrong far more often: shown on the same runs' z paths below)."""
    alpha = 0.1
    design = forecast.StudyDesign(sampling="uniform", alpha=alpha, budget=4000, look_every=20)
    result = forecast.simulate(np.zeros((1, 2)), design, runs=300, seed=3)
    false_separations = result.stopped.mean()
    assert false_separations <= alpha
    # The naive rule on the same kind of paths: |z| > 1.645 at any of the 200 looks.
    rng = np.random.default_rng(3)
    wins = rng.binomial(20, 0.5, size=(300, 200)).cumsum(axis=1)
    games = 20 * np.arange(1, 201)
    naive_z = (wins - games / 2) / np.sqrt(games / 4)
    assert (np.abs(naive_z) > 1.645).any(axis=1).mean() > 2 * alpha


def test_adaptive_stops_with_fewer_votes_and_no_more_wrong_orders():
    elo = np.array([1300.0, 1150.0, 1115.0, 1000.0, 900.0, 865.0, 700.0, 550.0])
    truth = forecast.strengths_from_elo(np.stack([elo, elo]))
    runs = {}
    for rule in ("uniform", "adaptive"):
        design = forecast.StudyDesign(sampling=rule, budget=60_000, look_every=100, tie_share=0.1)
        runs[rule] = forecast.simulate(truth, design, runs=12, seed=5)
    uniform, adaptive = runs["uniform"], runs["adaptive"]
    assert adaptive.stopped.all()
    assert np.median(adaptive.comparisons) <= 0.6 * np.median(uniform.comparisons)
    assert adaptive.wrong_order.sum() / max(1, adaptive.declared.sum()) <= 0.05


def test_forecast_median_is_close_to_the_votes_a_study_needs():
    elo = np.array([1250.0, 1100.0, 1060.0, 900.0, 760.0])
    design = forecast.StudyDesign(sampling="adaptive", budget=40_000, look_every=50)
    predicted = forecast.forecast(design, elo=elo, runs=60, seed=11)
    actual = forecast.simulate(forecast.strengths_from_elo(elo), design, runs=60, seed=99)
    assert predicted.low <= predicted.median <= predicted.high
    assert abs(predicted.median - np.median(actual.comparisons)) <= 0.25 * np.median(actual.comparisons)
    document = predicted.as_dict(price_per_vote=0.1, crowd_size=20, seconds_per_vote=8.0)
    assert document["cost"]["median"] == pytest.approx(predicted.median * 0.1, abs=0.01)
    assert document["hours"]["median"] == pytest.approx(predicted.median * 8.0 / 20 / 3600, abs=0.01)


def test_forecast_from_votes_so_far_counts_only_the_remaining_votes():
    elo = np.array([1250.0, 1100.0, 1060.0, 900.0])
    strength = forecast.strengths_from_elo(elo)[0]
    design = forecast.StudyDesign(sampling="adaptive", budget=30_000, look_every=50)
    before = forecast.forecast(design, elo=elo, runs=40, seed=1)
    counts, _, _ = counts_for(strength, 150, rng=np.random.default_rng(2))
    during = forecast.forecast(design, counts=counts, n_models=4, runs=40, seed=1)
    assert during.median < before.median
    with pytest.raises(ValueError, match="n_models"):
        forecast.forecast(design, counts=counts)


def test_designs_refuse_unknown_rules():
    with pytest.raises(ValueError, match="sampling"):
        forecast.StudyDesign(sampling="greedy")
    with pytest.raises(ValueError, match="stops when"):
        forecast.StudyDesign(stop_when="target")
