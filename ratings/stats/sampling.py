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

The inference unit (issue 24). A study's conclusions are about a unit: `comparison` (these
prompts and raters: each comparison independent, the model-based covariance above), `prompt`
(prompts like these) or `prompt_rater` (prompts and raters like these). Prompts are not
exchangeable comparisons: a model that wins on portraits loses on text, so votes on one prompt
share its deviation, and a rule that treats them as independent stops on evidence about the
prompts served, not about the population they were drawn from. Under `prompt` the covariance of
the strengths is the cluster-robust sandwich (Liang & Zeger 1986; Cameron & Miller, "A
Practitioner's Guide to Cluster-Robust Inference", J. Human Resources 2015)

    V = H^-1 (G / (G - 1)) sum_g S_g S_g' H^-1,    S_g = sum over the votes of prompt g of (y - p) (e_a - e_b)

(H the penalised Fisher information, G the prompts with votes; G / (G - 1) the small-cluster
correction), and under `prompt_rater` the two-way version of Cameron, Gelbach & Miller ("Robust
inference with multiway clustering", JBES 2011): V_prompt + V_rater - V_(prompt x rater), its
negative eigenvalues set to zero. A contrast's variance is never below the model-based one (a
sandwich from few clusters is biased down), and its z is moved to the normal scale through
Student's t, the usual few-cluster correction (Cameron & Miller, section VI), with G - 1 degrees
of freedom (fewest clusters of a two-way term) for the part of the variance the clusters add
beyond the model-based one, by Satterthwaite's approximation (`effective_df`): a study whose
prompts do not differ pays no few-cluster penalty. Plugged into the same normal-mixture boundary,
this is an asymptotic confidence sequence in the sense of Waudby-Smith, Arnold, Wu & Ramdas,
"Time-uniform central limit theory and asymptotic confidence sequences" (Annals of Statistics
2024): the boundary of the Gaussian case with an estimated variance, valid as the information
grows.

With a fixed set of G prompts the prompt part of the variance does not shrink with more votes:
se(d) has a floor, estimated as the prompt-clustered minus the per-vote sandwich variance of the
difference (the per-vote one, not the model's: a tie scored 1/2 varies less than the model says). When
|d| / floor stays under the boundary at the floor's information, no budget separates the pair for
the population (`Separation.floor_limited`), and `prompts_needed` says how many prompts would.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .bradley_terry import fit_bradley_terry
from .rules import StopWhen, Unit, names
from .sandwich import (
    contrast_covariance, difference_variance, effective_df, fisher_information, robust_covariance, t_to_z, vote_information,
    vote_meat,
)

#: Elo points per natural unit of Bradley-Terry strength (base 10, scale 400).
ELO_PER_UNIT = 400.0 / np.log(10.0)
#: Precision of the zero-mean Gaussian prior on each strength: worth 0.04 of a vote's information.
PRIOR = 0.01
#: Mixing scale of the normal-mixture boundary, in natural units (52 Elo).
TAU = 0.3
#: Smallest gap (natural units, 5 Elo) used when estimating how much information a pair needs.
MIN_GAP = 5.0 / ELO_PER_UNIT
STOP_RULES = names(StopWhen)
#: What a study's conclusions are about (see the module's docstring).
UNITS = names(Unit)


def pair_index(n_models: int) -> tuple[np.ndarray, np.ndarray]:
    """(lo, hi): every unordered model pair lo < hi, in the order pair weights use."""
    lo, hi = np.triu_indices(n_models, k=1)
    return lo.astype(np.int64), hi.astype(np.int64)


@dataclass(frozen=True)
class Fit:
    """Bradley-Terry fits of a batch of count tables.

    strength: float[..., M] natural units, mean 0; covariance: float[..., M, M] (model-based);
    lo, hi: the pairs the counts are over (int[P]); games: float[..., P] (None: unknown);
    robust: float[..., M, M], the cluster-robust covariance on the study's unit (None: the unit
    is the comparison); clusters: float[...], the clusters of the fewest-cluster term (its
    degrees of freedom are clusters - 1)."""

    strength: np.ndarray
    covariance: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    games: np.ndarray | None = None
    robust: np.ndarray | None = None
    clusters: np.ndarray | None = None
    per_vote: np.ndarray | None = None  # float[..., M, M]: the sandwich with every vote its own cluster

    def take(self, index) -> "Fit":
        """The fits at ``index`` of the first lead axis."""
        pick = lambda array: None if array is None else array[index]  # noqa: E731
        return Fit(self.strength[index], self.covariance[index], self.lo, self.hi, pick(self.games), pick(self.robust),
                   pick(self.clusters), pick(self.per_vote))

    @property
    def n_models(self) -> int:
        return self.strength.shape[-1]


def fit(
    counts: np.ndarray, lo: np.ndarray, hi: np.ndarray, n_models: int, *, prior: float = PRIOR,
    clustered: tuple = (),
) -> Fit:
    """Penalised Bradley-Terry fits of count tables float[..., P, 3] (lo wins, hi wins, ties).

    clustered: the terms of a cluster-robust covariance, each (cluster counts float[..., G, P, 3]
    with the lead of ``counts``, sign): ((prompt, +1),) for the prompt unit; ((prompt, +1),
    (rater, +1), (prompt x rater cell, -1)) for prompt_rater (``unit_terms`` makes them)."""
    counts = np.asarray(counts, dtype=np.float64)
    lead = counts.shape[:-2]
    flat = counts.reshape(-1, *counts.shape[-2:])
    wins = flat[..., 0] + 0.5 * flat[..., 2]
    games = flat.sum(axis=-1)
    strength, _ = fit_bradley_terry(wins, games, lo, hi, n_models, prior=prior)
    strength = np.nan_to_num(strength)  # a model without games sits at the prior's mean
    information = fisher_information(strength, games, lo, hi, n_models) + prior * np.eye(n_models)
    covariance = np.linalg.inv(information)
    strength = strength.reshape(*lead, n_models)
    covariance = covariance.reshape(*lead, n_models, n_models)
    robust, clusters, per_vote = None, None, None
    if clustered:
        robust, clusters = robust_covariance(strength, covariance, clustered, lo, hi)
        # The same sandwich with each vote its own cluster: what the votes' own scatter gives
        # (smaller than the model's where ties, scored 1/2, are common); the clusters' excess
        # over it is the prompts' part.
        per_vote = covariance @ vote_meat(strength, counts.reshape(*lead, lo.size, 3), lo, hi) @ covariance
    return Fit(
        strength=strength,
        covariance=covariance,
        lo=lo,
        hi=hi,
        games=games.reshape(*lead, lo.size),
        robust=robust,
        clusters=clusters,
        per_vote=per_vote,
    )


def unit_terms(unit: str, prompt_counts=None, rater_counts=None, cell_counts=None) -> tuple:
    """The ``clustered`` terms of ``fit`` for a study's unit (comparison: none)."""
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {', '.join(UNITS)}, got {unit!r}")
    if unit == Unit.COMPARISON:
        return ()
    if prompt_counts is None:
        raise ValueError(f"the {unit} unit needs the votes' counts per prompt")
    if unit == Unit.PROMPT:
        return ((prompt_counts, 1.0),)
    if rater_counts is None:
        raise ValueError("the prompt_rater unit needs counts per prompt and per rater")
    if cell_counts is None:  # the (prompt, rater) cells unknown: subtract the per-vote meat (conservative)
        cell_counts = prompt_counts.sum(axis=-3)
    return ((prompt_counts, 1.0), (rater_counts, 1.0), (cell_counts, -1.0))


def cluster_tables(
    model_a: np.ndarray, model_b: np.ndarray, outcome: np.ndarray, criterion: np.ndarray, cluster: np.ndarray,
    *, n_models: int, n_criteria: int,
) -> np.ndarray:
    """float[C, G, P, 3]: per criterion, cluster (labels renumbered) and model pair (``pair_index``
    order), the votes won by the lower-index model, by the higher one, and ties. outcome is 1 when
    model_a won, 0 when model_b did, 0.5 for a tie."""
    model_a, model_b = np.asarray(model_a, dtype=np.int64), np.asarray(model_b, dtype=np.int64)
    low, high = np.minimum(model_a, model_b), np.maximum(model_a, model_b)
    keep = low != high
    lo, _ = pair_index(n_models)
    # Index of pair (low, high) in the upper-triangle order.
    pair = (low * (2 * n_models - low - 1)) // 2 + (high - low - 1)
    score_low = np.where(model_a == low, outcome, 1.0 - outcome)
    category = np.where(score_low == 1.0, 0, np.where(score_low == 0.0, 1, 2))
    _, cluster = np.unique(np.asarray(cluster), return_inverse=True)
    cluster = cluster.reshape(-1)
    n_clusters = int(cluster.max()) + 1 if cluster.size else 0
    cell = ((np.asarray(criterion)[keep] * n_clusters + cluster[keep]) * lo.size + pair[keep]) * 3 + category[keep]
    tables = np.bincount(cell, minlength=n_criteria * n_clusters * lo.size * 3).astype(np.float64)
    return tables.reshape(n_criteria, n_clusters, lo.size, 3)


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
    floor: np.ndarray | None = None  # float[..., M-1]: the variance of d no budget goes below (prompt part)
    floor_limited: np.ndarray | None = None  # bool[..., M-1]: no budget separates the pair with these prompts
    gap: np.ndarray | None = None  # float[..., M-1]: the fitted difference of each adjacent pair
    clusters: np.ndarray | None = None  # float[...]: prompts (fewest clusters) behind the robust variance

    def decided(self) -> np.ndarray:
        """bool[...]: every considered adjacent pair separated (over the last axis)."""
        return (self.separated | ~self.considered).all(axis=-1)

    def undecidable(self) -> np.ndarray:
        """bool[...]: some considered pair is unseparated and every such pair is limited by the
        prompts (no budget separates it with these prompts)."""
        if self.floor_limited is None:
            return np.zeros(self.separated.shape[:-1], dtype=bool)
        open_pairs = ~self.separated & self.considered
        return open_pairs.any(axis=-1) & (self.floor_limited | ~open_pairs).all(axis=-1)

    def prompts_needed(self, *, alpha: float, tau: float = TAU) -> np.ndarray:
        """int[..., M-1]: prompts each adjacent pair needs to be separable (0: these suffice)."""
        if self.floor is None:
            return np.zeros(self.separated.shape, dtype=np.int64)
        return prompts_needed(self.gap, self.floor, self.clusters, alpha=alpha, tau=tau)


def model_variance(model_fit: Fit) -> np.ndarray:
    """float[..., M]: each model's variance about the models' mean on the fit's unit."""
    variance = np.diagonal(contrast_covariance(model_fit.covariance), axis1=-2, axis2=-1)
    if model_fit.robust is not None:
        variance = np.maximum(variance, np.diagonal(contrast_covariance(model_fit.robust), axis1=-2, axis2=-1))
    return np.maximum(variance, 1e-300)


def prompts_needed(gap, floor, clusters, *, alpha: float, tau: float = TAU, most: int = 100_000) -> np.ndarray:
    """int[..., K]: prompts that would let a pair of gap |d| (natural units) be separated at some
    budget, when its floor variance with ``clusters`` (float[...]) prompts is ``floor`` (the floor
    scales as 1 / prompts); 0 where these prompts suffice, -1 beyond ``most``."""
    gap = np.abs(np.asarray(gap, dtype=np.float64))
    floor = np.asarray(floor, dtype=np.float64)
    clusters = np.asarray(clusters, dtype=np.float64)[..., None] * np.ones_like(gap)
    needed = np.full(gap.shape, -1, dtype=np.int64)
    for g in np.unique(np.round(np.geomspace(2, most, 300)))[::-1]:
        info = g / np.maximum(floor * clusters, 1e-300)
        z = t_to_z(gap * np.sqrt(info), g - 1.0)
        needed = np.where(z >= boundary(info, alpha=alpha, tau=tau), int(g), needed)
    return np.where((needed >= 0) & (needed <= clusters), 0, needed)


def separation(model_fit: Fit, *, alpha: float = 0.05, top_k: int | None = None, tau: float = TAU) -> Separation:
    """Which adjacent pairs of each fitted ranking are separated at anytime-valid level alpha, on
    the fit's unit (the robust covariance where the fit has one: see the module)."""
    strength, covariance = model_fit.strength, model_fit.covariance
    n_models = strength.shape[-1]
    order = np.argsort(-strength, axis=-1, kind="stable")
    upper, lower = order[..., :-1], order[..., 1:]
    model_based = difference_variance(covariance, upper, lower)
    variance = model_based
    floor = floor_limited = None
    gap = np.take_along_axis(strength, upper, axis=-1) - np.take_along_axis(strength, lower, axis=-1)
    df = None
    if model_fit.robust is not None:
        robust = difference_variance(model_fit.robust, upper, lower)
        per_vote = difference_variance(model_fit.per_vote, upper, lower)
        variance = np.maximum(robust, model_based)
        df = effective_df(variance, robust - per_vote, model_fit.clusters)
    information = 1.0 / variance
    z = t_to_z(gap * np.sqrt(information), df)
    threshold = boundary(information, alpha=alpha, tau=tau)
    if model_fit.robust is not None:
        # The prompt part of Var(d): what is left when votes are unlimited. A pair whose gap cannot
        # cross the boundary even there is limited by the prompts, not the budget (module).
        floor = np.maximum(robust - per_vote, 1e-300)
        floor_z = t_to_z(np.abs(gap) / np.sqrt(floor), np.maximum(model_fit.clusters - 1.0, 1.0)[..., None])
        floor_limited = (floor_z < boundary(1.0 / floor, alpha=alpha, tau=tau)) & (per_vote < 0.25 * floor)
    considered = np.ones(upper.shape, dtype=bool)
    if top_k is not None:
        if not 1 <= top_k < n_models:
            raise ValueError(f"top_k must be between 1 and {n_models - 1} (the number of models minus one), got {top_k}")
        considered[..., top_k:] = False
    # Each model's interval about the models' mean: the constant direction removed (the prior's
    # variance along it is no information about any model).
    variances = model_variance(model_fit)
    half_width = np.sqrt(variances) * boundary(1.0 / variances, alpha=alpha, tau=tau) * ELO_PER_UNIT
    return Separation(
        order=order, upper=upper, lower=lower, z=z, threshold=threshold, information=information,
        separated=z >= threshold, considered=considered, half_width=half_width,
        floor=floor, floor_limited=floor_limited, gap=gap, clusters=model_fit.clusters,
    )


def stop_reached(model_fit: Fit, *, rule: str, alpha: float = 0.05, top_k: int | None = None, width: float | None = None) -> np.ndarray:
    """bool[...] per fit (criteria on the second-to-last axis of the fit's lead are all
    required): `separated` when every considered adjacent pair is separated in every criterion,
    `width` when every model's interval (anytime-valid, Elo points) is narrower than `width`."""
    result = separation(model_fit, alpha=alpha, top_k=top_k)
    if rule == StopWhen.SEPARATED:
        per_criterion = result.decided()
    elif rule == StopWhen.WIDTH:
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
    settled = result.separated | ~result.considered
    if result.floor_limited is not None:
        settled = settled | result.floor_limited  # more votes would not separate it: more prompts would
    remaining = np.where(settled, 0.0, np.maximum(needed - result.information, 0.0))
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
