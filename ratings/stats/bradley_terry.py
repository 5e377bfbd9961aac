"""Bradley-Terry maximum likelihood with bootstrap intervals (the Chatbot Arena protocol)."""

from __future__ import annotations

import numpy as np

from .arrays import VoteArrays
from .ratings import BOOTSTRAP, Ratings, nan_mean
from .resample import HI_WINS, LO_WINS, TIES, few_cluster_scale, pair_counts, resampled_clusters, spread_draws

#: A strength beyond this (natural units; P(win) = 1 - 1e-13) means the MLE does not exist:
#: some model won, or lost, every comparison that links it to the rest.
_DIVERGED = 30.0
_MAX_STEP = 5.0


def fit_bradley_terry(
    wins: np.ndarray,
    games: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    n_models: int,
    *,
    prior: float = 0.0,
    tol: float = 1e-10,
    max_iter: int = 100,
) -> tuple[np.ndarray, np.ndarray]:
    """Maximum-likelihood strengths for a batch of count tables, by Newton's method.

    wins: float[B, P], lo[p]'s wins over hi[p] (a tie counts half a win) in each of B tables.
    games: float[B, P], the games of each pair. Model: P(lo beats hi) = 1 / (1 + exp(r_hi - r_lo)).
    prior: precision of a zero-mean Gaussian prior on r (0: plain maximum likelihood).
    Returns (strength float[B, M] in natural units, centred to mean 0 over the models that have
    games in that table, NaN for the others; converged bool[B]). All B tables are solved at once:
    each step is one batched M x M solve, so there is no Python loop over tables.
    """
    wins = np.atleast_2d(np.asarray(wins, dtype=np.float64))
    games = np.atleast_2d(np.asarray(games, dtype=np.float64))
    n_tables = wins.shape[0]
    incidence = np.zeros((lo.size, n_models))
    incidence[np.arange(lo.size), lo] = 1.0
    incidence[np.arange(lo.size), hi] = -1.0
    played = (games @ np.abs(incidence)) > 0
    strength = np.zeros((n_tables, n_models))
    converged = np.zeros(n_tables, dtype=bool)
    # The Laplacian is singular along each connected component's constant vector, where the
    # gradient has no component. Without a prior, J / M (the mean of the strengths, pinned by
    # the centring anyway) fixes the constant direction of a connected graph: a tiny ridge alone
    # let rounding noise in the gradient, divided by the ridge, push every step along that
    # direction, so well-connected fits never met the tolerance and were reported as having no
    # finite MLE. A model without games keeps a unit diagonal (its gradient is zero). A graph of
    # several components stays singular along their relative levels: its MLE is not unique, and
    # the fit is left to report that it did not converge.
    if prior > 0:
        anchor = prior * np.eye(n_models)
    else:
        anchor = np.ones((n_models, n_models)) / n_models + 1e-12 * max(1.0, float(games.max(initial=0.0))) * np.eye(n_models)
    unplayed_diagonal = np.where(played, 0.0, 1.0)
    todo = np.arange(n_tables)
    for _ in range(max_iter):
        r, w, n = strength[todo], wins[todo], games[todo]
        p = 1.0 / (1.0 + np.exp(r[:, hi] - r[:, lo]))
        gradient = (w - n * p) @ incidence - prior * r
        curvature = n * p * (1.0 - p)
        hessian = np.zeros((todo.size, n_models, n_models))
        hessian[:, lo, hi] = -curvature
        hessian[:, hi, lo] = -curvature
        hessian[:, np.arange(n_models), np.arange(n_models)] = -hessian.sum(axis=2) + unplayed_diagonal[todo]
        step = np.linalg.solve(hessian + anchor, gradient[..., None])[..., 0]
        step = np.clip(step, -_MAX_STEP, _MAX_STEP)
        strength[todo] = r + step
        # Converged when the step has no component but a shift of every played model together
        # (which the centring below removes): the likelihood does not see such a shift.
        moved = step - nan_mean(np.where(played[todo], step, np.nan), axis=1)[:, None]
        done = np.abs(np.where(played[todo], moved, 0.0)).max(axis=1) < tol
        diverged = np.abs(strength[todo]).max(axis=1) > _DIVERGED
        converged[todo[done & ~diverged]] = True
        todo = todo[~done & ~diverged]
        if todo.size == 0:
            break
    if prior == 0:
        converged &= _connected(games, lo, hi, n_models, played)
    strength = np.where(played, strength, np.nan)
    return strength - nan_mean(strength, axis=1)[:, None], converged


def _connected(games: np.ndarray, lo, hi, n_models: int, played: np.ndarray) -> np.ndarray:
    """bool[B]: whether the models with games form one comparison graph in each table. Counted
    from the graph Laplacian's zero eigenvalues: one per connected group of played models, one
    per model without games. Several groups have no unique MLE (their relative level is free)."""
    adjacency = np.zeros((games.shape[0], n_models, n_models))
    linked = (games > 0).astype(np.float64)
    adjacency[:, lo, hi] = linked
    adjacency[:, hi, lo] = linked
    laplacian = np.eye(n_models) * adjacency.sum(axis=2)[:, :, None] - adjacency
    eigenvalues = np.linalg.eigvalsh(laplacian)
    groups = (eigenvalues < 1e-9).sum(axis=1) - (~played).sum(axis=1)
    return groups <= 1


def _table_strength(counts: np.ndarray, lo, hi, n_models, prior) -> tuple[np.ndarray, np.ndarray]:
    """Strengths for count tables float[..., P, 3] -> (float[..., M], bool[...])."""
    lead_shape = counts.shape[:-2]
    flat = counts.reshape(-1, *counts.shape[-2:])
    wins = flat[..., LO_WINS] + 0.5 * flat[..., TIES]
    games = flat[..., LO_WINS] + flat[..., HI_WINS] + flat[..., TIES]
    strength, converged = fit_bradley_terry(wins, games, lo, hi, n_models, prior=prior)
    return strength.reshape(*lead_shape, n_models), converged.reshape(lead_shape)


def to_elo_scale(
    strength: np.ndarray,
    model_names: tuple[str, ...],
    *,
    scale: float = 400.0,
    base: float = 10.0,
    center: float = 1000.0,
    anchor: tuple[str, float] | None = None,
) -> np.ndarray:
    """Natural-unit strengths (last axis = models) on the Elo scale: scale / ln(base) per unit,
    mean-centred at `center`, or with anchor=(model, rating) that model pinned at that rating."""
    elo = strength * (scale / np.log(base))
    if anchor is None:
        return elo + center
    name, rating = anchor
    if name not in model_names:
        raise ValueError(f"anchor model {name!r} is not among the models: {', '.join(model_names)}")
    index = model_names.index(name)
    return elo - elo[..., index : index + 1] + rating


def bradley_terry(
    votes: VoteArrays,
    rounds: int = 1000,
    seed: int | None = 0,
    *,
    resample: str = "comparison",
    scale: float = 400.0,
    base: float = 10.0,
    center: float = 1000.0,
    anchor: tuple[str, float] | None = None,
    prior: float = 0.0,
    level: float = 0.95,
) -> Ratings:
    """Bradley-Terry ratings per criterion with bootstrap percentile intervals.

    Protocol: Chatbot Arena's (FastChat `compute_mle_elo` / `compute_bootstrap_mle_elo`):
    maximum likelihood of P(i beats j) = 1 / (1 + base**((R_j - R_i) / scale)), a tie counting
    as half a win and half a loss; ratings on the Elo scale (base 10, scale 400), mean-centred at
    1000 or anchored with anchor=(model, rating); `rounds` (default 1000) bootstrap rounds that
    resample comparisons (or prompts or raters: resample="prompt" | "rater") with replacement, the same draw for
    every criterion; the interval is the central `level` (95%) percentile interval.
    The point estimate is the fit on all votes. `converged` is False when it has no finite MLE
    (a model won or lost all its games; its rating then stops near 30 natural units from the
    rest); `unconverged_rounds` counts the bootstrap rounds where that happens.
    """
    def fit(counts):
        return _table_strength(counts, tables.lo, tables.hi, votes.n_models, prior)

    tables = pair_counts(votes, rounds, np.random.default_rng(seed), resample)
    return bootstrap_ratings("bt", votes, tables, fit, resample, level, scale=scale, base=base, center=center, anchor=anchor)


def bootstrap_ratings(method: str, votes: VoteArrays, tables, fit, resample: str, level: float, **on_scale) -> Ratings:
    """`Ratings` of a strength estimator over count tables: `fit(counts float[..., P, 3]) ->
    (strength float[..., M], converged bool[...])` on all votes and on each bootstrap draw of
    `tables` (`resample.pair_counts`), on the Elo scale of `on_scale` (`to_elo_scale`). A
    cluster bootstrap's draws are spread by `resample.few_cluster_scale` about the point
    estimate (the few-cluster correction: G / (G - 1) and Student's t on G - 1)."""
    rounds = 0 if tables.draws is None else tables.draws.shape[0]
    point, point_ok = fit(tables.counts)
    draws, draws_ok = fit(tables.draws) if rounds > 0 else (point[None], point_ok[None])
    if rounds > 0:
        draws = spread_draws(point, draws, few_cluster_scale(resampled_clusters(votes, resample), level))
    return Ratings(
        method=method,
        model_names=votes.model_names,
        criterion_names=votes.criterion_names,
        rating=to_elo_scale(point, votes.model_names, **on_scale),
        draws=to_elo_scale(draws, votes.model_names, **on_scale),
        votes=votes.votes_per_model(),
        interval_kind=BOOTSTRAP,
        level=level,
        converged=bool(point_ok.all()),
        resample="prompt" if resample == "cluster" else resample,
        unconverged_rounds=int((~draws_ok).any(axis=-1).sum()) if rounds > 0 else 0,
    )
