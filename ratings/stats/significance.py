"""Exact binomial tests for every pair of models, with Holm's correction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .arrays import VoteArrays
from .resample import HI_WINS, LO_WINS, TIES, pair_counts


def holm(p_values: np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error): the i-th smallest p times
    (m - i + 1), made monotone, capped at 1."""
    p_values = np.asarray(p_values, dtype=np.float64)
    m = p_values.size
    order = np.argsort(p_values, kind="stable")
    stepped = np.minimum(1.0, np.maximum.accumulate(p_values[order] * (m - np.arange(m))))
    adjusted = np.empty(m)
    adjusted[order] = stepped
    return adjusted


def binomial_two_sided(successes: np.ndarray, trials: np.ndarray) -> np.ndarray:
    """Exact two-sided binomial p-values under p = 1/2 (scipy's binomtest for p = 0.5): the
    distribution is symmetric, so p = min(1, 2 P(X <= min(k, n - k)))."""
    from scipy.special import bdtr

    successes, trials = np.asarray(successes, dtype=np.int64), np.asarray(trials, dtype=np.int64)
    tail = bdtr(np.minimum(successes, trials - successes), trials, 0.5)
    return np.where(trials > 0, np.minimum(1.0, 2.0 * tail), 1.0)


@dataclass(frozen=True)
class BinomialTests:
    """One test per compared pair (model_i < model_j) on one criterion; ties are left out, so
    n = wins_i + wins_j and H0 is P(i beats j) = 1/2. p_holm is Holm-adjusted over all pairs."""

    model_names: tuple[str, ...]
    criterion: str
    model_i: np.ndarray
    model_j: np.ndarray
    wins_i: np.ndarray
    wins_j: np.ndarray
    ties: np.ndarray
    p_value: np.ndarray
    p_holm: np.ndarray
    alpha: float

    @property
    def reject(self) -> np.ndarray:
        return self.p_holm < self.alpha

    def rows(self) -> list[dict[str, Any]]:
        names = self.model_names
        return [
            {
                "model_i": names[i], "model_j": names[j], "criterion": self.criterion,
                "wins_i": int(wi), "wins_j": int(wj), "ties": int(t),
                "p_value": float(p), "p_holm": float(ph), "significant": bool(ph < self.alpha),
            }
            for i, j, wi, wj, t, p, ph in zip(
                self.model_i, self.model_j, self.wins_i, self.wins_j, self.ties, self.p_value, self.p_holm
            )
        ]


def pairwise_binomial_tests(votes: VoteArrays, *, criterion: int | str = 0, alpha: float = 0.05) -> BinomialTests:
    """Exact binomial test (two-sided, H0: p = 1/2, ties left out) for every compared pair on
    one criterion, Holm-corrected over the pairs, as in the ADD/LADD user studies' significance
    statements. `criterion` is an index or a name."""
    c = votes.criterion_names.index(criterion) if isinstance(criterion, str) else int(criterion)
    tables = pair_counts(votes)
    counts = tables.counts[c]
    compared = counts.sum(axis=1) > 0
    wins_i, wins_j, ties = (counts[compared, k].astype(np.int64) for k in (LO_WINS, HI_WINS, TIES))
    p_value = binomial_two_sided(wins_i, wins_i + wins_j)
    return BinomialTests(
        model_names=votes.model_names,
        criterion=votes.criterion_names[c],
        model_i=tables.lo[compared],
        model_j=tables.hi[compared],
        wins_i=wins_i,
        wins_j=wins_j,
        ties=ties,
        p_value=p_value,
        p_holm=holm(p_value),
        alpha=alpha,
    )
