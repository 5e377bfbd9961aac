"""Leaderboard rows from votes: one entry point over the three estimators, and breakdowns."""

from __future__ import annotations

from typing import Any, Callable, Hashable, Sequence

import numpy as np

from .arrays import VoteArrays
from .bradley_terry import bradley_terry
from .ratings import Ratings, combined_criteria, interval_ranks
from .win_rates import win_rates

METHODS = ("bt", "davidson", "elo", "winrate")
METHOD_NAMES = {
    "bt": "Bradley-Terry", "davidson": "Bradley-Terry with Davidson ties", "elo": "online Elo", "winrate": "mean win rate",
}
#: The criterion name of the combined rating (the mean over the pair criteria, `mean_of`).
COMBINED = "mean"
ROW_FIELDS = ("model", "criterion", "rating", "ci_low", "ci_high", "rank", "votes")


def estimate(
    votes: VoteArrays,
    method: str = "bt",
    rounds: int = 1000,
    seed: int | None = 0,
    *,
    anchor: tuple[str, float] | None = None,
    ties: str = "half",
    resample: str = "comparison",
    level: float = 0.95,
) -> Ratings:
    """`Ratings` by `method`: "bt" (`bradley_terry`, `rounds` bootstrap rounds, `anchor`; a tie
    half a win, Chatbot Arena's convention), "davidson" (`davidson.davidson`: a tie its own outcome),
    "elo" (`online_elo`, `rounds` orderings) or "winrate" (`win_rates`' mean win rate, `ties`).
    `resample` ("comparison", "prompt" or "rater") is the bootstrap's unit for every method
    (Elo: votes resampled, then ordered)."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if votes.n_votes == 0:
        raise ValueError("no votes to rate")
    if method == "bt":
        return bradley_terry(votes, rounds, seed, resample=resample, anchor=anchor, level=level)
    if method == "davidson":
        from .davidson import davidson

        return davidson(votes, rounds, seed, resample=resample, anchor=anchor, level=level)
    if method == "winrate":
        return win_rates(votes, rounds, seed, ties=ties, resample=resample, level=level).mean
    from .elo import online_elo  # numba: imported only when Elo is asked for

    return online_elo(votes, rounds, seed, level=level, resample=resample)


def _finite_or_none(value) -> float | None:
    return float(value) if np.isfinite(value) else None


def _rows(names, criterion, rating, low, high, votes) -> list[dict[str, Any]]:
    ranks = interval_ranks(low, high)
    present = np.flatnonzero(~np.isnan(rating) & (votes > 0))
    order = sorted(present, key=lambda i: (-rating[i], names[i]))
    return [
        {
            "model": names[i],
            "criterion": criterion,
            "rating": float(rating[i]),
            "ci_low": _finite_or_none(low[i]),
            "ci_high": _finite_or_none(high[i]),
            "rank": int(ranks[i]),
            "votes": int(votes[i]),
        }
        for i in order
    ]


def mean_of_names(criterion_names: Sequence[str], mean_of: Sequence[str] | None = None) -> list[str]:
    """The criteria the "mean" rows average (see `ratings.combined_criteria`), in the votes'
    order; empty when fewer than two, since then there is no "mean"."""
    chosen = [criterion_names[c] for c in combined_criteria(criterion_names, mean_of)]
    return chosen if len(chosen) >= 2 else []


def leaderboard_rows(ratings: Ratings, mean_of: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """The rows of a leaderboard, criterion by criterion, best first, then the combined rating
    (criterion "mean", the mean over the criteria of `mean_of`, None meaning every criterion;
    only with two or more of them): model, criterion, rating, ci_low, ci_high, rank (1 + the
    models whose lower bound is above this model's upper bound, within the criterion), votes (the
    votes the model took part in; for "mean", summed over the averaged criteria). A model without
    votes on a criterion has no row for it, nor for "mean" if the criterion is averaged.

    A study passes its pair criteria as `mean_of`: its set criteria (variety across seeds) keep
    their own rows but stay out of "mean", so adding one does not move the headline rating."""
    names = ratings.model_names
    low, high = ratings.interval()
    rows = []
    for c, criterion in enumerate(ratings.criterion_names):
        rows += _rows(names, criterion, ratings.rating[c], low[c], high[c], ratings.votes[c])
    if mean_of_names(ratings.criterion_names, mean_of):
        chosen = combined_criteria(ratings.criterion_names, mean_of)
        rating, low, high = ratings.combined(mean_of)
        votes = np.where((ratings.votes[chosen] > 0).all(axis=0), ratings.votes[chosen].sum(axis=0), 0)
        rows += _rows(names, COMBINED, rating, low, high, votes)
    return rows


def leaderboard(
    votes: VoteArrays,
    method: str = "bt",
    rounds: int = 1000,
    seed: int | None = 0,
    *,
    mean_of: Sequence[str] | None = None,
    **options,
) -> list[dict[str, Any]]:
    """`leaderboard_rows(estimate(votes, method, rounds, seed, **options), mean_of)`: the same
    rows as the `leaderboard` command's JSON `models` list."""
    return leaderboard_rows(estimate(votes, method, rounds, seed, **options), mean_of)


def breakdown(
    votes: VoteArrays,
    group: Sequence[Hashable] | np.ndarray,
    estimator: Callable[..., Any] = leaderboard,
    **options,
) -> dict[Hashable, Any]:
    """Run `estimator(votes_of_group, **options)` for each group (e.g. PartiPrompts' Category or
    Challenge of each vote's prompt); `group` holds one label per vote. Groups come in sorted
    order; model and criterion names are kept, so results line up across groups."""
    labels = np.asarray(group)
    if labels.shape != (votes.n_votes,):
        raise ValueError(f"group needs one label per vote ({votes.n_votes}), got shape {labels.shape}")
    names, codes = np.unique(labels, return_inverse=True)
    codes = codes.reshape(-1)
    return {names[g].item(): estimator(votes.subset(codes == g), **options) for g in range(names.size)}
