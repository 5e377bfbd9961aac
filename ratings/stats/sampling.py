"""Adaptive pair sampling and an anytime-valid stopping rule for ranking studies.

Pure NumPy, no Django: the rules act on per-pair vote counts, so the background task that
writes a study's pair weights, the votes-needed forecast (`forecast.py`) and the tests all call
the same functions.

The fit. Each criterion's Bradley-Terry strengths (natural units, P(i beats j) = 1 / (1 +
exp(r_j - r_i)), a tie half a win) are fitted by Newton's method with a weak Gaussian prior
(`PRIOR`, precision per model) so the fit exists before every model has won and lost; the
covariance of the strengths is the inverse of the penalised Fisher information.

The stopping rule (`separation`). Two models i, j are separated when the Wald statistic of their
difference, z = d / se(d), crosses the normal-mixture boundary of Robbins (1970), the one-
dimensional case of Howard, Ramdas, McAuliffe & Sekhon, "Time-uniform, nonparametric,
nonasymptotic confidence sequences" (Annals of Statistics 2021), as used for always-valid
p-values in A/B tests by Johari, Koomen, Pekelis & Walsh ("Peeking at A/B tests", KDD 2017):

    z**2 >= (1 + 1 / (tau**2 I)) * (2 log(1 / alpha) + log(1 + tau**2 I)),   I = 1 / se(d)**2

The score d * I follows (asymptotically, also under adaptive designs, whose choice of pair
depends only on earlier votes) a Brownian motion in information time I; mixing its likelihood
ratio over a N(0, tau**2) drift gives a nonnegative martingale, and Ville's inequality bounds
the chance that it ever crosses 1 / alpha. So the rule may be checked after every batch of votes
(peeking) and still declares a false separation with probability at most alpha. tau (`TAU`,
0.3 natural units = 52 Elo) is the size of difference the boundary is tuned for.

The sampling rule (`pair_weights`). A study is decided when every pair of adjacent models in
each criterion's ranking is separated, so votes go to the adjacent pairs that are not yet:
each unresolved adjacent pair (i, j) claims a share of the adaptive votes in proportion to the
information it still needs, I* - I with I* = (boundary / d)**2 (|d| floored at `MIN_GAP`), and
spends that share on the model pairs where one more vote adds most information about d_ij
(Sherman-Morrison on the Fisher information; in proportion to the squared gain, so mostly the
direct pair, and a neighbour's pair when the two are linked through it). This is the racing /
LUCB family of rules for identifying a ranking (votes go where the order is still uncertain,
settled pairs drop out), with Chatbot Arena's per-vote information gain (Chiang et al. 2024,
section 5) as the measure of a vote's value. A share `exploration` (default 0.2) of votes is
spread uniformly over all pairs, so every pair keeps getting votes and a wrong early fit cannot
starve the pair that would correct it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .bradley_terry import fit_bradley_terry

#: Elo points per natural unit of Bradley-Terry strength (base 10, scale 400).
ELO_PER_UNIT = 400.0 / np.log(10.0)
#: Precision of the zero-mean Gaussian prior on each strength: worth 0.04 of a vote's information.
PRIOR = 0.01
#: Mixing scale of the normal-mixture boundary, in natural units (52 Elo).
TAU = 0.3
#: Smallest gap (natural units, 5 Elo) used when estimating how much information a pair needs.
MIN_GAP = 5.0 / ELO_PER_UNIT
STOP_RULES = ("target", "separated", "width")


def pair_index(n_models: int) -> tuple[np.ndarray, np.ndarray]:
    """(lo, hi): every unordered model pair lo < hi, in the order pair weights use."""
    lo, hi = np.triu_indices(n_models, k=1)
    return lo.astype(np.int64), hi.astype(np.int64)


@dataclass(frozen=True)
class Fit:
    """Bradley-Terry fits of a batch of count tables.

    strength: float[..., M] natural units, mean 0; covariance: float[..., M, M];
    lo, hi: the pairs the counts are over (int[P]); games: float[..., P] (None: unknown)."""

    strength: np.ndarray
    covariance: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    games: np.ndarray | None = None

    @property
    def n_models(self) -> int:
        return self.strength.shape[-1]


def fit(counts: np.ndarray, lo: np.ndarray, hi: np.ndarray, n_models: int, *, prior: float = PRIOR) -> Fit:
    """Penalised Bradley-Terry fits of count tables float[..., P, 3] (lo wins, hi wins, ties)."""
    counts = np.asarray(counts, dtype=np.float64)
    lead = counts.shape[:-2]
    flat = counts.reshape(-1, *counts.shape[-2:])
    wins = flat[..., 0] + 0.5 * flat[..., 2]
    games = flat.sum(axis=-1)
    strength, _ = fit_bradley_terry(wins, games, lo, hi, n_models, prior=prior)
    strength = np.nan_to_num(strength)  # a model without games sits at the prior's mean
    information = fisher_information(strength, games, lo, hi, n_models) + prior * np.eye(n_models)
    covariance = np.linalg.inv(information)
    return Fit(
        strength=strength.reshape(*lead, n_models),
        covariance=covariance.reshape(*lead, n_models, n_models),
        lo=lo,
        hi=hi,
        games=games.reshape(*lead, lo.size),
    )


def vote_information(strength: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Fisher information of one vote on each pair, p (1 - p): float[..., P]."""
    p = 1.0 / (1.0 + np.exp(strength[..., hi] - strength[..., lo]))
    return p * (1.0 - p)


def fisher_information(strength, games, lo, hi, n_models) -> np.ndarray:
    """The Bradley-Terry Fisher information (a weighted graph Laplacian): float[..., M, M]."""
    weight = games * vote_information(strength, lo, hi)
    lead = weight.shape[:-1]
    information = np.zeros((*lead, n_models, n_models))
    information[..., lo, hi] = -weight
    information[..., hi, lo] = -weight
    diagonal = np.arange(n_models)
    information[..., diagonal, diagonal] = -information.sum(axis=-1)
    return information


def difference_variance(covariance: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Var(r_i - r_j) for index arrays i, j (broadcast over the leading axes)."""
    ii = np.take_along_axis(np.diagonal(covariance, axis1=-2, axis2=-1), i, axis=-1)
    jj = np.take_along_axis(np.diagonal(covariance, axis1=-2, axis2=-1), j, axis=-1)
    rows = np.take_along_axis(covariance, i[..., :, None], axis=-2)  # [..., K, M]
    ij = np.take_along_axis(rows, j[..., :, None], axis=-1)[..., 0]
    return np.maximum(ii + jj - 2.0 * ij, 1e-300)


def boundary(information: np.ndarray, *, alpha: float, tau: float = TAU) -> np.ndarray:
    """The |z| a difference must reach to be declared separated at information I (see module)."""
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must lie strictly between 0 and 1, got {alpha}")
    spread = tau**2 * np.asarray(information, dtype=np.float64)
    return np.sqrt((1.0 + 1.0 / np.maximum(spread, 1e-300)) * (2.0 * np.log(1.0 / alpha) + np.log1p(spread)))


@dataclass(frozen=True)
class Separation:
    """Adjacent pairs of each ranking and whether each is separated.

    order: int[..., M], models best first; upper, lower: int[..., M-1], each adjacent pair (the
    better model first); z, threshold: float[..., M-1]; separated: bool[..., M-1]; considered:
    bool[..., M-1], the pairs the stopping rule looks at (all, or the top k); half_width:
    float[..., M], each model's anytime-valid interval half-width in Elo points."""

    order: np.ndarray
    upper: np.ndarray
    lower: np.ndarray
    z: np.ndarray
    threshold: np.ndarray
    information: np.ndarray
    separated: np.ndarray
    considered: np.ndarray
    half_width: np.ndarray

    def decided(self) -> np.ndarray:
        """bool[...]: every considered adjacent pair separated (over the last axis)."""
        return (self.separated | ~self.considered).all(axis=-1)


def separation(model_fit: Fit, *, alpha: float = 0.05, top_k: int | None = None, tau: float = TAU) -> Separation:
    """Which adjacent pairs of each fitted ranking are separated at anytime-valid level alpha."""
    strength, covariance = model_fit.strength, model_fit.covariance
    n_models = strength.shape[-1]
    order = np.argsort(-strength, axis=-1, kind="stable")
    upper, lower = order[..., :-1], order[..., 1:]
    variance = difference_variance(covariance, upper, lower)
    information = 1.0 / variance
    gap = np.take_along_axis(strength, upper, axis=-1) - np.take_along_axis(strength, lower, axis=-1)
    z = gap * np.sqrt(information)
    threshold = boundary(information, alpha=alpha, tau=tau)
    considered = np.ones(upper.shape, dtype=bool)
    if top_k is not None:
        if not 1 <= top_k < n_models:
            raise ValueError(f"top_k must be between 1 and {n_models - 1} (the number of models minus one), got {top_k}")
        considered[..., top_k:] = False
    model_variance = np.maximum(np.diagonal(covariance, axis1=-2, axis2=-1), 1e-300)
    half_width = np.sqrt(model_variance) * boundary(1.0 / model_variance, alpha=alpha, tau=tau) * ELO_PER_UNIT
    return Separation(
        order=order, upper=upper, lower=lower, z=z, threshold=threshold, information=information,
        separated=z >= threshold, considered=considered, half_width=half_width,
    )


def stop_reached(model_fit: Fit, *, rule: str, alpha: float = 0.05, top_k: int | None = None, width: float | None = None) -> np.ndarray:
    """bool[...] per fit (criteria on the second-to-last axis of the fit's lead are all
    required): `separated` when every considered adjacent pair is separated in every criterion,
    `width` when every model's interval (anytime-valid, Elo points) is narrower than `width`."""
    result = separation(model_fit, alpha=alpha, top_k=top_k)
    if rule == "separated":
        per_criterion = result.decided()
    elif rule == "width":
        if width is None or width <= 0:
            raise ValueError("the width rule needs a positive width in Elo points")
        per_criterion = (2.0 * result.half_width < width).all(axis=-1)
    else:
        raise ValueError(f"stop rule must be 'separated' or 'width' here, got {rule!r}")
    return per_criterion.all(axis=-1)


def pair_weights(
    model_fit: Fit,
    *,
    exploration: float = 0.2,
    alpha: float = 0.05,
    top_k: int | None = None,
    tau: float = TAU,
) -> np.ndarray:
    """Serving probabilities of every model pair (float[..., P] over `pair_index` order, summing
    to 1), for fits whose second-to-last lead axis is the criteria: the adaptive share goes to
    the unresolved adjacent pairs of every criterion in proportion to the information each still
    needs, then as the module describes. With nothing left to separate, every pair is served
    uniformly."""
    if not 0.0 <= exploration <= 1.0:
        raise ValueError(f"exploration must lie between 0 and 1, got {exploration}")
    strength, covariance, lo, hi = model_fit.strength, model_fit.covariance, model_fit.lo, model_fit.hi
    n_pairs = lo.size
    result = separation(model_fit, alpha=alpha, top_k=top_k, tau=tau)
    # Information still needed by each adjacent pair: [..., C, K].
    gap = np.maximum(
        np.take_along_axis(strength, result.upper, axis=-1) - np.take_along_axis(strength, result.lower, axis=-1),
        MIN_GAP,
    )
    needed = (result.threshold / gap) ** 2
    remaining = np.where(result.separated | ~result.considered, 0.0, np.maximum(needed - result.information, 0.0))
    # Information one vote on pair (a, b) adds about each adjacent difference: [..., C, K, P].
    contrast = np.zeros((*result.upper.shape, strength.shape[-1]))
    np.put_along_axis(contrast, result.upper[..., None], 1.0, axis=-1)
    np.put_along_axis(contrast, result.lower[..., None], -1.0, axis=-1)
    projected = contrast @ covariance  # [..., C, K, M]: c' Sigma
    along = projected[..., lo] - projected[..., hi]  # c' Sigma u for every pair u = e_a - e_b
    pair_variance = difference_variance(covariance, np.broadcast_to(lo, (*strength.shape[:-1], n_pairs)),
                                         np.broadcast_to(hi, (*strength.shape[:-1], n_pairs)))
    per_vote = vote_information(strength, lo, hi)  # [..., C, P]
    variance = 1.0 / result.information  # [..., C, K]
    reduction = per_vote[..., None, :] * along**2 / (1.0 + per_vote[..., None, :] * pair_variance[..., None, :])
    gain = 1.0 / np.maximum(variance[..., None] - reduction, 1e-300) - result.information[..., None]
    preference = gain**2
    preference = preference / np.maximum(preference.sum(axis=-1, keepdims=True), 1e-300)
    claim = remaining / np.maximum(remaining.sum(axis=(-1, -2), keepdims=True), 1e-300)  # over criteria and pairs
    adaptive = (claim[..., None] * preference).sum(axis=(-2, -3))  # [..., P]
    uniform = np.full(n_pairs, 1.0 / n_pairs)
    total = adaptive.sum(axis=-1, keepdims=True)
    if model_fit.games is not None:
        # Before every pair has had a vote on average, the order is noise: serve uniformly.
        votes_so_far = model_fit.games.sum(axis=(-1, -2))[..., None]
        total = np.where(votes_so_far < n_pairs * strength.shape[-2], 0.0, total)
    adaptive = np.where(total > 0, adaptive / np.maximum(total, 1e-300), uniform)
    return exploration * uniform + (1.0 - exploration) * adaptive
