"""Would an automated metric (CLIP score, PickScore) have told the same story as the raters?

- pairwise_accuracy(image_a, image_b, winner, score) -> PairwiseAccuracy: on the decisive human
  votes, the share where the metric scores the voted-for image higher, with a bootstrap interval
  (over votes, or over prompts when `cluster` is given).
- rank_correlation(metric_by_model, human_by_model) -> RankCorrelation: Spearman's rho and
  Kendall's tau between the metric's model ranking (its per-model mean) and the human one (the
  study's ratings).
- model_metric_means(model, prompt, score) -> PromptMeans: per model, the mean over prompts of
  the metric (seeds averaged first) with a bootstrap interval over prompts: the metric-only
  leaderboard (the ADM protocol) for a study with no votes yet.

A rater who is right with probability p on every pair bounds what any metric can reach against
those votes: a metric equal to the truth scores about p. Pure NumPy/SciPy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .over_prompts import PromptMeans, model_means
from .ratings import BOOTSTRAP, nan_percentiles


@dataclass(frozen=True)
class PairwiseAccuracy:
    """accuracy: the share of counted votes where the metric prefers the image the rater chose
    (a metric tie counts one half); low, high: its bootstrap percentile interval at `level`;
    votes: votes counted; metric_ties: among them, pairs the metric scores equal; skipped: votes
    left out (a human tie, or an image without a score)."""

    accuracy: float
    low: float
    high: float
    votes: int
    metric_ties: int
    skipped: int
    level: float
    resample: str
    interval_kind: str = BOOTSTRAP


def pairwise_accuracy(
    image_a, image_b, winner, score, *, cluster=None, rounds: int = 1000, seed: int = 0, level: float = 0.95,
) -> PairwiseAccuracy:
    """How often the metric agrees with decisive human votes.

    image_a, image_b: int[n], indices into `score` of the two images each vote compared.
    winner: float[n], 1 = image_a chosen, 0 = image_b chosen; 0.5 (a tie) or NaN is not decisive
        and is skipped, as are votes about an image whose score is NaN.
    score: float[n_images], the metric per image (higher = preferred).
    cluster: int[n] or None: resample these groups (the prompt of each vote) instead of votes,
        each drawn group bringing all its votes, so the interval speaks about prompts like these.
        Prefer it: votes that share an image are not independent (the metric scores the image
        once), and a vote-level interval is too narrow.
    The interval: `rounds` bootstrap rounds drawn at once (multinomial counts of units), central
    `level` percentiles of the rounds' accuracies.
    """
    image_a, image_b = np.asarray(image_a), np.asarray(image_b)
    winner, score = np.asarray(winner, dtype=np.float64), np.asarray(score, dtype=np.float64)
    if not (image_a.shape == image_b.shape == winner.shape) or winner.ndim != 1:
        raise ValueError(f"image_a, image_b and winner need the same 1-d shape, got {image_a.shape}, {image_b.shape}, {winner.shape}")
    if image_a.size and (min(image_a.min(), image_b.min()) < 0 or max(image_a.max(), image_b.max()) >= score.size):
        raise ValueError(f"image indices must lie in 0..{score.size - 1} (score has {score.size} images)")
    score_a, score_b = score[image_a], score[image_b]
    decisive = ((winner == 1.0) | (winner == 0.0)) & ~np.isnan(score_a) & ~np.isnan(score_b)
    chosen_higher = np.where(winner == 1.0, score_a - score_b, score_b - score_a)[decisive]
    agree = np.where(chosen_higher > 0, 1.0, np.where(chosen_higher == 0, 0.5, 0.0))
    n = int(decisive.sum())
    resample = "vote" if cluster is None else "prompt"
    if n == 0:
        nan = float("nan")
        return PairwiseAccuracy(nan, nan, nan, 0, 0, int(winner.size), level, resample)
    if cluster is None:
        unit = np.arange(n)
    else:
        cluster = np.asarray(cluster)
        if cluster.shape != winner.shape:
            raise ValueError(f"cluster needs the shape of winner {winner.shape}, got {cluster.shape}")
        _, unit = np.unique(cluster[decisive], return_inverse=True)
        unit = unit.reshape(-1)
    k = int(unit.max()) + 1
    agree_per_unit = np.bincount(unit, weights=agree, minlength=k)
    votes_per_unit = np.bincount(unit, minlength=k).astype(np.float64)
    low = high = float("nan")
    if rounds > 0:
        drawn = np.random.default_rng(seed).multinomial(k, np.full(k, 1.0 / k), size=rounds).astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            draws = (drawn @ agree_per_unit) / (drawn @ votes_per_unit)
        low, high = (float(v) for v in nan_percentiles(draws, level))
    return PairwiseAccuracy(
        accuracy=float(agree.mean()), low=low, high=high, votes=n, metric_ties=int((chosen_higher == 0).sum()),
        skipped=int(winner.size - n), level=level, resample=resample,
    )


@dataclass(frozen=True)
class RankCorrelation:
    """Spearman's rho and Kendall's tau-b between two per-model values over the models both rank
    (`models`), with scipy's two-sided p-values (NaN with fewer than three models)."""

    spearman: float
    spearman_p: float
    kendall: float
    kendall_p: float
    models: int


def rank_correlation(metric_by_model, human_by_model) -> RankCorrelation:
    """How alike the metric's model ranking (e.g. model_metric_means(...).mean) and the human one
    (e.g. Bradley-Terry ratings of one criterion) are; models with NaN on either side are left out.
    rho, tau = 1: the same order; -1: reversed."""
    from scipy.stats import kendalltau, spearmanr

    metric, human = np.asarray(metric_by_model, dtype=np.float64), np.asarray(human_by_model, dtype=np.float64)
    if metric.shape != human.shape or metric.ndim != 1:
        raise ValueError(f"both rankings need one value per model, got shapes {metric.shape} and {human.shape}")
    both = ~np.isnan(metric) & ~np.isnan(human)
    m = int(both.sum())
    nan = float("nan")
    if m < 2 or np.ptp(metric[both]) == 0 or np.ptp(human[both]) == 0:
        return RankCorrelation(nan, nan, nan, nan, m)
    rho, rho_p = spearmanr(metric[both], human[both])
    tau, tau_p = kendalltau(metric[both], human[both])
    if m < 3:
        rho_p = tau_p = nan
    return RankCorrelation(float(rho), float(rho_p), float(tau), float(tau_p), m)


def model_metric_means(model, prompt, score, *, n_models: int | None = None, rounds: int = 1000, seed: int = 0, level: float = 0.95) -> PromptMeans:
    """Per model, the metric's mean over prompts (one row per image: model index, prompt label,
    score; the seeds of a prompt averaged first) with a bootstrap percentile interval over
    prompts, the same prompts drawn for every model in a round."""
    return model_means(model, prompt, score, n_models=n_models, rounds=rounds, seed=seed, level=level)
