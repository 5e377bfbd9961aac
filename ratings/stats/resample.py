"""Votes collapsed to per-pair counts, and the bootstrap as multinomial draws of those counts.

Every count-based estimator (win rates, Bradley-Terry) needs, per criterion and per unordered
model pair (lo < hi), only three numbers: lo's wins, hi's wins, ties. So instead of resampling
votes we resample *patterns*:

- A resampling unit is a comparison (one shown pair; its votes on all criteria move together)
  or, for a cluster bootstrap, a cluster (a prompt: all its comparisons move together).
- Prompts and raters are crossed (every rater sees many prompts, every prompt many raters), so
  neither one-way bootstrap sees both sources of variation. ``prompt_rater`` is Owen's pigeonhole
  (product) bootstrap ("The pigeonhole bootstrap", Annals of Applied Statistics 2007): each round
  draws the prompts with replacement and, independently, the raters with replacement; a vote of
  prompt g and rater r then counts W_g * V_r times (W, V the draws' multiplicities). Its variance
  is mildly conservative (Owen: the vote-level noise is counted up to three times), never below
  either one-way bootstrap's in expectation.
- Units with identical content (same pair, same answer on every criterion) are one pattern with
  a multiplicity. Drawing K units with replacement from K units and counting how often each
  pattern came up is a Multinomial(K, multiplicity / K) draw over patterns, exactly (the units
  are exchangeable within a pattern). So one `Generator.multinomial` call gives all rounds.
- Each round's counts per (criterion, pair, outcome) cell are then a sparse product of the
  drawn pattern counts with the patterns' cell contents.

With 20 models and 2 criteria there are at most 190 * 4**2 patterns whatever the number of
votes, so 1000 rounds cost milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .arrays import VoteArrays

#: Outcome categories of a pair cell, from the lower-indexed model's side.
LO_WINS, HI_WINS, TIES = 0, 1, 2
#: Resampling units: "comparison" (a shown pair, its votes on all criteria together), "prompt"
#: (every comparison about one prompt: `votes.cluster`), "rater" (every comparison by one rater:
#: `votes.rater`), "prompt_rater" (prompts and raters both, crossed: the pigeonhole bootstrap);
#: "cluster" is the older name of "prompt".
RESAMPLE_UNITS = ("comparison", "prompt", "rater", "prompt_rater", "cluster")
#: What population an interval from each unit speaks about.
POPULATION = {
    "comparison": "these prompts and these raters (votes resampled; prompts and raters held fixed)",
    "prompt": "prompts like these (prompts resampled with all their votes; raters held fixed)",
    "rater": "raters like these (raters resampled with all their votes; prompts held fixed)",
    "prompt_rater": "prompts and raters like these (prompts and raters both resampled, crossed: the pigeonhole bootstrap)",
}


def unit_labels(votes: VoteArrays, resample: str) -> np.ndarray:
    """The label of each vote's resampling unit (comparison, prompt or rater; prompt_rater has
    no single label: `two_way_labels`)."""
    if resample not in RESAMPLE_UNITS:
        raise ValueError(f"resample must be one of {', '.join(RESAMPLE_UNITS[:4])}, got {resample!r}")
    if resample == "prompt_rater":
        raise ValueError("resampling prompts and raters together (prompt_rater) draws two units at once: "
                         "use two_way_labels")
    if resample == "comparison":
        return votes.comparison
    labels = votes.rater if resample == "rater" else votes.cluster
    if labels is None:
        what = "votes.rater (the rater of each vote)" if resample == "rater" else "votes.cluster (the prompt of each vote)"
        raise ValueError(f"resample={resample!r} needs {what}")
    return labels
def two_way_labels(votes: VoteArrays) -> tuple[np.ndarray, np.ndarray]:
    """(prompt, rater) labels of each vote, for the pigeonhole bootstrap."""
    missing = [what for what, labels in (("votes.cluster (the prompt of each vote)", votes.cluster),
                                         ("votes.rater (the rater of each vote)", votes.rater)) if labels is None]
    if missing:
        raise ValueError(f"resample='prompt_rater' needs {' and '.join(missing)}")
    return votes.cluster, votes.rater


def resampled_clusters(votes: VoteArrays, resample: str) -> int | None:
    """The clusters a cluster bootstrap resamples (prompts, raters; for prompt_rater the fewer of
    the two), None for the comparison bootstrap."""
    if resample == "comparison":
        return None
    if resample == "prompt_rater":
        return int(min(np.unique(labels).size for labels in two_way_labels(votes)))
    return int(np.unique(unit_labels(votes, resample)).size)


def few_cluster_scale(clusters: int | None, level: float = 0.95) -> float:
    """The factor by which a cluster bootstrap's draws are spread about the point estimate so that
    its percentile interval does not come out too narrow with few clusters: sqrt(G / (G - 1)) (the
    small-cluster correction of the sandwich, which the bootstrap's variance lacks) times the
    Student-t quantile with G - 1 degrees of freedom over the normal one (Cameron & Miller, "A
    Practitioner's Guide to Cluster-Robust Inference", J. Human Resources 2015, section VI). 1.0
    for the comparison bootstrap; about 1.12 for 16 prompts, 1.01 for 200. Measured on the
    sampling benchmark (16 prompts, adjacent gaps 115-180 Elo): a plain prompt bootstrap covered
    the population strengths 90%, short of its 95%."""
    if clusters is None:
        return 1.0
    from scipy.stats import norm, t as student

    g = max(int(clusters), 2)
    tail = 0.5 + level / 2.0
    return float(np.sqrt(g / (g - 1.0)) * student.ppf(tail, g - 1) / norm.ppf(tail))


def spread_draws(point: np.ndarray, draws: np.ndarray, scale: float) -> np.ndarray:
    """Bootstrap draws (float[R, ...]) moved ``scale`` times as far from the point estimate."""
    return draws if scale == 1.0 else point + scale * (draws - point)


#: Bound on round-chunk x entries held at once when summing draws into cells.
_CHUNK_ELEMENTS = 1 << 23


@dataclass(frozen=True)
class PairCounts:
    """Counts per criterion and unordered pair: float[..., C, P, 3] of (lo wins, hi wins, ties)."""

    lo: np.ndarray  # int[P], lo < hi
    hi: np.ndarray  # int[P]
    n_models: int
    counts: np.ndarray  # float[C, P, 3], all votes
    draws: np.ndarray | None = None  # float[R, C, P, 3], one row per bootstrap round


def vote_cells(votes: VoteArrays) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(lo, hi, vote_pair, category): the observed pairs and each vote's pair and outcome
    category seen from the pair's lower-indexed model."""
    a, b, m = votes.model_a, votes.model_b, votes.n_models
    low, high = np.minimum(a, b), np.maximum(a, b)
    pair_keys, vote_pair = np.unique(low * m + high, return_inverse=True)
    score_low = np.where(a == low, votes.outcome, 1.0 - votes.outcome)
    category = np.where(score_low == 1.0, LO_WINS, np.where(score_low == 0.0, HI_WINS, TIES))
    return pair_keys // m, pair_keys % m, vote_pair.reshape(-1), category


def _compact(units: np.ndarray) -> tuple[np.ndarray, int]:
    """Units renumbered 0..K-1 (kept as they are when they already are)."""
    if units.size == 0:
        return units, 0
    k = int(units.max()) + 1
    if units.min() >= 0 and k <= units.size and np.bincount(units, minlength=k).all():
        return units, k
    _, inverse = np.unique(units, return_inverse=True)
    return inverse.reshape(-1), int(inverse.max()) + 1


def _comparison_patterns(units, k, cell, criterion, vote_pair, n_criteria, n_pairs):
    """Patterns of comparison units, or None when units are not plain comparisons (a unit with
    two pairs, or two votes on one criterion) or there are too many criteria to encode."""
    radix = 4**n_criteria
    if n_pairs * radix >= 2**53:
        return None
    pair_of_unit = np.empty(k, dtype=np.int64)
    pair_of_unit[units] = vote_pair
    if not np.array_equal(pair_of_unit[units], vote_pair):
        return None
    if np.bincount(units * n_criteria + criterion, minlength=k * n_criteria).max() > 1:
        return None
    # A unit's pattern in base 4: digit c is 0 (no vote on criterion c) or 1 + its category.
    digit = (cell % 3 + 1) * (4**criterion)
    code = np.bincount(units, weights=digit, minlength=k).astype(np.int64) + pair_of_unit * radix
    patterns, multiplicity = np.unique(code, return_counts=True)
    pattern_pair = patterns // radix
    entry_pattern, entry_cell = [], []
    for c in range(n_criteria):
        digits = (patterns // 4**c) % 4
        present = np.flatnonzero(digits)
        entry_pattern.append(present)
        entry_cell.append((c * n_pairs + pattern_pair[present]) * 3 + digits[present] - 1)
    entry_pattern = np.concatenate(entry_pattern)
    entry_cell = np.concatenate(entry_cell)
    return entry_pattern, entry_cell, np.ones(entry_cell.size), multiplicity


def _generic_patterns(units, k, cell, n_cells):
    """Each unit its own pattern, holding the counts of its votes per cell."""
    keys, counts = np.unique(units * n_cells + cell, return_counts=True)
    return keys // n_cells, keys % n_cells, counts.astype(np.float64), np.ones(k, dtype=np.int64)


def _sum_into_cells(drawn, entry_pattern, entry_cell, entry_weight, n_cells):
    """float[R, n_cells]: drawn[r, pattern] * weight summed into each entry's cell.

    A dense matrix product when the pattern-by-cell table is small and not too sparse (a
    cluster bootstrap: each prompt touches most cells), else a gather and segment sum."""
    n_patterns = drawn.shape[1]
    if n_patterns * n_cells <= _CHUNK_ELEMENTS and n_patterns * n_cells < 16 * entry_pattern.size:
        table = np.zeros((n_patterns, n_cells))
        np.add.at(table, (entry_pattern, entry_cell), entry_weight)
        return drawn @ table
    order = np.argsort(entry_cell, kind="stable")
    entry_pattern, entry_cell, entry_weight = entry_pattern[order], entry_cell[order], entry_weight[order]
    cells, starts = np.unique(entry_cell, return_index=True)
    out = np.zeros((drawn.shape[0], n_cells))
    if cells.size == 0:
        return out
    chunk = max(1, _CHUNK_ELEMENTS // max(1, entry_pattern.size))
    for first in range(0, drawn.shape[0], chunk):
        contributions = drawn[first : first + chunk][:, entry_pattern] * entry_weight
        out[first : first + chunk, cells] = np.add.reduceat(contributions, starts, axis=1)
    return out


def pair_counts(
    votes: VoteArrays,
    rounds: int = 0,
    rng: np.random.Generator | None = None,
    resample: str = "comparison",
) -> PairCounts:
    """Counts per (criterion, pair, outcome), and with `rounds` > 0 their bootstrap draws.

    resample="comparison" draws comparisons with replacement (a vote-level bootstrap when each
    vote is its own comparison); "prompt" (or "cluster") draws `votes.cluster` groups, "rater"
    draws `votes.rater` groups: a cluster bootstrap, each drawn group bringing all its votes;
    "prompt_rater" draws prompts and raters independently (the pigeonhole bootstrap, see module)."""
    unit = None if resample == "prompt_rater" else unit_labels(votes, resample)
    if resample == "prompt_rater":
        two_way_labels(votes)
    lo, hi, vote_pair, category = vote_cells(votes)
    n_criteria, n_pairs = votes.n_criteria, lo.size
    n_cells = n_criteria * n_pairs * 3
    cell = (votes.criterion * n_pairs + vote_pair) * 3 + category
    counts = np.bincount(cell, minlength=n_cells).astype(np.float64)
    shape = (n_criteria, n_pairs, 3)
    if rounds <= 0:
        return PairCounts(lo, hi, votes.n_models, counts.reshape(shape))
    rng = rng if rng is not None else np.random.default_rng()
    if resample == "prompt_rater":
        draws = _pigeonhole_draws(votes, cell, n_cells, rounds, rng)
        return PairCounts(lo, hi, votes.n_models, counts.reshape(shape), draws.reshape((rounds, *shape)))
    if resample != "comparison":
        units, k = _compact(unit)
        patterns = _generic_patterns(units, k, cell, n_cells)
    else:
        units, k = _compact(votes.comparison)
        patterns = _comparison_patterns(units, k, cell, votes.criterion, vote_pair, n_criteria, n_pairs)
        if patterns is None:
            patterns = _generic_patterns(units, k, cell, n_cells)
    entry_pattern, entry_cell, entry_weight, multiplicity = patterns
    drawn = rng.multinomial(k, multiplicity / k, size=rounds).astype(np.float64)
    draws = _sum_into_cells(drawn, entry_pattern, entry_cell, entry_weight, n_cells)
    return PairCounts(lo, hi, votes.n_models, counts.reshape(shape), draws.reshape((rounds, *shape)))


def _pigeonhole_draws(votes: VoteArrays, cell: np.ndarray, n_cells: int, rounds: int, rng: np.random.Generator) -> np.ndarray:
    """float[R, n_cells]: the pigeonhole bootstrap's counts: per round, prompt multiplicities W
    (G prompts drawn from G) and rater multiplicities V (K from K); each (prompt, rater, cell)
    entry's votes count W_g * V_r times."""
    prompts, raters = (_compact(labels)[0] for labels in two_way_labels(votes))
    n_prompts, n_raters = int(prompts.max()) + 1, int(raters.max()) + 1
    keys, entry_votes = np.unique((prompts * n_raters + raters) * n_cells + cell, return_counts=True)
    entry_cell = keys % n_cells
    entry_prompt, entry_rater = (keys // n_cells) // n_raters, (keys // n_cells) % n_raters
    prompt_draws = rng.multinomial(n_prompts, np.full(n_prompts, 1.0 / n_prompts), size=rounds).astype(np.float64)
    rater_draws = rng.multinomial(n_raters, np.full(n_raters, 1.0 / n_raters), size=rounds).astype(np.float64)
    order = np.argsort(entry_cell, kind="stable")
    entry_cell, entry_prompt, entry_rater = entry_cell[order], entry_prompt[order], entry_rater[order]
    entry_votes = entry_votes[order].astype(np.float64)
    cells, starts = np.unique(entry_cell, return_index=True)
    out = np.zeros((rounds, n_cells))
    chunk = max(1, _CHUNK_ELEMENTS // max(1, entry_cell.size))
    for first in range(0, rounds, chunk):
        block = slice(first, first + chunk)
        contributions = prompt_draws[block][:, entry_prompt] * rater_draws[block][:, entry_rater] * entry_votes
        out[block, cells] = np.add.reduceat(contributions, starts, axis=1)
    return out
