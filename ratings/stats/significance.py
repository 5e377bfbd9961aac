"""Exact binomial tests for every pair of models, with Holm's correction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .arrays import VoteArrays
from .ratings import combined_criteria
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


PAIR_FIELDS = (
    "model_a", "model_b", "criterion", "wins_a", "wins_b", "ties", "win_rate", "ci_low", "ci_high",
    "p_value", "p_holm", "significant",
)


def _mean_decisions(votes: VoteArrays, mean_of: Sequence[str] | None = None) -> tuple[np.ndarray, ...]:
    """(lo, hi, wins_lo, wins_hi, ties) per observed pair for the mean over the criteria of
    `mean_of` (None: every criterion): each comparison's answers averaged over those criteria
    (seen from the pair's lower-indexed model) count as one decision: a win above 1/2, a loss
    below, a tie at 1/2. Votes on other criteria (a study's set criteria) are left out, so their
    comparisons do not count as decisions of the mean."""
    from .resample import vote_cells

    chosen = combined_criteria(votes.criterion_names, mean_of)
    if len(chosen) < votes.n_criteria:
        votes = votes.subset(np.isin(votes.criterion, chosen))
    lo, hi, vote_pair, _ = vote_cells(votes)
    score_lo = np.where(votes.model_a == lo[vote_pair], votes.outcome, 1.0 - votes.outcome)
    _, unit = np.unique(votes.comparison, return_inverse=True)
    unit = unit.reshape(-1)
    n_units = int(unit.max(initial=-1)) + 1
    mean_score = np.bincount(unit, weights=score_lo, minlength=n_units) / np.maximum(np.bincount(unit, minlength=n_units), 1)
    unit_pair = np.zeros(n_units, dtype=np.int64)
    unit_pair[unit] = vote_pair
    n_pairs = lo.size
    won = np.bincount(unit_pair[mean_score > 0.5], minlength=n_pairs)
    lost = np.bincount(unit_pair[mean_score < 0.5], minlength=n_pairs)
    tied = np.bincount(unit_pair[mean_score == 0.5], minlength=n_pairs)
    return lo, hi, won, lost, tied


def pairwise_table(
    votes: VoteArrays,
    rounds: int = 1000,
    seed: int | None = 0,
    *,
    resample: str = "comparison",
    alpha: float = 0.05,
    level: float = 0.95,
    mean_of: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """Every compared model pair per criterion, and for the mean over the criteria of `mean_of`
    (None: every criterion; a study passes its pair criteria; only with two or more of them):
    decisive wins and losses and ties, the win rate of model_a over model_b (a tie counts half)
    with its bootstrap percentile interval (`rounds` rounds resampling `resample` units, as the
    leaderboards do), the exact two-sided binomial p on the decisive votes (scipy's `binomtest`
    with p = 1/2) and Holm's adjustment over the pairs of that criterion; `significant` is
    p_holm < alpha. For "mean", win_rate is the mean of the criteria's win rates (as ADD reports)
    and the test counts each comparison once, by its answers averaged over the criteria (a sign
    test: the criteria's votes on one comparison are not independent). model_a is the pair's
    model that comes first in `votes.model_names`."""
    from .win_rates import win_rates

    if votes.n_votes == 0:
        return []
    rates = win_rates(votes, rounds, seed, resample=resample, level=level, mean_of=mean_of)
    names = votes.model_names
    rows: list[dict[str, Any]] = []

    def add(criterion, lo, hi, wins_a, wins_b, ties, rate, low, high):
        p_value = binomial_two_sided(wins_a, wins_a + wins_b)
        p_holm = holm(p_value)
        for k in range(lo.size):
            i, j = int(lo[k]), int(hi[k])
            finite = lambda x: float(x) if np.isfinite(x) else None  # noqa: E731
            rows.append({
                "model_a": names[i], "model_b": names[j], "criterion": criterion,
                "wins_a": int(wins_a[k]), "wins_b": int(wins_b[k]), "ties": int(ties[k]),
                "win_rate": finite(rate[i, j]), "ci_low": finite(low[i, j]), "ci_high": finite(high[i, j]),
                "p_value": float(p_value[k]), "p_holm": float(p_holm[k]), "significant": bool(p_holm[k] < alpha),
            })

    for c, criterion in enumerate(votes.criterion_names):
        tests = pairwise_binomial_tests(votes, criterion=c, alpha=alpha)
        add(criterion, tests.model_i, tests.model_j, tests.wins_i, tests.wins_j, tests.ties,
            rates.matrix[c], rates.low[c], rates.high[c])
    chosen = combined_criteria(votes.criterion_names, mean_of)
    if len(chosen) >= 2:
        from .ratings import nan_mean, nan_percentiles

        lo, hi, won, lost, tied = _mean_decisions(votes, mean_of)
        compared = (won + lost + tied) > 0
        mean = nan_mean(rates.matrix[chosen], axis=0)
        low, high = (rates.mean_low, rates.mean_high) if rates.mean_low is not None else nan_percentiles(mean[None], level)
        add("mean", lo[compared], hi[compared], won[compared], lost[compared], tied[compared], mean, low, high)
    return rows


def pair_matrix(pairs: Sequence[Mapping[str, Any]], names: Sequence[str], criterion: str) -> list[list[dict[str, Any] | None]]:
    """`pairwise_table`'s rows of one criterion (or "mean") as a names x names matrix, each cell
    seen from its row model: `rate`, `low`, `high` are the row's win rate over the column and its
    interval (the row's fields flipped where the row model is the pair's model_b); None where the
    two models were never compared."""
    position = {name: i for i, name in enumerate(names)}
    matrix: list[list[dict[str, Any] | None]] = [[None] * len(names) for _ in names]
    flip = lambda x: None if x is None else 1.0 - x  # noqa: E731
    for pair in pairs:
        if pair["criterion"] != criterion or pair["model_a"] not in position or pair["model_b"] not in position:
            continue
        i, j = position[pair["model_a"]], position[pair["model_b"]]
        matrix[i][j] = {**pair, "rate": pair["win_rate"], "low": pair["ci_low"], "high": pair["ci_high"]}
        matrix[j][i] = {**pair, "rate": flip(pair["win_rate"]), "low": flip(pair["ci_high"]), "high": flip(pair["ci_low"])}
    return matrix
