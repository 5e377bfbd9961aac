"""Votes-needed forecasts: whole studies simulated under their sampling and stopping rules.

A simulated study is the real rule run on simulated votes: raters answer every criterion of a
shown pair by Bradley-Terry with known strengths (a share of ties where ties are allowed); every
`look_every` comparisons the study is refitted, the stopping rule is checked and, for adaptive
sampling, the pair weights are recomputed (`sampling.pair_weights`), as the study's background
task does. Many runs go in lockstep so each look is one batched fit. The forecast before launch
starts from assumed strengths; during a study it starts from the votes so far, each run drawing
its true strengths from the fit's approximate posterior, so the range reflects what is still
unknown. Pure NumPy, no Django.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import sampling

SAMPLING_RULES = ("uniform", "adaptive")


@dataclass(frozen=True)
class StudyDesign:
    """What a simulated study does: its sampling and stopping rules and its cap."""

    sampling: str = "uniform"
    stop_when: str = "separated"
    alpha: float = 0.05
    top_k: int | None = None
    width: float | None = None
    budget: int = 20_000
    exploration: float = 0.2
    look_every: int = 50
    tie_share: float = 0.0

    def __post_init__(self) -> None:
        if self.sampling not in SAMPLING_RULES:
            raise ValueError(f"sampling must be one of {', '.join(SAMPLING_RULES)}, got {self.sampling!r}")
        if self.stop_when not in ("separated", "width"):
            raise ValueError(f"a simulated study stops when 'separated' or 'width', got {self.stop_when!r}")
        if self.budget < 1 or self.look_every < 1:
            raise ValueError("budget and look_every must be positive numbers of comparisons")
        if not 0.0 <= self.tie_share < 1.0:
            raise ValueError(f"tie_share must lie in [0, 1), got {self.tie_share}")


@dataclass(frozen=True)
class Simulation:
    """Per run: comparisons used, whether the rule (not the budget) stopped it, and the adjacent
    pairs it declared separated and how many of those are in the wrong order."""

    comparisons: np.ndarray  # int[R]
    stopped: np.ndarray  # bool[R]
    declared: np.ndarray  # int[R]
    wrong_order: np.ndarray  # int[R]


def outcome_probabilities(strength: np.ndarray, lo: np.ndarray, hi: np.ndarray, tie_share: float) -> np.ndarray:
    """float[..., P, 3]: P(lo wins), P(hi wins), P(tie) of one vote under Bradley-Terry."""
    p_lo = 1.0 / (1.0 + np.exp(strength[..., hi] - strength[..., lo]))
    decisive = 1.0 - tie_share
    return np.stack([decisive * p_lo, decisive * (1.0 - p_lo), np.full_like(p_lo, tie_share)], axis=-1)


def simulate(
    truth: np.ndarray,
    design: StudyDesign,
    *,
    runs: int = 100,
    seed: int | None = 0,
    start_counts: np.ndarray | None = None,
) -> Simulation:
    """Run `runs` simulated studies. truth: float[C, M] (one set of strengths, natural units, for
    every run) or float[R, C, M] (one per run); start_counts: float[C, P, 3] of votes already in
    (pairs in `sampling.pair_index` order), which every run starts from; comparisons count only
    the new ones."""
    rng = np.random.default_rng(seed)
    truth = np.asarray(truth, dtype=np.float64)
    if truth.ndim == 2:
        truth = np.broadcast_to(truth, (runs, *truth.shape))
    if truth.shape[0] != runs:
        raise ValueError(f"truth has {truth.shape[0]} runs of strengths, expected {runs}")
    n_criteria, n_models = truth.shape[1:]
    if n_models < 2:
        raise ValueError("a study needs at least two models")
    lo, hi = sampling.pair_index(n_models)
    n_pairs = lo.size
    probabilities = outcome_probabilities(truth, lo, hi, design.tie_share)  # [R, C, P, 3]
    counts = np.zeros((runs, n_criteria, n_pairs, 3))
    if start_counts is not None:
        counts += np.asarray(start_counts, dtype=np.float64)
    weights = np.full((runs, n_pairs), 1.0 / n_pairs)
    if design.sampling == "adaptive" and start_counts is not None and np.asarray(start_counts).sum() > 0:
        weights = sampling.pair_weights(
            sampling.fit(counts, lo, hi, n_models), exploration=design.exploration, alpha=design.alpha, top_k=design.top_k
        )
    used = np.zeros(runs, dtype=np.int64)
    stopped = np.zeros(runs, dtype=bool)
    declared = np.zeros(runs, dtype=np.int64)
    wrong = np.zeros(runs, dtype=np.int64)
    active = np.arange(runs)
    while active.size:
        batch = np.minimum(design.look_every, design.budget - used[active])
        shown = rng.multinomial(batch, weights[active])  # [A, P] comparisons per pair
        per_criterion = np.broadcast_to(shown[:, None, :], (active.size, n_criteria, n_pairs))
        counts[active] += rng.multinomial(per_criterion, probabilities[active])
        used[active] += batch
        model_fit = sampling.fit(counts[active], lo, hi, n_models)
        result = sampling.separation(model_fit, alpha=design.alpha, top_k=design.top_k)
        if design.stop_when == "separated":
            met = result.decided().all(axis=-1)
        else:
            met = (2.0 * result.half_width < design.width).all(axis=(-1, -2))
        out_of_budget = used[active] >= design.budget
        finished = met | out_of_budget
        if finished.any():
            done = active[finished]
            stopped[done] = met[finished]
            claimed = result.separated & result.considered  # [A, C, K]
            true_upper = np.take_along_axis(truth[active], result.upper, axis=-1)
            true_lower = np.take_along_axis(truth[active], result.lower, axis=-1)
            declared[done] = claimed[finished].sum(axis=(-1, -2))
            wrong[done] = (claimed & (true_upper < true_lower))[finished].sum(axis=(-1, -2))
        keep = ~finished
        if design.sampling == "adaptive" and keep.any():
            kept_fit = sampling.Fit(model_fit.strength[keep], model_fit.covariance[keep], lo, hi, model_fit.games[keep])
            weights[active[keep]] = sampling.pair_weights(
                kept_fit, exploration=design.exploration, alpha=design.alpha, top_k=design.top_k
            )
        active = active[keep]
    return Simulation(comparisons=used, stopped=stopped, declared=declared, wrong_order=wrong)


def strengths_from_elo(elo) -> np.ndarray:
    """Elo ratings (float[C, M] or float[M], any offset) as natural-unit strengths float[C, M]."""
    elo = np.atleast_2d(np.asarray(elo, dtype=np.float64))
    return (elo - elo.mean(axis=-1, keepdims=True)) / sampling.ELO_PER_UNIT


def posterior_draws(counts: np.ndarray, n_models: int, runs: int, seed: int | None = 0) -> np.ndarray:
    """float[R, C, M]: strengths drawn from the fit's normal approximation to the posterior."""
    lo, hi = sampling.pair_index(n_models)
    model_fit = sampling.fit(counts, lo, hi, n_models)
    rng = np.random.default_rng(seed)
    draws = np.stack(
        [rng.multivariate_normal(model_fit.strength[c], model_fit.covariance[c], size=runs, method="eigh")
         for c in range(model_fit.strength.shape[0])],
        axis=1,
    )
    return draws - draws.mean(axis=-1, keepdims=True)


@dataclass(frozen=True)
class Forecast:
    """Comparisons a study needs (from now on), over simulated runs."""

    median: float
    low: float  # 5th percentile: the 90% range's lower end
    high: float  # 95th percentile
    budget_hits: float  # share of runs stopped by the budget, not the rule
    runs: int

    def as_dict(self, *, price_per_vote: float | None = None, crowd_size: int | None = None,
                seconds_per_vote: float | None = None) -> dict:
        """The forecast with cost (price per comparison) and wall time (a crowd of that many raters
        answering one comparison every `seconds_per_vote`), where those are given."""
        document = {
            "comparisons": {"median": self.median, "low": self.low, "high": self.high, "range": "90%"},
            "budget_hits": self.budget_hits,
            "runs": self.runs,
        }
        if price_per_vote is not None:
            document["cost"] = {key: round(value * price_per_vote, 2) for key, value in document["comparisons"].items() if key != "range"}
        if crowd_size and seconds_per_vote:
            document["hours"] = {
                key: round(value * seconds_per_vote / crowd_size / 3600.0, 2)
                for key, value in document["comparisons"].items() if key != "range"
            }
        return document


def forecast(
    design: StudyDesign,
    *,
    elo=None,
    counts: np.ndarray | None = None,
    prior_counts: np.ndarray | None = None,
    n_models: int | None = None,
    runs: int = 200,
    seed: int | None = 0,
) -> Forecast:
    """Comparisons still needed: from assumed ratings `elo` (float[C, M] or float[M], Elo points)
    before launch, or from `counts` (float[C, P, 3], the votes so far) during a study.
    `prior_counts` (same shape: a pilot's votes on the same models) join `counts` in drawing the
    true strengths but not the stopping rule: every run starts from `counts` alone."""
    if prior_counts is not None and counts is None:
        counts = np.zeros_like(prior_counts, dtype=np.float64)
    if counts is not None:
        if n_models is None:
            raise ValueError("a forecast from votes needs n_models")
        evidence = counts if prior_counts is None else counts + prior_counts
        truth = posterior_draws(evidence, n_models, runs, seed)
        result = simulate(truth, design, runs=runs, seed=seed, start_counts=counts)
    elif elo is not None:
        truth = strengths_from_elo(elo)
        result = simulate(truth, design, runs=runs, seed=seed)
    else:
        raise ValueError("a forecast needs assumed ratings (elo) or the votes so far (counts)")
    needed = result.comparisons.astype(np.float64)
    low, median, high = np.percentile(needed, [5.0, 50.0, 95.0])
    return Forecast(
        median=float(median), low=float(low), high=float(high),
        budget_hits=float(np.mean(~result.stopped)), runs=runs,
    )
