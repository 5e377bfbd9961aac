"""`Ratings`: what every estimator returns, one point estimate and its draws per criterion."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

BOOTSTRAP = "bootstrap percentile interval"
ORDERINGS = "spread over orderings (not a confidence interval)"


def nan_percentiles(draws: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval over axis 0 that ignores NaN draws (a model absent from a round)."""
    tail = 50.0 * (1.0 - level)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices: no votes, interval NaN
        if not np.isnan(draws).any():
            low, high = np.percentile(draws, [tail, 100.0 - tail], axis=0)
        else:
            low, high = np.nanpercentile(draws, [tail, 100.0 - tail], axis=0)
    return low, high


def nan_mean(values: np.ndarray, axis) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(values, axis=axis)


def combined_criteria(criterion_names: Sequence[str], mean_of: Sequence[str] | None = None) -> list[int]:
    """The indices of the criteria the combined rating ("mean") averages: every criterion when
    `mean_of` is None, else those of `mean_of` that are among `criterion_names`, in their order.
    A study's set criteria (variety of a model's images across seeds) are rated on their own and
    left out: ADD's headline rating is the mean of the two pair questions only."""
    if mean_of is None:
        return list(range(len(criterion_names)))
    wanted = set(mean_of)
    return [c for c, name in enumerate(criterion_names) if name in wanted]


def interval_ranks(low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """rank = 1 + the number of models whose lower bound is above this model's upper bound.

    Works on the last axis; NaN bounds (a model without votes) give rank 0, meaning unranked."""
    above = low[..., None, :] > high[..., :, None]  # [..., i, j]: j's lower bound above i's upper
    ranks = 1 + above.sum(axis=-1)
    return np.where(np.isnan(low) | np.isnan(high), 0, ranks)


@dataclass(frozen=True)
class Ratings:
    """Per-criterion ratings with draws from which intervals and the combined rating come.

    rating: float[C, M], the point estimate (NaN for a model without votes on a criterion).
    draws: float[R, C, M], one row per bootstrap round (Bradley-Terry, win rate) or per ordering
        (Elo); every round uses the same resampled comparisons for all criteria, so the combined
        rating's draws are the per-criterion draws averaged over criteria.
    votes: int[C, M], the votes each model took part in.
    """

    method: str
    model_names: tuple[str, ...]
    criterion_names: tuple[str, ...]
    rating: np.ndarray
    draws: np.ndarray
    votes: np.ndarray
    interval_kind: str
    level: float = 0.95
    #: Bradley-Terry only: whether the fit on all votes has a finite maximum likelihood, and how
    #: many bootstrap rounds have none (a model won or lost all its games in that round).
    converged: bool = True
    unconverged_rounds: int = 0
    #: The resampling unit of the bootstrap: "comparison", "prompt" or "rater".
    resample: str = "comparison"
    #: Online Elo only: float[O, C, M], the final ratings of each ordering of all votes.
    ordering_draws: np.ndarray | None = None

    @property
    def ordering_spread(self) -> tuple | None:
        """`ordering_spread_of()`, the combined rating over every criterion."""
        return self.ordering_spread_of()

    def ordering_spread_of(self, mean_of: Sequence[str] | None = None) -> tuple | None:
        """Online Elo only: (low, high) float[C, M] and (low, high) float[M] of the combined
        rating over `mean_of` (see `combined_criteria`): the central `level` spread over orderings
        of all votes (order dependence, not a confidence interval)."""
        if self.ordering_draws is None:
            return None
        low, high = nan_percentiles(self.ordering_draws, self.level)
        chosen = combined_criteria(self.criterion_names, mean_of)
        return (low, high, *nan_percentiles(self.ordering_draws[:, chosen].mean(axis=1), self.level))

    def interval(self) -> tuple[np.ndarray, np.ndarray]:
        """(low, high), float[C, M]: the central `level` percentile interval of the draws."""
        return nan_percentiles(self.draws, self.level)

    def combined(self, mean_of: Sequence[str] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(rating, low, high), float[M]: the mean over the criteria of `mean_of` (None: every
        criterion; see `combined_criteria`), as ADD reports it, its interval from the per-draw
        means. A model missing on any of those criteria gets NaN."""
        chosen = combined_criteria(self.criterion_names, mean_of)
        rating = self.rating[chosen].mean(axis=0)
        low, high = nan_percentiles(self.draws[:, chosen].mean(axis=1), self.level)
        return rating, low, high

    def ranks(self) -> np.ndarray:
        """int[C, M], see `interval_ranks`."""
        return interval_ranks(*self.interval())
