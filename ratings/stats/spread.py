"""The prompt spread: how much a model's strength varies across prompts, estimated from votes per
prompt (a pilot's, an earlier study's, or the study's own), for the forecast and the stop's bias
adjustment. The moment estimate (the prompt-clustered minus the per-vote sandwich variance) and
its calibration by simulation (indirect inference) with the spread's posterior on a grid, which
the forecast draws each simulated run's spread from; and the model of one vote both simulate
(``outcome_probabilities``). Pure NumPy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import sampling
from .sandwich import difference_variance


def outcome_probabilities(strength: np.ndarray, lo: np.ndarray, hi: np.ndarray, tie_share: float) -> np.ndarray:
    """float[..., P, 3]: P(lo wins), P(hi wins), P(tie) of one vote under Bradley-Terry."""
    p_lo = 1.0 / (1.0 + np.exp(strength[..., hi] - strength[..., lo]))
    decisive = 1.0 - tie_share
    return np.stack([decisive * p_lo, decisive * (1.0 - p_lo), np.full_like(p_lo, tie_share)], axis=-1)


def prompt_spread(prompt_counts: np.ndarray, n_models: int) -> float | None:
    """The standard deviation (natural units) of a model's strength across prompts, estimated
    from votes per prompt float[C, G, P, 3] (the moment estimate ``prompt_variance_moment``
    floored at zero; biased: see ``calibrated_prompt_spread``). None with fewer than three
    prompts with votes."""
    prompt_counts = np.asarray(prompt_counts, dtype=np.float64)
    if int((prompt_counts.sum(axis=(0, 2, 3)) > 0).sum()) < 3:
        return None
    return float(np.sqrt(max(float(prompt_variance_moment(prompt_counts, n_models)), 0.0)))


def prompt_variance_moment(prompt_counts: np.ndarray, n_models: int) -> np.ndarray:
    """float[...]: the moment estimate (not floored: it can be negative) of a model's variance
    across prompts, natural units squared, from votes per prompt float[..., C, G, P, 3]: the
    prompt-clustered minus the per-vote sandwich variance of every pair's difference is Var over
    prompts of the difference / G, and that variance is twice a model's (models independent).
    Each pair's excess is weighed by the inverse square of its variance (far pairs, whose outcomes
    are all but certain, say little) and averaged before any floor (flooring each pair's noisy
    excess would bias the spread up where prompts do not differ)."""
    prompt_counts = np.asarray(prompt_counts, dtype=np.float64)
    clusters = np.maximum((prompt_counts.sum(axis=(-4, -2, -1)) > 0).sum(axis=-1), 2)  # [...]
    lo, hi = sampling.pair_index(n_models)
    model_fit = sampling.fit(prompt_counts.sum(axis=-3), lo, hi, n_models, clustered=((prompt_counts, 1.0),))
    played = prompt_counts.sum(axis=(-3, -1)) > 0  # [..., C, P]
    pairs = (np.broadcast_to(lo, played.shape), np.broadcast_to(hi, played.shape))
    model_based = difference_variance(model_fit.per_vote, *pairs)
    excess = difference_variance(model_fit.robust, *pairs) - model_based
    weight = np.where(played, 1.0 / model_based**2, 0.0)
    between = (weight * excess).sum(axis=(-1, -2)) / np.maximum(weight.sum(axis=(-1, -2)), 1e-300) * (clusters - 1)
    # Ties scored 1/2 flatten the fitted scale by about the decisive share: back to the raters' scale.
    ties = prompt_counts[..., 2].sum(axis=(-1, -2, -3)) / np.maximum(prompt_counts.sum(axis=(-1, -2, -3, -4)), 1.0)
    return between / np.maximum(1.0 - ties, 0.1) ** 2 / 2.0


@dataclass(frozen=True)
class SpreadEstimate:
    """A prompt spread calibrated by simulation: ``variance`` (natural units squared, >= 0, the
    spread whose mean moment estimate is the observed one) and its standard error; ``sd`` its
    square root; ``raw`` the uncalibrated moment estimate; ``grid`` / ``posterior`` the spread's
    posterior on a grid of standard deviations (flat prior on the standard deviation, the moment
    estimate's simulated normal likelihood)."""

    variance: float
    se: float
    raw: float
    grid: tuple = ()
    posterior: tuple = ()

    @property
    def sd(self) -> float:
        return float(np.sqrt(max(self.variance, 0.0)))

    def draws(self, runs: int, seed: int | None = 0) -> np.ndarray:
        """float[runs]: spreads (standard deviations) drawn from the posterior (a spread
        estimated as zero still gives some runs a positive one, as the votes allow)."""
        rng = np.random.default_rng(seed)
        if not self.grid:
            return np.sqrt(np.maximum(rng.normal(self.variance, self.se, runs), 0.0))
        grid, weight = np.asarray(self.grid), np.asarray(self.posterior)
        step = grid[1] - grid[0]
        chosen = rng.choice(grid, size=runs, p=weight)
        return np.where(chosen > 0.0, np.maximum(chosen + rng.uniform(-0.5, 0.5, runs) * step, 0.0), 0.0)


SPREAD_GRID = np.array([0.0, 0.1, 0.2, 0.3, 0.45, 0.6, 0.8, 1.0])  # natural units (0-174 Elo)


def calibrated_prompt_spread(prompt_counts: np.ndarray, n_models: int, *, sims: int = 40, seed: int | None = 0) -> SpreadEstimate | None:
    """The prompt spread of ``prompt_counts`` (float[C, G, P, 3]) with the moment estimate's bias
    removed by simulation (indirect inference): the same votes per prompt and pair are simulated
    at the fitted strengths for each spread of ``SPREAD_GRID``, ``sims`` times each, and the
    spread whose mean moment estimate equals the observed one is the estimate (zero below the
    grid's; the variance's standard error from the simulated estimates' spread there). The raw
    estimate is pulled down by the heterogeneity it measures (the pooled fit's per-vote variance
    overstates each prompt's) and is noisy on a small pilot: both are in the simulation. None
    with fewer than three prompts with votes."""
    prompt_counts = np.asarray(prompt_counts, dtype=np.float64)
    if int((prompt_counts.sum(axis=(0, 2, 3)) > 0).sum()) < 3:
        return None
    raw = float(prompt_variance_moment(prompt_counts, n_models))
    lo, hi = sampling.pair_index(n_models)
    n_criteria, n_prompts = prompt_counts.shape[:2]
    strength = sampling.fit(prompt_counts.sum(axis=1), lo, hi, n_models).strength  # [C, M]
    totals = prompt_counts.sum(axis=-1)  # [C, G, P]
    tie_share = float(prompt_counts[..., 2].sum() / max(prompt_counts.sum(), 1.0))
    rng = np.random.default_rng(seed)
    means, sds = [], []
    for spread in SPREAD_GRID:
        effects = rng.normal(0.0, spread, (sims, n_criteria, n_prompts, n_models)) if spread else np.zeros((sims, n_criteria, n_prompts, n_models))
        # The pooled fit is flatter than the per-prompt strengths by about the logistic-normal
        # factor (a difference varying by sqrt(2) * spread): simulate around the steeper means.
        steeper = strength * np.sqrt(1.0 + np.pi * 2.0 * spread**2 / 8.0)
        p = outcome_probabilities(steeper[None, :, None, :] + effects, lo, hi, min(tie_share, 0.9))  # [S, C, G, P, 3]
        simulated = rng.multinomial(np.broadcast_to(totals, (sims, *totals.shape)).astype(np.int64), p).astype(np.float64)
        estimates = prompt_variance_moment(simulated, n_models)
        means.append(float(np.mean(estimates)))
        sds.append(float(np.std(estimates, ddof=1)))
    means, sds, grid = np.maximum.accumulate(np.array(means)), np.array(sds), SPREAD_GRID**2
    if raw <= means[0]:
        variance = 0.0
    elif raw >= means[-1]:
        slope = max((means[-1] - means[-2]) / (grid[-1] - grid[-2]), 1e-6)
        variance = grid[-1] + (raw - means[-1]) / slope
    else:
        variance = float(np.interp(raw, means, grid))
    # The estimate's noise at that spread, carried to the variance's scale by the calibration's
    # slope (fitted over the whole grid: the moment estimate is about linear in the variance).
    slope = max(float(np.polyfit(grid, means, 1)[0]), 1e-3)
    se = float(np.interp(variance, grid, sds)) / slope
    fine = np.linspace(0.0, SPREAD_GRID[-1], 81)
    mean_fine = np.interp(fine**2, grid, means)
    sd_fine = np.maximum(np.interp(fine**2, grid, sds), 1e-12)
    log_like = -0.5 * ((raw - mean_fine) / sd_fine) ** 2 - np.log(sd_fine)
    weight = np.exp(log_like - log_like.max())
    weight /= weight.sum()
    return SpreadEstimate(variance=float(variance), se=se, raw=raw, grid=tuple(fine.tolist()), posterior=tuple(weight.tolist()))
