"""Online Elo over random orderings of the votes (the ADD user-study protocol).

The inner loop (orderings x votes, 1e8 updates for 100,000 votes x 1000 orderings) is a numba
kernel, parallel over orderings. Each ordering draws its own permutation from a counter-based
generator keyed by (seed, ordering index), so results do not depend on the number of threads.
Numba caches the compiled kernel (`cache=True`) next to this file, or in the user cache
directory when this directory is read-only, or in a temporary folder when neither is writable
(`numba_cache`; set NUMBA_CACHE_DIR to choose); the first call in a fresh environment compiles
it (about 3 seconds on 2 cores), later processes load it (under a second).
"""

from __future__ import annotations

import math

from . import numba_cache  # noqa: F401  (before numba: where kernels are cached)
import numba
import numpy as np

from .arrays import VoteArrays
from .ratings import BOOTSTRAP, Ratings
from .resample import _compact, few_cluster_scale, resampled_clusters, spread_draws, two_way_labels, unit_labels

#: What the Elo interval is: votes resampled, then ordered (not the spread over orderings).
ELO_BOOTSTRAP = BOOTSTRAP + " (votes resampled, then run in random orders)"

@numba.njit(cache=True, inline="always")
def _splitmix64(state):
    state = state + np.uint64(0x9E3779B97F4A7C15)
    z = state
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return state, z ^ (z >> np.uint64(31))


@numba.njit(cache=True, inline="always")
def _below(state, bound):
    """(state, j): j uniform on 0..bound-1 (bound < 2**32) by Lemire's nearly divisionless
    multiply-shift: the rejection makes it exactly uniform, the modulo runs only rarely."""
    bound = np.uint64(bound)
    low_mask = np.uint64(0xFFFFFFFF)
    state, z = _splitmix64(state)
    product = (z >> np.uint64(32)) * bound
    if (product & low_mask) < bound:
        threshold = (np.uint64(2**32) - bound) % bound
        while (product & low_mask) < threshold:
            state, z = _splitmix64(state)
            product = (z >> np.uint64(32)) * bound
    return state, np.int64(product >> np.uint64(32))


@numba.njit(cache=True, inline="always")
def _update(rating, word, k, log_base_over_scale):
    """One vote's online Elo step, in place. A vote is packed as
    model_a | model_b << 20 | criterion << 40 | (2 * score) << 60."""
    mask20 = np.int64((1 << 20) - 1)
    a = word & mask20
    b = (word >> 20) & mask20
    c = (word >> 40) & mask20
    score = 0.5 * (word >> 60)
    expected_a = 1.0 / (1.0 + math.exp((rating[c, b] - rating[c, a]) * log_base_over_scale))
    delta = k * (score - expected_a)
    rating[c, a] += delta
    rating[c, b] -= delta


@numba.njit(cache=True, parallel=True)
def _elo_orderings(packed, unit_start, n_criteria, n_models, n_orderings, seed, shuffle, k,
                   log_base_over_scale, initial):
    """float[n_orderings, n_criteria, n_models]: final ratings of each ordering of the units
    (comparisons). Unit u holds votes unit_start[u]:unit_start[u + 1] (packed as `_update` reads them)."""
    n_units = unit_start.size - 1
    one_vote_per_unit = unit_start[n_units] == n_units
    out = np.empty((n_orderings, n_criteria, n_models))
    for o in numba.prange(n_orderings):
        rating = out[o]
        rating[:, :] = initial
        order = np.arange(n_units).astype(np.int32)
        state = seed * np.uint64(0xD1B54A32D192ED03) + np.uint64(o)
        state, _ = _splitmix64(state)
        for position in range(n_units):
            if shuffle:  # forward Fisher-Yates, fused with the updates
                state, offset = _below(state, n_units - position)
                j = position + offset
                order[position], order[j] = order[j], order[position]
            u = order[position]
            first, last = u, u + 1
            if not one_vote_per_unit:
                first, last = unit_start[u], unit_start[u + 1]
            for v in range(first, last):
                _update(rating, packed[v], k, log_base_over_scale)
    return out


@numba.njit(cache=True, parallel=True)
def _elo_bootstrap(packed, unit_start, group_start, group_units, n_criteria, n_models, rounds,
                   orderings, seed, k, log_base_over_scale, initial):
    """(mean, within) float[rounds, n_criteria, n_models]: for each round, draw as many groups as
    there are (comparisons, prompts or raters) with replacement, take every comparison of the
    drawn groups, and run `orderings` random orderings of them; the round's rating is their mean,
    `within` the variance over its orderings."""
    n_groups = group_start.size - 1
    one_vote_per_unit = unit_start[unit_start.size - 1] == unit_start.size - 1
    out = np.zeros((rounds, n_criteria, n_models))
    squares = np.zeros((rounds, n_criteria, n_models))
    for r in numba.prange(rounds):
        state = (seed ^ np.uint64(0xA0761D6478BD642F)) * np.uint64(0xD1B54A32D192ED03) + np.uint64(r)
        state, _ = _splitmix64(state)
        drawn = np.empty(n_groups, np.int64)
        total = 0
        for g in range(n_groups):
            state, j = _below(state, n_groups)
            drawn[g] = j
            total += group_start[j + 1] - group_start[j]
        units = np.empty(total, np.int64)
        filled = 0
        for g in range(n_groups):
            j = drawn[g]
            for position in range(group_start[j], group_start[j + 1]):
                units[filled] = group_units[position]
                filled += 1
        rating = np.empty((n_criteria, n_models))
        if one_vote_per_unit:  # shuffle the votes themselves: no indirection in the inner loop
            for position in range(total):
                units[position] = packed[units[position]]
        for _ in range(orderings):
            rating[:, :] = initial
            for position in range(total):  # forward Fisher-Yates, fused with the updates
                state, offset = _below(state, total - position)
                j = position + offset
                units[position], units[j] = units[j], units[position]
                u = units[position]
                first, last = position, position + 1
                if not one_vote_per_unit:
                    first, last = unit_start[u], unit_start[u + 1]
                for v in range(first, last):
                    _update(rating, units[v] if one_vote_per_unit else packed[v], k, log_base_over_scale)
            out[r] += rating
            squares[r] += rating * rating
        out[r] /= orderings
        squares[r] = squares[r] / orderings - out[r] * out[r]
    return out, squares * orderings / max(orderings - 1, 1)


def _elo_pigeonhole(votes, order, packed, unit_start, rounds, orderings, seed, k, log_base_over_scale, initial):
    """(mean, within) as `_elo_bootstrap` returns them, for the pigeonhole bootstrap
    (`resample.pair_counts`, resample="prompt_rater"): each round draws prompts and raters with
    replacement, and each comparison of prompt g and rater r enters W_g * V_r times."""
    prompts, raters = (_compact(labels[order][unit_start[:-1]])[0] for labels in two_way_labels(votes))
    n_prompts, n_raters = int(prompts.max()) + 1, int(raters.max()) + 1
    rng = np.random.default_rng(seed)
    sizes = np.diff(unit_start)
    boot = np.zeros((rounds, votes.n_criteria, votes.n_models))
    within = np.zeros_like(boot)
    for r in range(rounds):
        weight = (rng.multinomial(n_prompts, np.full(n_prompts, 1.0 / n_prompts))[prompts]
                  * rng.multinomial(n_raters, np.full(n_raters, 1.0 / n_raters))[raters])
        units = np.repeat(np.arange(sizes.size), weight)
        if units.size == 0:  # no comparison drawn: the round says nothing
            boot[r], within[r] = np.nan, 0.0
            continue
        votes_of = np.concatenate([np.arange(unit_start[u], unit_start[u + 1]) for u in units]) if sizes.max() > 1 else units
        start = np.concatenate([[0], np.cumsum(sizes[units])]).astype(np.int64)
        draws = _elo_orderings(packed[votes_of], start, votes.n_criteria, votes.n_models, orderings,
                               np.uint64(int(rng.integers(2**63))), True, k, log_base_over_scale, initial)
        boot[r] = draws.mean(axis=0)
        within[r] = draws.var(axis=0, ddof=1) if orderings > 1 else 0.0
    return boot, within


def online_elo(
    votes: VoteArrays,
    permutations: int = 1000,
    seed: int | None = 0,
    *,
    k: float = 1.0,
    base: float = 10.0,
    scale: float = 400.0,
    initial: float = 1000.0,
    shuffle: bool = True,
    level: float = 0.95,
    bootstrap_rounds: int | None = None,
    orderings_per_round: int = 5,
    resample: str = "comparison",
) -> Ratings:
    """Online Elo per criterion, averaged over random orderings of the votes.

    Protocol: ADD (Sauer et al. 2023), following Boubdir et al.: each ordering runs the Elo
    update R_a += K (S_a - E_a), E_a = 1 / (1 + base**((R_b - R_a) / scale)) over every vote,
    from `initial` for all models; defaults K=1, base 10, scale 400, start 1000, 1000
    orderings. The rating is the mean over orderings.

    The interval is a bootstrap percentile interval: each of `bootstrap_rounds` rounds (default:
    permutations / 5, 200 for ADD's 1000) resamples the units (`resample`: comparisons, prompts
    or raters; prompt_rater: prompts and raters, crossed, the pigeonhole bootstrap) with
    replacement and runs `orderings_per_round` (default 5) random orderings of the resample,
    whose mean is the round's rating; the order noise left in that mean (the variance over the
    round's orderings / 5) is taken out of the spread between rounds (draws shrunk towards the
    rating by sqrt(1 - noise / spread), so an interval never sits beside its rating); the central `level` of the rounds is the interval (a
    bootstrap over prompts or raters spread by `resample.few_cluster_scale`). It narrows as
    votes grow and does not shrink with more orderings. The spread over orderings (what ADD's
    error bars show: order dependence, not a confidence interval) is kept as
    `Ratings.ordering_spread`. Orderings shuffle comparisons, so on every ordering all
    criteria see the comparisons in the same order and the combined rating is their
    per-ordering mean. shuffle=False runs the votes in the given order.
    """
    if permutations < 1:
        raise ValueError(f"permutations must be at least 1, got {permutations}")
    order, unit_start, packed = _packed_comparisons(votes)
    if seed is None:
        seed = int(np.random.default_rng().integers(2**63))
    draws = _elo_orderings(
        packed,
        unit_start,
        votes.n_criteria,
        votes.n_models,
        permutations,
        np.uint64(seed % 2**64),
        shuffle,
        float(k),
        math.log(base) / scale,
        float(initial),
    )
    votes_per_model = votes.votes_per_model()
    draws[:, votes_per_model == 0] = np.nan
    rounds = max(1, permutations // 5) if bootstrap_rounds is None else int(bootstrap_rounds)
    if rounds < 1 or orderings_per_round < 1:
        raise ValueError("bootstrap_rounds and orderings_per_round must be at least 1")
    boot, within = _elo_rounds(votes, order, packed, unit_start, rounds, int(orderings_per_round), seed, resample,
                               float(k), math.log(base) / scale, float(initial))
    if orderings_per_round > 1 and rounds > 1:
        boot = _order_noise_removed(draws, boot, within, orderings_per_round)
    # A bootstrap over prompts or raters: the few-cluster correction, as for the other methods.
    boot = spread_draws(draws.mean(axis=0), boot, few_cluster_scale(resampled_clusters(votes, resample), level))
    boot[:, votes_per_model == 0] = np.nan
    return Ratings(
        method="elo",
        model_names=votes.model_names,
        criterion_names=votes.criterion_names,
        rating=draws.mean(axis=0),
        draws=boot,
        votes=votes_per_model,
        interval_kind=ELO_BOOTSTRAP,
        level=level,
        resample=resample,
        ordering_draws=draws,
    )


def _packed_comparisons(votes: VoteArrays) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(order, unit_start, packed): the votes sorted by comparison, where each comparison's votes
    start, and each vote packed as `_update` reads it."""
    order = np.argsort(votes.comparison, kind="stable")
    unit = votes.comparison[order]
    boundaries = np.flatnonzero(np.diff(unit)) + 1
    unit_start = np.concatenate([[0], boundaries, [unit.size]]).astype(np.int64)
    if max(votes.n_models, votes.n_criteria) >= 2**20:
        raise ValueError("online_elo supports fewer than 2**20 models and criteria")
    packed = (
        votes.model_a
        | votes.model_b << 20
        | votes.criterion << 40
        | np.rint(2.0 * votes.outcome).astype(np.int64) << 60
    )[order]
    return order, unit_start, packed


def _elo_rounds(votes, order, packed, unit_start, rounds, orderings, seed, resample, k, log_base_over_scale, initial):
    """(mean, within) float[rounds, n_criteria, n_models]: the bootstrap rounds over `resample`'s
    units (`_elo_bootstrap`, or `_elo_pigeonhole` for prompt_rater)."""
    if resample == "prompt_rater":
        return _elo_pigeonhole(votes, order, packed, unit_start, rounds, orderings, seed, k, log_base_over_scale, initial)
    # Group the comparisons (units, in sorted comparison order) by the resampling unit.
    group_of_unit = unit_labels(votes, resample)[order][unit_start[:-1]]
    _, group_codes = np.unique(group_of_unit, return_inverse=True)
    group_codes = group_codes.reshape(-1)
    group_units = np.argsort(group_codes, kind="stable").astype(np.int64)
    group_start = np.concatenate([[0], np.cumsum(np.bincount(group_codes))]).astype(np.int64)
    return _elo_bootstrap(
        packed, unit_start, group_start, group_units, votes.n_criteria, votes.n_models, rounds,
        orderings, np.uint64(seed % 2**64), k, log_base_over_scale, initial,
    )


def _order_noise_removed(draws, boot, within, orderings_per_round):
    """The rounds' draws without the order noise of their few orderings.

    A round's mean over a few orderings still carries order noise (variance within / m); take it
    out of the spread between rounds, so the interval is about the votes alone. The draws shrink
    towards the point estimate (the mean over orderings of all the votes): where the spread is
    nearly all order noise the interval closes on the rating it is reported with, never beside
    it (towards the rounds' own mean it sat 0.002 Elo off the rating)."""
    centre = draws.mean(axis=0)
    between = boot.var(axis=0, ddof=1)
    noise = within.mean(axis=0) / orderings_per_round
    with np.errstate(invalid="ignore", divide="ignore"):
        factor = np.sqrt(np.clip(1.0 - noise / between, 0.0, 1.0))
    return centre + (boot - centre) * np.where(between > 0, factor, 1.0)
