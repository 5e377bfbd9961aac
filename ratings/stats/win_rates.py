"""Win-rate matrices and mean win rates with bootstrap percentile intervals."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .arrays import VoteArrays
from .ratings import BOOTSTRAP, Ratings, combined_criteria, nan_mean, nan_percentiles
from .resample import HI_WINS, LO_WINS, TIES, PairCounts, few_cluster_scale, pair_counts, resampled_clusters, spread_draws

TIE_RULES = ("half", "exclude")


@dataclass(frozen=True)
class WinRates:
    """matrix: float[C, M, M], matrix[c, i, j] = how often i beat j on criterion c (NaN on the
    diagonal and for pairs never compared); low, high: its bootstrap percentile interval;
    mean: `Ratings` of each model's mean win rate against the models it met."""

    model_names: tuple[str, ...]
    criterion_names: tuple[str, ...]
    matrix: np.ndarray
    low: np.ndarray
    high: np.ndarray
    mean: Ratings
    #: The matrix averaged over the criteria of `mean_of` (as ADD reports) and its bootstrap interval.
    mean_low: np.ndarray | None = None
    mean_high: np.ndarray | None = None


def win_rate_matrix(counts: np.ndarray, lo: np.ndarray, hi: np.ndarray, n_models: int, ties: str = "half") -> np.ndarray:
    """float[..., M, M] from pair counts float[..., P, 3]: ties count half (ties="half") or are
    left out of numerator and denominator (ties="exclude")."""
    if ties not in TIE_RULES:
        raise ValueError(f"ties must be one of {TIE_RULES}, got {ties!r}")
    lo_wins, hi_wins, tied = counts[..., LO_WINS], counts[..., HI_WINS], counts[..., TIES]
    if ties == "half":
        won, played = lo_wins + 0.5 * tied, lo_wins + hi_wins + tied
    else:
        won, played = lo_wins, lo_wins + hi_wins
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = won / played
    matrix = np.full((*counts.shape[:-2], n_models, n_models), np.nan)
    matrix[..., lo, hi] = rate
    matrix[..., hi, lo] = 1.0 - rate
    return matrix


def win_rates(
    votes: VoteArrays,
    rounds: int = 1000,
    seed: int | None = 0,
    *,
    ties: str = "half",
    resample: str = "comparison",
    level: float = 0.95,
    mean_of: Sequence[str] | None = None,
) -> WinRates:
    """Pairwise win rates per criterion with bootstrap percentile intervals.

    Protocol: the win-rate matrices of the ADD / LADD user studies; a tie counts half a win
    (ties="half", default) or is left out (ties="exclude"). `rounds` (default 1000) bootstrap
    rounds resample comparisons, or prompts / raters (resample="prompt" | "rater", a cluster bootstrap) with
    replacement, the same draw for all criteria; intervals are central `level` percentiles (a
    cluster bootstrap's draws spread by `resample.few_cluster_scale`: few clusters).
    A model's mean win rate averages its win rates against the models it met (0 to 1).
    `mean_low`, `mean_high` are the interval of the matrix averaged over the criteria of `mean_of`
    (None: every criterion; a study passes its pair criteria, leaving its set criteria out).
    Memory: the draws hold R x C x M x M floats (1000 x 2 x 20 x 20 = 6 MB).
    """
    tables: PairCounts = pair_counts(votes, rounds, np.random.default_rng(seed), resample)
    args = (tables.lo, tables.hi, votes.n_models, ties)
    matrix = win_rate_matrix(tables.counts, *args)
    matrix_draws = win_rate_matrix(tables.draws, *args) if rounds > 0 else matrix[None]
    if rounds > 0:  # a cluster bootstrap's few-cluster correction (`resample.few_cluster_scale`), kept within [0, 1]
        scale = few_cluster_scale(resampled_clusters(votes, resample), level)
        matrix_draws = np.clip(spread_draws(matrix, matrix_draws, scale), 0.0, 1.0) if scale != 1.0 else matrix_draws
    low, high = nan_percentiles(matrix_draws, level)
    mean = Ratings(
        method="winrate",
        model_names=votes.model_names,
        criterion_names=votes.criterion_names,
        rating=nan_mean(matrix, axis=-1),
        draws=nan_mean(matrix_draws, axis=-1),
        votes=votes.votes_per_model(),
        interval_kind=BOOTSTRAP,
        level=level,
        resample="prompt" if resample == "cluster" else resample,
    )
    chosen = combined_criteria(votes.criterion_names, mean_of)
    mean_low, mean_high = nan_percentiles(nan_mean(matrix_draws[..., chosen, :, :], axis=-3), level)
    return WinRates(votes.model_names, votes.criterion_names, matrix, low, high, mean, mean_low, mean_high)
