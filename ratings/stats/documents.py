"""Leaderboard documents: what the `leaderboard` command and the study pages show, as one JSON
object (rendered in `formats`), and the warnings and design notes that go with the numbers.

A document is {"method", "rounds", "seed", "interval", "criteria", "mean_of", "models": [row, ...]}
with the rows of `leaderboard.leaderboard_rows`; `results_document` adds the fit warnings, the
pairwise significance table and the rows by prompt category.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

from .leaderboard import COMBINED, leaderboard_rows, mean_of_names
from .ratings import Ratings
from .resample import POPULATION

#: A category row resting on fewer votes than this is flagged as too few to rank.
MIN_CATEGORY_VOTES = 20


def _ordering_spread_rows(ratings: Ratings, mean_of: Sequence[str] | None = None) -> list[dict[str, Any]]:
    low, high, combined_low, combined_high = ratings.ordering_spread_of(mean_of)
    rows = []
    finite = lambda x: float(x) if math.isfinite(x) else None  # noqa: E731
    for c, criterion in enumerate(ratings.criterion_names):
        rows += [{"model": m, "criterion": criterion, "low": finite(low[c, i]), "high": finite(high[c, i])} for i, m in enumerate(ratings.model_names)]
    if mean_of_names(ratings.criterion_names, mean_of):
        rows += [{"model": m, "criterion": COMBINED, "low": finite(combined_low[i]), "high": finite(combined_high[i])} for i, m in enumerate(ratings.model_names)]
    return rows


def leaderboard_document(ratings: Ratings, rounds: int, seed: int | None, mean_of: Sequence[str] | None = None) -> dict[str, Any]:
    """The JSON object of the `leaderboard` command: method, rounds, seed, interval, criteria,
    mean_of (the criteria the "mean" rows average: those of `mean_of` among the ratings'
    criteria, or every criterion when it is None; empty when fewer than two, with no "mean" rows), models
    (rows; rank = 1 + the models whose interval lies wholly above, for every method), resample
    and population (the bootstrap unit and what the interval is about), and for online Elo
    `ordering_spread` (the spread over orderings, labelled as such)."""
    document = {
        "method": ratings.method,
        "rounds": rounds,
        "seed": seed,
        "interval": f"{ratings.level:.0%} {ratings.interval_kind}",
        "criteria": list(ratings.criterion_names),
        "mean_of": mean_of_names(ratings.criterion_names, mean_of),
        "models": leaderboard_rows(ratings, mean_of),
        "resample": ratings.resample,
        "population": POPULATION.get(ratings.resample, ratings.resample),
    }
    if ratings.ordering_spread is not None:
        document["ordering_spread"] = {
            "what": f"central {ratings.level:.0%} spread of the rating over {rounds} orderings of all votes: "
            "how much the order of the votes moves online Elo; not a confidence interval",
            "rows": _ordering_spread_rows(ratings, mean_of),
        }
    return document


def category_rows(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Warnings for a category's rows: models with too few votes to rank."""
    thin = sorted({row["model"] for row in rows if row["votes"] < MIN_CATEGORY_VOTES})
    if not thin:
        return []
    return [f"fewer than {MIN_CATEGORY_VOTES} votes for {', '.join(thin)}: too few to rank in this category"]


def results_document(
    votes,
    method: str = "bt",
    rounds: int = 1000,
    seed: int | None = 0,
    *,
    resample: str = "comparison",
    pairs: bool = True,
    by_category: bool = False,
    mean_of: Sequence[str] | None = None,
    **options,
) -> dict[str, Any]:
    """Everything the leaderboard command and the study pages show, from one `VoteArrays`:
    `leaderboard_document` plus `warnings` (fits without a finite MLE), `pairs`
    (`significance.pairwise_table`: win rate, interval, binomial p, Holm p, per criterion and
    mean) and with by_category `by_category` ({category: {"votes", "models", "warnings"}}, the
    same rows per prompt category; needs `votes.category`). "mean" everywhere averages the
    criteria of `mean_of` (None: every criterion, as for a plain vote file; a study passes its
    pair criteria, so its set criteria are rated on their own but not averaged in)."""
    from .leaderboard import breakdown, estimate
    from .significance import pairwise_table

    ratings = estimate(votes, method, rounds, seed, resample=resample, **options)
    document = leaderboard_document(ratings, rounds, seed, mean_of)
    document["warnings"] = fit_warnings(ratings, rounds)
    if pairs:
        document["pairs"] = pairwise_table(votes, rounds, seed, resample=resample, mean_of=mean_of)
    if by_category:
        if votes.category is None:
            raise ValueError("a breakdown by category needs the category of each vote (a 'category' column)")
        document["by_category"] = {}
        for code, sub in breakdown(votes, votes.category, estimator=lambda v: v).items():
            name = votes.category_names[code] if votes.category_names else str(code)
            try:
                sub_ratings = estimate(sub, method, rounds, seed, resample=resample, **options)
            except ValueError as error:  # e.g. a prompt bootstrap over a category of one prompt
                document["by_category"][name] = {"votes": sub.n_votes, "models": [], "warnings": [str(error)]}
                continue
            rows = leaderboard_rows(sub_ratings, mean_of)
            document["by_category"][name] = {
                "votes": sub.n_votes, "models": rows,
                "warnings": category_rows(rows) + fit_warnings(sub_ratings, rounds),
            }
    return document


#: Why a method's numbers depend on how pairs were chosen by an adaptive design (Bradley-Terry's
#: likelihood does not depend on choices made from earlier votes; online Elo and mean win rates do).
ADAPTIVE_DESIGN_BIAS = {
    "elo": "online Elo depends on which pairs were served: under adaptive sampling a model served mostly "
    "against close neighbours is rated differently than under uniform sampling; Bradley-Terry is not affected",
    "winrate": "the mean win rate depends on which opponents a model met: under adaptive sampling models meet "
    "different opponents, so mean win rates are not comparable across models; Bradley-Terry is not affected",
}
#: Counting a tie as half a win is no likelihood: its target moves with the design (a spread of 1002
#: Elo under a uniform design, 1248 under an adjacent-heavy one, for one population with 10% ties).
HALF_WIN_TIES = (
    "ties count as half a win (Chatbot Arena's convention), so these Bradley-Terry ratings depend on which "
    "pairs were compared how often and are not comparable with a study of another design; the Davidson "
    "tie model (method davidson) rates the same population the same way under any design"
)


def design_notes(method: str, *, adaptive: bool, ties: bool, versus: bool = False) -> list[str]:
    """What a reader must know about how `method`'s numbers depend on the design: an adaptive or
    a versus-reference design (online Elo, mean win rate: models meet other opponents than under
    all pairs served alike) and ties counted as half a win (Bradley-Terry)."""
    notes = []
    if method in ADAPTIVE_DESIGN_BIAS and (adaptive or versus):
        where = "under adaptive sampling" if adaptive else "in a versus-reference study (served mostly against the reference)"
        notes.append(ADAPTIVE_DESIGN_BIAS[method].replace("under adaptive sampling", where))
    if ties and method == "bt":
        notes.append(HALF_WIN_TIES)
    return notes


def fit_warnings(ratings: Ratings, rounds: int) -> list[str]:
    """What a reader must know about a Bradley-Terry fit that did not fully exist."""
    warnings = []
    if not ratings.converged:
        warnings.append(
            "the Bradley-Terry maximum likelihood does not exist for these votes (a model won or lost "
            "every comparison linking it to the others, or some models were never compared, even "
            "indirectly, with the rest); its rating is unbounded or not determined"
        )
    if ratings.unconverged_rounds:
        warnings.append(
            f"{ratings.unconverged_rounds} of {rounds} bootstrap rounds have no finite Bradley-Terry "
            "maximum likelihood (a model won or lost all its games in the round, or the round's "
            "comparisons split the models into unlinked groups); the intervals are unreliable"
        )
    return warnings
