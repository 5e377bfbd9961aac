"""The simulated decided rule (ratings/stats/versus.py simulate_decided): the anytime-valid
decisions read at every look keep the error at the margin under alpha however often they are
read, and the per-model forecast orders models by how close they are to the margin."""

from __future__ import annotations

import numpy as np
import pytest

from ratings.stats.versus import simulate_decided


def test_peeking_at_every_look_keeps_the_error_at_the_margin_under_alpha():
    # A model exactly at 0.5 - delta: declaring it better, equivalent or non-inferior is an error.
    # The study stops at its first decision after a look every 25 comparisons (120 looks).
    result = simulate_decided([0.45], margin=0.05, alpha=0.05, look_every=25, budget=3000, sampling="uniform", runs=200, seed=3)
    wrong = np.isin(result.decisions[:, 0], ["better", "equivalent", "non-inferior"]).mean()
    assert wrong <= 0.05, wrong
    # A fixed-sample interval read as often would err far more often: the rule is not vacuous.
    assert result.budget_hit.mean() < 1.0 or wrong == 0.0


def test_peeking_on_prompts_clustered_keeps_the_error_at_the_margin_under_alpha():
    result = simulate_decided([0.45, 0.7], margin=0.05, alpha=0.05, look_every=50, budget=3000, unit="prompt", prompts=40,
                              prompt_sd=0.3, runs=150, seed=5)
    wrong = np.isin(result.decisions[:, 0], ["better", "equivalent", "non-inferior"]).mean()
    assert wrong <= 0.05, wrong
    assert (result.decisions[:, 1] == "better").mean() > 0.9  # a clearly better model is decided


def test_the_per_model_forecast_puts_far_models_first_and_the_adaptive_rule_stops_sooner():
    rates = [0.25, 0.53, 0.75]
    adaptive = simulate_decided(rates, budget=20_000, look_every=100, runs=40, seed=1)
    uniform = simulate_decided(rates, budget=20_000, look_every=100, runs=40, seed=1, sampling="uniform")
    rows = adaptive.per_model(["far below", "close above", "far above"])
    assert [row["model"] for row in rows] == ["far below", "close above", "far above"]
    assert rows[1]["median"] > max(rows[0]["median"], rows[2]["median"])
    assert all(row["low"] <= row["median"] <= row["high"] for row in rows)
    assert adaptive.stop.mean() < uniform.stop.mean()
    with pytest.raises(ValueError, match="comparison or prompt"):
        simulate_decided(rates, unit="rater")
