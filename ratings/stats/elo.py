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
from .ratings import ORDERINGS, Ratings

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


@numba.njit(cache=True, parallel=True)
def _elo_orderings(packed, unit_start, n_criteria, n_models, n_orderings, seed, shuffle, k,
                   log_base_over_scale, initial):
    """float[n_orderings, n_criteria, n_models]: final ratings of each ordering of the units
    (comparisons). Unit u holds votes unit_start[u]:unit_start[u + 1]; a vote is packed as
    model_a | model_b << 20 | criterion << 40 | (2 * score) << 60."""
    n_units = unit_start.size - 1
    one_vote_per_unit = unit_start[n_units] == n_units
    mask20 = np.int64((1 << 20) - 1)
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
                word = packed[v]
                a = word & mask20
                b = (word >> 20) & mask20
                c = (word >> 40) & mask20
                score = 0.5 * (word >> 60)
                expected_a = 1.0 / (1.0 + math.exp((rating[c, b] - rating[c, a]) * log_base_over_scale))
                delta = k * (score - expected_a)
                rating[c, a] += delta
                rating[c, b] -= delta
    return out


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
) -> Ratings:
    """Online Elo per criterion, averaged over random orderings of the votes.

    Protocol: ADD (Sauer et al. 2023), following Boubdir et al.: each ordering runs the Elo
    update R_a += K (S_a - E_a), E_a = 1 / (1 + base**((R_b - R_a) / scale)) over every vote,
    from `initial` for all models; defaults K=1, base 10, scale 400, start 1000, 1000
    orderings. The rating is the mean over orderings; the interval is the central `level`
    (2.5 / 97.5 percent) spread over orderings: it measures order dependence, it is not a
    confidence interval. Orderings shuffle comparisons, so on every ordering all criteria see
    the comparisons in the same order and the combined rating is their per-ordering mean.
    shuffle=False runs the votes in the given order (every "ordering" is then identical).
    """
    if permutations < 1:
        raise ValueError(f"permutations must be at least 1, got {permutations}")
    order = np.argsort(votes.comparison, kind="stable")
    unit = votes.comparison[order]
    boundaries = np.flatnonzero(np.diff(unit)) + 1
    unit_start = np.concatenate([[0], boundaries, [unit.size]]).astype(np.int64)
    if seed is None:
        seed = int(np.random.default_rng().integers(2**63))
    if max(votes.n_models, votes.n_criteria) >= 2**20:
        raise ValueError("online_elo supports fewer than 2**20 models and criteria")
    packed = (
        votes.model_a
        | votes.model_b << 20
        | votes.criterion << 40
        | np.rint(2.0 * votes.outcome).astype(np.int64) << 60
    )[order]
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
    return Ratings(
        method="elo",
        model_names=votes.model_names,
        criterion_names=votes.criterion_names,
        rating=draws.mean(axis=0),
        draws=draws,
        votes=votes_per_model,
        interval_kind=ORDERINGS,
        level=level,
    )
