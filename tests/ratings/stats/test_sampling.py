"""The adaptive sampling rule and the anytime-valid stopping rule, on fixed fits and simulations."""

import numpy as np
import pytest

from ratings.stats import at_stop, forecast, sampling, sandwich
from ratings.stats import spread as stats_spread


def counts_for(strength, games_per_pair, rng=None):
    """float[1, P, 3]: expected (rng None) or drawn counts of `games_per_pair` games per pair."""
    strength = np.asarray(strength, dtype=float)
    lo, hi = sampling.pair_index(strength.size)
    p = stats_spread.outcome_probabilities(strength, lo, hi, 0.0)
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
    var_few = sandwich.difference_variance(model_fit.covariance, np.array([[0]]), np.array([[1]]))
    var_many = sandwich.difference_variance(more.covariance, np.array([[0]]), np.array([[1]]))
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


# Issue 24: the inference unit. Prompts differ: each model's strength varies by prompt.


def prompt_tables(population, effects, votes_per_prompt):
    """float[1, G, P, 3]: expected votes (no sampling noise) per prompt on strengths population +
    effects[g] (no ties): the served prompts' own order is what the votes show."""
    population = np.asarray(population, dtype=float)
    lo, hi = sampling.pair_index(population.size)
    p = stats_spread.outcome_probabilities(population + effects, lo, hi, 0.0)  # [G, P, 3]
    return (votes_per_prompt * p)[None], lo, hi


def reversed_prompt_effects(rng, n_prompts, spread, served_gap):
    """Prompt effects on two models whose mean over the prompts served makes model 0 lead model 1
    by `served_gap` (natural units) whatever the population says."""
    effects = rng.normal(0.0, spread, (n_prompts, 2))
    effects -= effects.mean(axis=0)
    effects[:, 0] += served_gap / 2
    effects[:, 1] -= served_gap / 2
    return effects


def test_the_prompt_unit_does_not_declare_the_order_of_the_prompts_served_but_the_population_s_with_enough_prompts():
    rng = np.random.default_rng(24)
    population = np.array([0.0, 0.1])  # model 1 is better for the population of prompts
    # 16 prompts on which, taken together, model 0 leads by 0.25 (43 Elo): reversed.
    effects = reversed_prompt_effects(rng, 16, 0.46, served_gap=0.25 + 0.1)
    tables, lo, hi = prompt_tables(population, effects, 2000)
    counts = tables.sum(axis=1)
    per_comparison = sampling.separation(sampling.fit(counts, lo, hi, 2))
    assert per_comparison.separated.all() and per_comparison.order[0, 0] == 0  # these prompts' order, declared
    on_prompts = sampling.separation(sampling.fit(counts, lo, hi, 2, clustered=sampling.unit_terms("prompt", tables)))
    assert not on_prompts.separated.any()
    # No budget would do it with these prompts: the rule says so, and how many prompts would.
    assert on_prompts.floor_limited.all() and on_prompts.undecidable().all()
    needed = on_prompts.prompts_needed(alpha=0.05)
    assert needed[0, 0] > 16
    # Ten times the votes on the same prompts: still not declared.
    tenfold = sampling.fit(counts * 10, lo, hi, 2, clustered=sampling.unit_terms("prompt", tables * 10))
    assert not sampling.separation(tenfold).separated.any()
    # 400 prompts like these (effects drawn around the population, the same spread): declared, in
    # the population's order.
    many = rng.normal(0.0, 0.46, (400, 2))
    tables, lo, hi = prompt_tables(np.array([0.0, 0.3]), many - many.mean(axis=0), 200)
    result = sampling.separation(sampling.fit(tables.sum(axis=1), lo, hi, 2, clustered=sampling.unit_terms("prompt", tables)))
    assert result.separated.all() and result.order[0, 0] == 1 and not result.floor_limited.any()


def test_two_way_clustering_is_at_least_as_wide_as_each_way_and_needs_its_tables():
    rng = np.random.default_rng(5)
    population = np.array([0.0, 0.2, 0.5])
    lo, hi = sampling.pair_index(3)
    prompts, raters = 12, 6
    effects = rng.normal(0, 0.3, (prompts, 3))
    leans = rng.normal(0, 0.3, (raters, 3))
    cells = np.zeros((1, prompts * raters, lo.size, 3))
    for g in range(prompts):
        for r in range(raters):
            p = stats_spread.outcome_probabilities(population + effects[g] + leans[r], lo, hi, 0.0)
            cells[0, g * raters + r] = rng.multinomial(30, p)
    per_prompt = cells.reshape(1, prompts, raters, lo.size, 3).sum(axis=2)
    per_rater = cells.reshape(1, prompts, raters, lo.size, 3).sum(axis=1)
    counts = per_prompt.sum(axis=1)
    widths = {}
    for unit in sampling.UNITS:
        terms = sampling.unit_terms(unit, per_prompt, per_rater, cells)
        widths[unit] = sampling.model_variance(sampling.fit(counts, lo, hi, 3, clustered=terms))
    assert (widths["prompt"] >= widths["comparison"] - 1e-12).all()
    assert (widths["prompt_rater"] >= widths["prompt"] * 0.99).all()
    with pytest.raises(ValueError, match="per rater"):
        sampling.unit_terms("prompt_rater", per_prompt)


def test_the_width_is_on_contrasts_and_the_width_rule_stops_a_simulated_study():
    # The prior's variance along the constant direction is not in any model's interval.
    strength = forecast.strengths_from_elo([0, 100, 200, 300])[0]
    counts, lo, hi = counts_for(strength, 100_000)
    half = sampling.separation(sampling.fit(counts, lo, hi, 4)).half_width
    assert half.max() < 10  # Elo points; with the constant direction it was thousands
    for unit, prompts in (("comparison", None), ("prompt", 20)):
        design = forecast.StudyDesign(sampling="uniform", stop_when="width", width=120, budget=40_000, look_every=200,
                                      unit=unit, prompts=prompts)
        result = forecast.simulate(forecast.strengths_from_elo([[0, 100, 200, 300]]), design, runs=8, seed=2)
        assert result.stopped.all() and (result.comparisons < 40_000).all(), (unit, result.comparisons)


def test_the_separated_rule_still_stops_homogeneous_studies_on_the_prompt_unit():
    elo = [[0, 150, 300, 450]]
    results = {}
    for unit, prompts in (("comparison", None), ("prompt", 16)):
        design = forecast.StudyDesign(sampling="adaptive", budget=20_000, look_every=100, unit=unit, prompts=prompts)
        results[unit] = forecast.simulate(forecast.strengths_from_elo(elo), design, runs=20, seed=4)
        assert results[unit].stopped.all() and results[unit].wrong_order.sum() == 0
    # The few-cluster correction costs a homogeneous study little (Satterthwaite's degrees of freedom).
    assert np.median(results["prompt"].comparisons) <= 1.6 * np.median(results["comparison"].comparisons)


def test_a_heterogeneous_study_on_few_prompts_ends_undecidable_not_wrong():
    elo = [[0, 30, 200, 400]]
    design = forecast.StudyDesign(sampling="adaptive", budget=20_000, look_every=100, unit="prompt", prompts=8,
                                  prompt_sd=120 / sampling.ELO_PER_UNIT)
    result = forecast.simulate(forecast.strengths_from_elo(elo), design, runs=20, seed=6)
    assert result.wrong_order.sum() <= 1
    assert result.undecidable.mean() > 0.5 and (result.comparisons[result.undecidable] < 20_000).all()


def test_population_strengths_keep_the_order_and_flatten_with_the_spread():
    truth = forecast.strengths_from_elo([0, 50, 100])[0]
    same = at_stop.population_strengths(truth, 0.0)
    flatter = at_stop.population_strengths(truth, 0.46)
    assert np.allclose(same, truth - truth.mean(), atol=1e-4)
    assert (np.argsort(flatter) == np.argsort(truth)).all() and np.ptp(flatter) < np.ptp(truth)


@pytest.mark.parametrize("spread_elo", [0.0, 80.0])
def test_the_forecast_from_votes_is_calibrated_on_a_simulated_study(spread_elo):
    """The forecast during a study, from its first votes per prompt (the spread estimated from
    them), against studies that go on from the same votes with the true strengths; the same
    refit cadence in both."""
    elo = [[0, 90, 180, 270]]
    truth = forecast.strengths_from_elo(elo)
    spread = spread_elo / sampling.ELO_PER_UNIT
    design = forecast.StudyDesign(sampling="adaptive", budget=30_000, look_every=100, unit="prompt", prompts=40, prompt_sd=spread)
    # The study's first votes: 3 per model pair and prompt (720).
    rng = np.random.default_rng(1)
    lo, hi = sampling.pair_index(4)
    effects = rng.normal(0, spread, (40, 4)) if spread else np.zeros((40, 4))
    per_prompt = np.zeros((1, 40, lo.size, 3))
    for g in range(40):
        per_prompt[0, g] = rng.multinomial(np.full(lo.size, 3), stats_spread.outcome_probabilities(truth[0] + effects[g], lo, hi, 0.0))
    counts = per_prompt.sum(axis=1)
    estimated = stats_spread.prompt_spread(per_prompt, 4)
    assert estimated is not None
    planned = replace_spread(design, estimated)
    predicted = forecast.forecast(planned, counts=counts, prompt_counts=per_prompt, n_models=4, runs=80, seed=3)
    realised = forecast.simulate(truth, design, runs=80, seed=9, start_prompt_counts=per_prompt).comparisons
    assert 0.75 <= predicted.median / np.median(realised) <= 1.25, (predicted, np.median(realised))
    covered = np.mean((realised >= predicted.low) & (realised <= predicted.high))
    assert covered >= 0.8, (covered, predicted)


def replace_spread(design, spread):
    from dataclasses import replace

    return replace(design, prompt_sd=spread)


def _pilot(spread_elo: float, seed: int, *, n_models: int = 6, prompts: int = 16, per_cell: int = 2) -> np.ndarray:
    """A pilot's votes per prompt float[1, G, P, 3]: per_cell votes per model pair and prompt."""
    rng = np.random.default_rng(seed)
    truth = forecast.strengths_from_elo([[150.0 * i for i in range(n_models)]])[0]
    lo, hi = sampling.pair_index(n_models)
    effects = rng.normal(0.0, spread_elo / sampling.ELO_PER_UNIT, (prompts, n_models))
    per_prompt = np.zeros((1, prompts, lo.size, 3))
    for g in range(prompts):
        per_prompt[0, g] = rng.multinomial(np.full(lo.size, per_cell), stats_spread.outcome_probabilities(truth + effects[g], lo, hi, 0.1))
    return per_prompt


def test_calibrated_prompt_spread_removes_the_moment_estimates_bias():
    """On small pilots the moment estimate of the prompt variance comes out low where prompts
    differ (80 Elo); the simulation-calibrated estimate is on average near the truth, and its
    posterior sits lower where prompts do not differ than where they do."""
    raw, calibrated, medians = [], [], {}
    for spread_elo in (0.0, 80.0):
        draws = []
        for seed in range(20):
            estimate = stats_spread.calibrated_prompt_spread(_pilot(spread_elo, seed, per_cell=4), 6, sims=30, seed=seed)
            assert estimate is not None and estimate.variance >= 0.0 and estimate.se > 0.0
            draws.append(np.median(estimate.draws(200, seed)) * sampling.ELO_PER_UNIT)
            if spread_elo:
                raw.append(estimate.raw * sampling.ELO_PER_UNIT**2)
                calibrated.append(estimate.variance * sampling.ELO_PER_UNIT**2)
        medians[spread_elo] = np.median(draws)
    truth = 80.0**2
    assert abs(np.mean(calibrated) - truth) < abs(np.mean(raw) - truth), (np.mean(calibrated), np.mean(raw))
    assert 0.7 * truth <= np.mean(calibrated) <= 1.3 * truth, calibrated
    assert medians[0.0] < medians[80.0], medians


def test_forecast_draws_each_runs_spread_from_the_estimate():
    """A spread estimate whose posterior is all at zero forecasts as a design without a spread;
    one at 80 Elo needs more comparisons (or ends undecidable sooner) on close models."""
    design = forecast.StudyDesign(sampling="adaptive", budget=8_000, look_every=100, unit="prompt", prompts=16)
    elo = [[0, 40, 80, 120]]
    none = stats_spread.SpreadEstimate(variance=0.0, se=0.0, raw=0.0, grid=(0.0, 0.1), posterior=(1.0, 0.0))
    assert forecast.forecast(design, elo=elo, runs=20, seed=2, spread=none) == forecast.forecast(design, elo=elo, runs=20, seed=2)
    wide = stats_spread.SpreadEstimate(variance=0.21, se=0.0, raw=0.21, grid=(0.46, 0.47), posterior=(1.0, 0.0))
    spread = forecast.forecast(design, elo=elo, runs=20, seed=2, spread=wide)
    plain = forecast.forecast(design, elo=elo, runs=20, seed=2)
    assert spread.median != plain.median or spread.undecidable > plain.undecidable, (spread, plain)
