"""Bradley-Terry with Davidson's tie model: ratings whose target does not move with the design.

Chatbot Arena's convention counts a tie as half a win and half a loss. With ties that is not a
likelihood of any model, and the strengths it converges to depend on which pairs were compared
how often: fitting the expected counts of one population with 10% ties gave a spread of about
1002 Elo under a uniform design and 1248 under an adjacent-heavy one. Davidson's model (R. R.
Davidson, "On extending the Bradley-Terry model to accommodate ties", JASA 65, 1970) makes the
tie an outcome of its own:

    P(i beats j) = pi_i / D,   P(j beats i) = pi_j / D,   P(tie) = nu sqrt(pi_i pi_j) / D,
    D = pi_i + pi_j + nu sqrt(pi_i pi_j),

with one tie parameter nu >= 0 per criterion. Given that the answer is not a tie, i beats j with
the Bradley-Terry probability pi_i / (pi_i + pi_j), so the ratings sit on the same Elo scale as
`bradley_terry`'s; and as a likelihood its maximum is consistent for the same strengths whatever
the design (also an adaptive one whose choices depend only on earlier votes). Without ties in a
table it is plain Bradley-Terry.

The fit: Newton's method on (log pi, log nu), batched over bootstrap tables like
`fit_bradley_terry`; the negative log-likelihood is a log-sum-exp of linear functions, so convex.
"""

from __future__ import annotations

import numpy as np

from .arrays import VoteArrays
from .bradley_terry import _DIVERGED, _MAX_STEP, _connected, bootstrap_ratings
from .ratings import Ratings, nan_mean
from .resample import HI_WINS, LO_WINS, TIES, pair_counts


def fit_davidson(
    counts: np.ndarray, lo: np.ndarray, hi: np.ndarray, n_models: int, *, tol: float = 1e-10, max_iter: int = 100
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Maximum-likelihood Davidson strengths for a batch of count tables float[B, P, 3] (lo wins,
    hi wins, ties per pair). Returns (strength float[B, M], natural units, mean 0 over the models
    with games, NaN for the others; tie parameter nu float[B] (0 for a table without ties);
    converged bool[B])."""
    counts = np.asarray(counts, dtype=np.float64)
    if counts.ndim == 2:
        counts = counts[None]
    n_tables, n_pairs = counts.shape[0], lo.size
    lo_wins, hi_wins, ties = counts[..., LO_WINS], counts[..., HI_WINS], counts[..., TIES]
    games = lo_wins + hi_wins + ties
    incidence = np.zeros((n_pairs, n_models))
    incidence[np.arange(n_pairs), lo] = 1.0
    incidence[np.arange(n_pairs), hi] = -1.0
    played = (games @ np.abs(incidence)) > 0
    has_ties = ties.sum(axis=1) > 0
    tie_share = ties.sum(axis=1) / np.maximum(games.sum(axis=1), 1.0)
    # nu = 2t / (1 - t) makes the tie share t at equal strengths: a start near the answer.
    log_nu = np.where(has_ties, np.log(np.maximum(2.0 * tie_share / np.maximum(1.0 - tie_share, 1e-9), 1e-12)), 0.0)
    strength = np.zeros((n_tables, n_models))
    converged = np.zeros(n_tables, dtype=bool)
    size = n_models + 1
    # The mean strength is free (J / M pins it, as in fit_bradley_terry); a table without ties has
    # no nu to fit (its row is the identity and its gradient zero); a model without games likewise.
    anchor = np.zeros((size, size))
    anchor[:n_models, :n_models] = 1.0 / n_models
    anchor += 1e-12 * max(1.0, float(games.max(initial=0.0))) * np.eye(size)  # a fit running off to infinity stays solvable
    todo = np.arange(n_tables)
    for _ in range(max_iter):
        r, lw, hw, t, n = strength[todo], lo_wins[todo], hi_wins[todo], ties[todo], games[todo]
        nu = np.where(has_ties[todo], np.exp(log_nu[todo]), 0.0)[:, None]
        half = 0.5 * (r[:, lo] - r[:, hi])
        cosh, sinh = np.cosh(half), np.sinh(half)
        denominator = 2.0 * cosh + nu
        # Log-likelihood per pair: (lw - hw) x / 2 + t log nu - n log(2 cosh(x / 2) + nu), x = r_lo - r_hi.
        grad_x = 0.5 * (lw - hw) - n * sinh / denominator
        grad_nu = np.where(has_ties[todo], t.sum(axis=1) - (n * nu / denominator).sum(axis=1), 0.0)
        # d2/dx2 log(2 cosh(x / 2) + nu) = (cosh D / 2 - sinh**2) / D**2 = (1 + nu cosh / 2) / D**2.
        curve_x = n * (1.0 + 0.5 * nu * cosh) / denominator**2
        curve_nu = (n * nu * (denominator - nu) / denominator**2).sum(axis=1)
        cross = -(n * sinh * nu / denominator**2) @ incidence
        hessian = np.zeros((todo.size, size, size))
        hessian[:, lo, hi] = -curve_x
        hessian[:, hi, lo] = -curve_x
        diagonal = np.arange(n_models)
        hessian[:, diagonal, diagonal] = -hessian[:, :n_models, :n_models].sum(axis=2) + np.where(played[todo], 0.0, 1.0)
        hessian[:, :n_models, n_models] = cross
        hessian[:, n_models, :n_models] = cross
        hessian[:, n_models, n_models] = np.where(has_ties[todo], curve_nu, 1.0)
        gradient = np.concatenate([grad_x @ incidence, grad_nu[:, None]], axis=1)
        step = np.linalg.solve(hessian + anchor, gradient[..., None])[..., 0]
        step = np.clip(step, -_MAX_STEP, _MAX_STEP)
        strength[todo] = r + step[:, :n_models]
        log_nu[todo] = log_nu[todo] + step[:, n_models]
        moved = step[:, :n_models] - nan_mean(np.where(played[todo], step[:, :n_models], np.nan), axis=1)[:, None]
        done = (np.abs(np.where(played[todo], moved, 0.0)).max(axis=1) < tol) & (np.abs(step[:, n_models]) < tol)
        diverged = (np.abs(strength[todo]).max(axis=1) > _DIVERGED) | (np.abs(log_nu[todo]) > _DIVERGED)
        converged[todo[done & ~diverged]] = True
        todo = todo[~done & ~diverged]
        if todo.size == 0:
            break
    converged &= _connected(games, lo, hi, n_models, played)
    strength = np.where(played, strength, np.nan)
    nu = np.where(has_ties, np.exp(log_nu), 0.0)
    return strength - nan_mean(strength, axis=1)[:, None], nu, converged


def _table_fit(counts: np.ndarray, lo, hi, n_models) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """fit_davidson over count tables float[..., P, 3] -> (float[..., M], float[...], bool[...])."""
    lead_shape = counts.shape[:-2]
    strength, nu, converged = fit_davidson(counts.reshape(-1, *counts.shape[-2:]), lo, hi, n_models)
    return strength.reshape(*lead_shape, n_models), nu.reshape(lead_shape), converged.reshape(lead_shape)


def davidson(
    votes: VoteArrays,
    rounds: int = 1000,
    seed: int | None = 0,
    *,
    resample: str = "comparison",
    scale: float = 400.0,
    base: float = 10.0,
    center: float = 1000.0,
    anchor: tuple[str, float] | None = None,
    level: float = 0.95,
) -> Ratings:
    """Bradley-Terry ratings with Davidson's tie model, per criterion, with bootstrap percentile
    intervals: the same protocol, scale, resampling units and `converged` flags as
    `bradley_terry` (Chatbot Arena's), except that a tie is its own outcome instead of half a win,
    so the ratings estimate one population's strengths under any design. With forced choice (no
    ties) the two coincide."""
    def fit(counts):
        strength, _, converged = _table_fit(counts, tables.lo, tables.hi, votes.n_models)
        return strength, converged

    tables = pair_counts(votes, rounds, np.random.default_rng(seed), resample)
    return bootstrap_ratings("davidson", votes, tables, fit, resample, level, scale=scale, base=base, center=center, anchor=anchor)
