"""benchmarks/sampling.py's measures at the stop, in miniature: the leaderboard's prompt
bootstrap it rebuilds from votes per prompt, and the half-win fit's target under a design."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]


def load():
    spec = importlib.util.spec_from_file_location("sampling_benchmark_measures", ROOT / "benchmarks" / "sampling.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_own_design_target_is_the_population_strengths_under_uniform_serving_and_moves_with_the_design():
    from ratings.stats import at_stop, forecast, sampling

    bench = load()
    truth = forecast.strengths_from_elo([[0, 150, 290, 325, 470]])
    lo, _ = sampling.pair_index(5)
    uniform = np.zeros((1, 1, 1, lo.size, 3))
    uniform[..., 0] = 100.0  # only the games per pair matter
    spread = 80.0 / sampling.ELO_PER_UNIT
    population = at_stop.population_strengths(truth, spread, tie_share=0.1)
    own = bench.own_design_target(uniform, truth, spread, 0.1)
    np.testing.assert_allclose(own[0], population - population.mean(axis=-1, keepdims=True), atol=2e-3)
    adjacent = uniform.copy()
    adjacent[..., [0, 4, 7, 9], 0] = 2000.0  # pairs (0,1), (1,2), (2,3), (3,4): mostly adjacent pairs served
    moved = bench.own_design_target(adjacent, truth, 0.0, 0.1)
    still = bench.own_design_target(uniform, truth, 0.0, 0.1)
    assert np.ptp(moved) > np.ptp(still) + 0.02  # ties half a win: the target moves with the design
    assert np.allclose(bench.own_design_target(adjacent, truth, 0.0, 0.0), bench.own_design_target(uniform, truth, 0.0, 0.0), atol=1e-6)


def test_the_prompt_bootstrap_it_rebuilds_is_the_leaderboards():
    """The same votes as a VoteArrays through ``bradley_terry(resample="prompt")`` and as votes
    per prompt through the benchmark's rebuild give intervals of the same width (different draws:
    within bootstrap noise), both widened by the few-cluster correction."""
    from ratings.stats.arrays import VoteArrays
    from ratings.stats.bradley_terry import bradley_terry
    from ratings.stats.sampling import ELO_PER_UNIT, pair_index

    bench = load()
    rng = np.random.default_rng(2)
    n_models, n_prompts, per_cell = 4, 12, 15
    lo, hi = pair_index(n_models)
    strength = np.array([-0.6, -0.1, 0.2, 0.5])
    prompt = np.repeat(np.arange(n_prompts), lo.size * per_cell)
    pair = np.tile(np.repeat(np.arange(lo.size), per_cell), n_prompts)
    effect = rng.normal(0.0, 0.4, (n_prompts, n_models))
    diff = strength[lo[pair]] - strength[hi[pair]] + effect[prompt, lo[pair]] - effect[prompt, hi[pair]]
    lo_won = rng.random(prompt.size) < 1 / (1 + np.exp(-diff))
    votes = VoteArrays(lo[pair], hi[pair], lo_won.astype(float), tuple("abcd"), cluster=prompt)
    counts = np.zeros((1, 1, n_prompts, lo.size, 3))
    np.add.at(counts, (0, 0, prompt, pair, np.where(lo_won, 0, 1)), 1.0)
    low, high = bench.prompt_bootstrap_intervals(counts, rounds=2000, seed=1)
    ratings = bradley_terry(votes, 2000, 1, resample="prompt")
    board_low, board_high = np.percentile(ratings.draws, [2.5, 97.5], axis=0)
    np.testing.assert_allclose((high - low)[0, 0] * ELO_PER_UNIT, (board_high - board_low)[0], rtol=0.1)
