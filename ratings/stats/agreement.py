"""Rater agreement (Krippendorff's alpha) and attention-check accuracy."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .arrays import VoteArrays
from .resample import vote_cells


def krippendorff_alpha(unit, value) -> float:
    """Krippendorff's alpha for nominal data (Krippendorff 2011, "Computing Krippendorff's
    Alpha-Reliability"): one entry per rating, `unit` saying what was rated and `value` the
    category given (any labels). Units with fewer than two ratings are not pairable and are
    left out. alpha = 1 - (n - 1) * sum_{c != k} o_ck / sum_{c != k} n_c n_k, from the
    coincidence matrix o. NaN when nothing is pairable or only one category occurs."""
    unit, value = np.asarray(unit), np.asarray(value)
    if unit.shape != value.shape or unit.ndim != 1:
        raise ValueError(f"unit and value need the same 1-d shape, got {unit.shape} and {value.shape}")
    _, unit_code = np.unique(unit, return_inverse=True)
    _, value_code = np.unique(value, return_inverse=True)
    n_units, n_values = int(unit_code.max(initial=-1)) + 1, int(value_code.max(initial=-1)) + 1
    counts = np.bincount(unit_code.reshape(-1) * n_values + value_code.reshape(-1), minlength=n_units * n_values)
    counts = counts.reshape(n_units, n_values).astype(np.float64)
    ratings = counts.sum(axis=1)
    counts = counts[ratings >= 2]
    weight = 1.0 / (counts.sum(axis=1) - 1.0)
    coincidence = (counts * weight[:, None]).T @ counts - np.diag((counts * weight[:, None]).sum(axis=0))
    n_c = coincidence.sum(axis=1)
    n = n_c.sum()
    expected = n * n - (n_c**2).sum()
    if n == 0 or expected == 0:
        return float("nan")
    observed = coincidence.sum() - np.trace(coincidence)
    return float(1.0 - (n - 1.0) * observed / expected)


def rater_agreement(votes: VoteArrays, item: np.ndarray | None = None) -> dict[str, float]:
    """Krippendorff's alpha per criterion over the comparisons judged by two or more votes.

    item: int[n], what was judged, e.g. (prompt, seed, unordered pair) as one id; default: the
    prompt (votes.cluster) and the unordered pair. Values are nominal, A / B / tie with the
    sides normalised (A = the pair's lower-indexed model), so the same pair shown left-right
    and right-left is one unit."""
    _, _, vote_pair, category = vote_cells(votes)
    if item is None:
        if votes.cluster is None:
            raise ValueError("rater_agreement needs `item` or votes.cluster (the prompt of each vote)")
        item = votes.cluster * (int(vote_pair.max(initial=0)) + 1) + vote_pair
    item = np.asarray(item)
    return {
        name: krippendorff_alpha(item[votes.criterion == c], category[votes.criterion == c])
        for c, name in enumerate(votes.criterion_names)
    }


@dataclass(frozen=True)
class AttentionAccuracy:
    """Per rater code (index = votes.rater value): attention checks answered, answered right,
    and the share right (NaN for a rater who met no check)."""

    checks: np.ndarray
    correct: np.ndarray

    @property
    def accuracy(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.correct / self.checks


def attention_accuracy(votes: VoteArrays, expected: np.ndarray) -> AttentionAccuracy:
    """Each rater's accuracy on attention checks (gold pairs with a known answer).

    expected: float[n], the right outcome (1 = A, 0 = B, 0.5 = tie) for a check vote, NaN for
    an ordinary vote."""
    if votes.rater is None:
        raise ValueError("attention_accuracy needs votes.rater")
    expected = np.asarray(expected, dtype=np.float64)
    if expected.shape != (votes.n_votes,):
        raise ValueError(f"expected needs one value per vote ({votes.n_votes}), got shape {expected.shape}")
    is_check = ~np.isnan(expected)
    n_raters = int(votes.rater.max(initial=-1)) + 1
    checks = np.bincount(votes.rater[is_check], minlength=n_raters)
    correct = np.bincount(votes.rater[is_check & (votes.outcome == expected)], minlength=n_raters)
    return AttentionAccuracy(checks=checks, correct=correct)


@dataclass(frozen=True)
class SelfConsistency:
    """Deliberate repeats against the first answer, per rater and criterion.

    repeats, same: int[R, C], repeats answered and answered the same way as the first time;
    alpha: float[R, C], Krippendorff's alpha of (first, repeat) as two ratings of one unit, per
    rater; study_repeats, study_same, study_alpha: the same over every rater, per criterion."""

    repeats: np.ndarray
    same: np.ndarray
    alpha: np.ndarray
    study_repeats: np.ndarray
    study_same: np.ndarray
    study_alpha: np.ndarray

    @property
    def share(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.same / self.repeats

    @property
    def study_share(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.study_same / self.study_repeats


def self_consistency(rater, criterion, first, repeat, *, n_raters: int, n_criteria: int) -> SelfConsistency:
    """Test-retest consistency from deliberate repeats: one entry per repeated vote, with the
    rater code, the criterion code, and the answer the first time and on the repeat (any labels
    that name the image picked, or a tie, so the sides shown do not matter). The share is the
    fraction answered the same way; alpha is nominal Krippendorff's alpha with each (first,
    repeat) as one unit rated twice (1: perfectly consistent, 0: as consistent as chance)."""
    rater, criterion = np.asarray(rater, dtype=np.int64), np.asarray(criterion, dtype=np.int64)
    first, repeat = np.asarray(first), np.asarray(repeat)
    same_answer = first == repeat
    cells = rater * n_criteria + criterion
    repeats = np.bincount(cells, minlength=n_raters * n_criteria).reshape(n_raters, n_criteria)
    same = np.bincount(cells[same_answer], minlength=n_raters * n_criteria).reshape(n_raters, n_criteria)
    units = np.arange(first.size)

    def alpha_of(mask):
        if mask.sum() == 0:
            return float("nan")
        return krippendorff_alpha(np.concatenate([units[mask], units[mask]]), np.concatenate([first[mask], repeat[mask]]))

    alpha = np.array([[alpha_of((rater == r) & (criterion == c)) for c in range(n_criteria)] for r in range(n_raters)])
    alpha = alpha.reshape(n_raters, n_criteria)
    study_alpha = np.array([alpha_of(criterion == c) for c in range(n_criteria)])
    return SelfConsistency(repeats, same, alpha, repeats.sum(axis=0), same.sum(axis=0), study_alpha)
