"""What a study's estimates converge to and how a stop biases them: the population's Bradley-Terry
strengths (the limit of the fit as prompts and raters grow, under uniform serving) and the
stopping's selection bias simulated at an estimate (Whitehead 1986), for the stop's table and the
sampling benchmark. Pure NumPy.
"""

from __future__ import annotations

import numpy as np

from . import sampling
from .bradley_terry import fit_bradley_terry
from .forecast import StudyDesign, simulate


def population_strengths(truth: np.ndarray, spread: float, *, tie_share: float = 0.0, nodes: int = 40) -> np.ndarray:
    """float[..., M]: the Bradley-Terry strengths of the population of prompts (and raters):
    the fit, under a uniform design, to the win probabilities averaged over per-prompt strengths
    that vary around ``truth`` with standard deviation ``spread`` per model (natural units), a
    tie (``tie_share`` of votes) counting half a win as in the fit. This is what a study's
    estimate converges to as prompts grow (flatter than ``truth`` when spread > 0 or ties are
    allowed; the same order)."""
    truth = np.asarray(truth, dtype=np.float64)
    n_models = truth.shape[-1]
    lo, hi = sampling.pair_index(n_models)
    points, weights = np.polynomial.hermite_e.hermegauss(nodes)
    weights = weights / weights.sum()
    diff = truth[..., lo] - truth[..., hi]
    spread_diff = np.sqrt(2.0) * spread
    p = (weights * (1.0 / (1.0 + np.exp(-(diff[..., None] + spread_diff * points))))).sum(axis=-1)
    p = (1.0 - tie_share) * p + 0.5 * tie_share
    games = np.full(diff.shape, 1e6)
    flat_p, flat_games = p.reshape(-1, lo.size), games.reshape(-1, lo.size)
    strength, _ = fit_bradley_terry(flat_p * flat_games, flat_games, lo, hi, n_models)
    return strength.reshape(truth.shape)


def stopping_bias(strength: np.ndarray, design: StudyDesign, *, runs: int = 40, seed: int | None = 0) -> np.ndarray:
    """float[C, M]: the bias of the strengths a study reports at its stop, simulated at
    ``strength`` (float[C, M], natural units): the mean estimate at the stop of ``runs`` studies
    under ``design`` minus ``strength``. A study stopped by a rule reports, for the pairs that had
    just crossed the boundary, gaps that came out large by selection (Whitehead, "On the bias of
    maximum likelihood estimation following a sequential test", Biometrika 1986); ``strength -
    stopping_bias(strength)`` is Whitehead's bias-adjusted estimate, one step of its fixed point."""
    strength = np.asarray(strength, dtype=np.float64)
    truth = strength - strength.mean(axis=-1, keepdims=True)
    result = simulate(truth, design, runs=runs, seed=seed)
    # Against what the fit converges to in that world (ties and prompts flatten it), so that only
    # the stopping's selection is left.
    target = population_strengths(truth, np.hypot(design.prompt_sd, design.rater_sd), tie_share=design.tie_share)
    return (result.strength - target).mean(axis=0)
