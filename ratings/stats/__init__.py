"""evalsite's statistics engine: pure NumPy/SciPy (numba for the Elo loop and the CSV reader),
no Django. Votes come in as `VoteArrays`; every estimator is a pure function of them.

Estimators (each docstring names the protocol it reproduces and its defaults):
    bradley_terry(votes, rounds=1000, seed=0, *, resample, scale, base, center, anchor) -> Ratings
    online_elo(votes, permutations=1000, seed=0, *, k=1, base=10, scale=400, initial=1000) -> Ratings
    win_rates(votes, rounds=1000, seed=0, *, ties="half", resample) -> WinRates
    pairwise_binomial_tests(votes, *, criterion=0, alpha=0.05) -> BinomialTests
    pairwise_table(votes, rounds, seed, *, resample, alpha) -> rows: win rate + interval, p, Holm p
    pair_matrix(pairs, names, criterion) -> those rows as a model x model matrix, seen from each row
    self_consistency(rater, criterion, first, repeat, ...) -> SelfConsistency (repeats, alpha)
    krippendorff_alpha(unit, value) -> float;  rater_agreement(votes, item) -> {criterion: alpha}
    attention_accuracy(votes, expected) -> AttentionAccuracy
Leaderboards:
    leaderboard(votes, method="bt", rounds=1000, seed=0, **options) -> list of row dicts
    breakdown(votes, group, estimator=leaderboard, **options) -> {group: result}
    results_document(votes, method, rounds, seed, *, resample, pairs, by_category) -> the command's
        and the study pages' document (rows, warnings, pairs, by_category)
Against a reference (issue 27):
    versus.versus_reference(votes, reference, *, unit, margin, alpha, sequential, mean_of) -> rows:
        win rate, interval, decision (better / equivalent / non-inferior / inferior / undecided)
Files and output:
    read_vote_file(path) -> VoteArrays (raises VoteFileError(line, column, message))
    render(document, "json" | "csv" | "md" | "latex"), render_latex(rows, extra_columns=...)
    cli.main(argv, stdout, stderr) -> exit status

`online_elo` is loaded on first use, so that `import ratings.stats` does not import numba.
"""

from .agreement import AttentionAccuracy, SelfConsistency, attention_accuracy, krippendorff_alpha, rater_agreement, self_consistency
from .arrays import VoteArrays, canonical, from_labels
from .bradley_terry import bradley_terry, fit_bradley_terry
from .documents import leaderboard_document, results_document
from .formats import render, render_latex
from .leaderboard import breakdown, estimate, leaderboard, leaderboard_rows
from .ratings import Ratings
from .significance import PAIR_FIELDS, BinomialTests, pair_matrix, pairwise_binomial_tests, pairwise_table
from .win_rates import WinRates, win_rates

__all__ = [
    "PAIR_FIELDS", "SelfConsistency", "canonical", "pairwise_table", "self_consistency",
    "AttentionAccuracy", "BinomialTests", "Ratings", "VoteArrays", "VoteFileError", "WinRates",
    "attention_accuracy", "bradley_terry", "breakdown", "estimate", "fit_bradley_terry",
    "from_labels", "krippendorff_alpha", "leaderboard", "leaderboard_document", "leaderboard_rows",
    "online_elo", "pair_matrix", "pairwise_binomial_tests", "rater_agreement", "read_vote_file", "render",
    "render_latex", "results_document", "win_rates",
]


def __getattr__(name):
    if name == "online_elo":
        from .elo import online_elo

        return online_elo
    if name in ("read_vote_file", "VoteFileError"):
        from . import vote_file

        return getattr(vote_file, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
