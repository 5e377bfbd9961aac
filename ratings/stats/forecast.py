"""Votes-needed forecasts: whole studies simulated under their sampling and stopping rules.

A simulated study is the real rule run on simulated votes: raters answer every criterion of a
shown pair by Bradley-Terry with known strengths (a share of ties where ties are allowed); every
`look_every` comparisons the study is refitted, the stopping rule is checked and, for adaptive
sampling, the pair weights are recomputed (`sampling.pair_weights`), as the study's background
task does. Many runs go in lockstep so each look is one batched fit. The forecast before launch
starts from assumed strengths; during a study it starts from the votes so far, each run drawing
its true strengths from the fit's approximate posterior, so the range reflects what is still
unknown. Pure NumPy, no Django.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from . import sampling
from .rules import Sampling, names
from .sandwich import contrast_covariance
from .simulated_votes import simulate_votes, start_tables
from .spread import SpreadEstimate, outcome_probabilities

SAMPLING_RULES = names(Sampling)


#: Looks a simulated run makes at the study's own cadence (``look_every``) before later ones are
#: spaced LATER_LOOK_GROWTH of the comparisons so far apart (5%: a forecast past 100 looks may
#: overstate the comparisons needed by up to 5%; the forecast's cost stays bounded).
DENSE_LOOKS = 100
LATER_LOOK_GROWTH = 0.05


def look_count(budget: int, look_every: int) -> int:
    """How many looks (refits) a simulated run makes at most before ``budget`` comparisons: the
    study's cadence for DENSE_LOOKS looks, then LATER_LOOK_GROWTH apart (what a forecast costs)."""
    look_every = max(1, int(look_every))
    dense = min(-(-max(1, int(budget)) // look_every), DENSE_LOOKS)
    start = DENSE_LOOKS * look_every
    if budget <= start:
        return max(1, dense)
    return dense + int(np.ceil(np.log(budget / start) / np.log1p(LATER_LOOK_GROWTH)))


@dataclass(frozen=True)
class StudyDesign:
    """What a simulated study does: its sampling and stopping rules, its cap, its unit, and the
    world its raters come from: ``prompts`` prompts (None: no prompt structure) on which each
    model's strength varies around its mean with standard deviation ``prompt_sd`` (natural units),
    and ``raters`` raters (0: every vote a new rater) each leaning by ``rater_sd`` per model."""

    sampling: str = "uniform"
    stop_when: str = "separated"
    alpha: float = 0.05
    top_k: int | None = None
    width: float | None = None
    budget: int = 20_000
    exploration: float = 0.2
    look_every: int = 50
    tie_share: float = 0.0
    unit: str = "comparison"
    prompts: int | None = None
    prompt_sd: float = 0.0
    raters: int = 0
    rater_sd: float = 0.0

    def __post_init__(self) -> None:
        if self.sampling not in SAMPLING_RULES:
            raise ValueError(f"sampling must be one of {', '.join(SAMPLING_RULES)}, got {self.sampling!r}")
        if self.stop_when not in ("separated", "width"):
            raise ValueError(f"a simulated study stops when 'separated' or 'width', got {self.stop_when!r}")
        if self.budget < 1 or self.look_every < 1:
            raise ValueError("budget and look_every must be positive numbers of comparisons")
        if not 0.0 <= self.tie_share < 1.0:
            raise ValueError(f"tie_share must lie in [0, 1), got {self.tie_share}")
        if self.unit not in sampling.UNITS:
            raise ValueError(f"unit must be one of {', '.join(sampling.UNITS)}, got {self.unit!r}")
        if self.unit != "comparison" and not self.prompts:
            raise ValueError(f"the {self.unit} unit needs the number of prompts")
        if self.unit == "prompt_rater" and self.raters < 2:
            raise ValueError("the prompt_rater unit needs a pool of raters (raters >= 2)")

    @property
    def n_prompts(self) -> int:
        return int(self.prompts or 1)


@dataclass(frozen=True)
class Simulation:
    """Per run: comparisons used, whether the rule (not the budget) stopped it, and the adjacent
    pairs it declared separated and how many of those are in the wrong order (against the
    population order: the runs' mean strengths); at the stop, the estimates and each model's
    variance about the models' mean on the study's unit, the declared pairs (upper, lower model),
    and whether the rule found the prompts too few (``undecidable``)."""

    comparisons: np.ndarray  # int[R]
    stopped: np.ndarray  # bool[R]
    declared: np.ndarray  # int[R]
    wrong_order: np.ndarray  # int[R]
    strength: np.ndarray | None = None  # float[R, C, M] at the stop
    variance: np.ndarray | None = None  # float[R, C, M]
    clusters: np.ndarray | None = None  # float[R, C]: prompts behind the variance (None: comparison unit)
    claimed: np.ndarray | None = None  # bool[R, C, M-1], with upper / lower
    upper: np.ndarray | None = None
    lower: np.ndarray | None = None
    undecidable: np.ndarray | None = None  # bool[R]
    prompt_counts: np.ndarray | None = None  # float[R, C, G, P, 3]: each run's votes per prompt at the stop (new and start)


def _fit_tables(prompt_counts, rater_counts, design, lo, hi, n_models) -> sampling.Fit:
    counts = prompt_counts.sum(axis=-3)
    terms = ()
    if design.unit == "prompt":
        terms = ((prompt_counts, 1.0),)
    elif design.unit == "prompt_rater":
        terms = ((prompt_counts, 1.0), (rater_counts, 1.0), (counts, -1.0))
    return sampling.fit(counts, lo, hi, n_models, clustered=terms)


def simulate(
    truth: np.ndarray,
    design: StudyDesign,
    *,
    runs: int = 100,
    seed: int | None = 0,
    start_counts: np.ndarray | None = None,
    start_prompt_counts: np.ndarray | None = None,
    prompt_sd_runs: np.ndarray | None = None,
) -> Simulation:
    """Run `runs` simulated studies. truth: float[C, M] (one set of strengths, natural units, for
    every run) or float[R, C, M] (one per run): the population's mean strengths; start_counts:
    float[C, P, 3] of votes already in (pairs in `sampling.pair_index` order), or
    start_prompt_counts float[C, G, P, 3] of them per prompt, which every run starts from;
    comparisons count only the new ones. prompt_sd_runs: float[R], each run's prompt spread in
    place of the design's (which must be positive).

    Each vote is simulated: its model pair drawn by the pair weights, its prompt the pair's next
    in a round over the prompts (as the scheduler spreads a pair's slots), its rater drawn from the
    pool, its outcome by Bradley-Terry on the prompt's (and rater's) strengths."""
    rng = np.random.default_rng(seed)
    truth = np.asarray(truth, dtype=np.float64)
    if truth.ndim == 2:
        truth = np.broadcast_to(truth, (runs, *truth.shape))
    if truth.shape[0] != runs:
        raise ValueError(f"truth has {truth.shape[0]} runs of strengths, expected {runs}")
    n_criteria, n_models = truth.shape[1:]
    if n_models < 2:
        raise ValueError("a study needs at least two models")
    lo, hi = sampling.pair_index(n_models)
    n_pairs, n_prompts, n_raters = lo.size, design.n_prompts, max(design.raters, 1)
    prompt_effect = rng.normal(0.0, design.prompt_sd, (runs, n_criteria, n_prompts, n_models)) if design.prompt_sd else None
    if prompt_effect is not None and prompt_sd_runs is not None:  # each run its own spread (an estimate's uncertainty)
        prompt_effect *= (np.asarray(prompt_sd_runs, dtype=np.float64) / design.prompt_sd)[:, None, None, None]
    rater_effect = rng.normal(0.0, design.rater_sd, (runs, n_criteria, n_raters, n_models)) if design.rater_sd else None
    prompt_counts, rater_counts = start_tables(design, runs, n_criteria, n_pairs, start_counts, start_prompt_counts)
    served = prompt_counts[:, 0].sum(axis=(1, 3))  # [R, P] votes so far per pair
    # Without prompts or raters every vote is alike: counts are drawn per pair (the older, faster path).
    per_pair = design.prompts is None and prompt_effect is None and rater_effect is None and rater_counts is None
    offset = None if per_pair else rng.integers(0, n_prompts, (runs, n_pairs))
    probabilities = outcome_probabilities(truth, lo, hi, design.tie_share) if per_pair else None
    weights = np.full((runs, n_pairs), 1.0 / n_pairs)
    if design.sampling == "adaptive" and prompt_counts.sum() > 0:
        weights = sampling.pair_weights(
            _fit_tables(prompt_counts, rater_counts, design, lo, hi, n_models), exploration=design.exploration,
            alpha=design.alpha, top_k=design.top_k,
        )
    used = np.zeros(runs, dtype=np.int64)
    finals = _Finals(runs, n_criteria, n_models)
    active = np.arange(runs)
    while active.size:
        batch = np.minimum(_look_step(design, used[active]), design.budget - used[active])
        shown = rng.multinomial(batch, weights[active])  # [A, P] comparisons per pair
        if per_pair:
            per_criterion = np.broadcast_to(shown[:, None, :], (active.size, n_criteria, n_pairs))
            prompt_counts[active, :, 0] += rng.multinomial(per_criterion, probabilities[active])
        else:
            simulate_votes(rng, design, truth, prompt_effect, rater_effect, prompt_counts, rater_counts, served, offset,
                            shown, active, lo, hi)
        used[active] += batch
        model_fit = _fit_tables(prompt_counts[active], None if rater_counts is None else rater_counts[active], design, lo, hi, n_models)
        result = sampling.separation(model_fit, alpha=design.alpha, top_k=design.top_k)
        met, hopeless = _rule_met(design, result)
        finished = met | (used[active] >= design.budget) | hopeless
        if finished.any():
            finals.record(active, finished, met, hopeless, model_fit, result, truth[active])
        keep = ~finished
        if design.sampling == "adaptive" and keep.any():
            weights[active[keep]] = sampling.pair_weights(
                model_fit.take(keep), exploration=design.exploration, alpha=design.alpha, top_k=design.top_k
            )
        active = active[keep]
    return Simulation(
        comparisons=used, stopped=finals.stopped, declared=finals.declared, wrong_order=finals.wrong, strength=finals.strength,
        variance=finals.variance, clusters=finals.clusters if design.unit != "comparison" else None, claimed=finals.claimed,
        upper=finals.upper, lower=finals.lower, undecidable=finals.undecidable,
        prompt_counts=prompt_counts,  # a run's counts stop growing at its stop
    )


def _look_step(design: StudyDesign, used: np.ndarray) -> np.ndarray:
    """int[A]: comparisons until each run's next look. The study's cadence for its first
    DENSE_LOOKS looks, then looks LATER_LOOK_GROWTH apart: a run's cost stays bounded (about 150
    looks to a budget of 100,000 instead of 1,000) and a stop found past DENSE_LOOKS looks is late
    by at most that share of its votes."""
    late = used >= DENSE_LOOKS * design.look_every
    return np.where(late, np.maximum(design.look_every, np.ceil(LATER_LOOK_GROWTH * used)), design.look_every).astype(np.int64)


def _rule_met(design: StudyDesign, result: sampling.Separation) -> tuple[np.ndarray, np.ndarray]:
    """(bool[A] the stopping rule is met, bool[A] no budget meets it with these prompts)."""
    if design.stop_when == "separated":
        met = result.decided().all(axis=-1)
        return met, (result.decided() | result.undecidable()).all(axis=-1) & ~met
    met = (2.0 * result.half_width < design.width).all(axis=(-1, -2))
    return met, np.zeros(met.shape, dtype=bool)


class _Finals:
    """What each simulated run had at its stop (``Simulation``'s fields), filled as runs finish."""

    def __init__(self, runs: int, n_criteria: int, n_models: int) -> None:
        self.stopped = np.zeros(runs, dtype=bool)
        self.undecidable = np.zeros(runs, dtype=bool)
        self.declared = np.zeros(runs, dtype=np.int64)
        self.wrong = np.zeros(runs, dtype=np.int64)
        self.strength = np.zeros((runs, n_criteria, n_models))
        self.variance = np.zeros((runs, n_criteria, n_models))
        self.clusters = np.zeros((runs, n_criteria))
        self.claimed = np.zeros((runs, n_criteria, n_models - 1), dtype=bool)
        self.upper = np.zeros((runs, n_criteria, n_models - 1), dtype=np.int64)
        self.lower = np.zeros((runs, n_criteria, n_models - 1), dtype=np.int64)

    def record(self, active, finished, met, hopeless, model_fit, result, truth) -> None:
        """Record the runs ``active[finished]`` (the fit and separation of the active runs, and
        their true strengths float[A, C, M]): declared pairs, wrong orders against the truth."""
        done = active[finished]
        self.stopped[done] = met[finished]
        self.undecidable[done] = hopeless[finished] & ~met[finished]
        claimed = result.separated & result.considered  # [A, C, K]
        true_upper = np.take_along_axis(truth, result.upper, axis=-1)
        true_lower = np.take_along_axis(truth, result.lower, axis=-1)
        self.declared[done] = claimed[finished].sum(axis=(-1, -2))
        self.wrong[done] = (claimed & (true_upper < true_lower))[finished].sum(axis=(-1, -2))
        self.strength[done] = model_fit.strength[finished]
        self.variance[done] = sampling.model_variance(model_fit)[finished]
        if model_fit.clusters is not None:
            self.clusters[done] = model_fit.clusters[finished]
        self.claimed[done] = claimed[finished]
        self.upper[done] = result.upper[finished]
        self.lower[done] = result.lower[finished]


def strengths_from_elo(elo) -> np.ndarray:
    """Elo ratings (float[C, M] or float[M], any offset) as natural-unit strengths float[C, M]."""
    elo = np.atleast_2d(np.asarray(elo, dtype=np.float64))
    return (elo - elo.mean(axis=-1, keepdims=True)) / sampling.ELO_PER_UNIT


def posterior_draws(counts: np.ndarray, n_models: int, runs: int, seed: int | None = 0, *, prompt_counts=None) -> np.ndarray:
    """float[R, C, M]: strengths drawn from the fit's normal approximation to the posterior (on
    the prompt unit where ``prompt_counts`` float[C, G, P, 3] are given: the robust covariance
    when it is the wider)."""
    lo, hi = sampling.pair_index(n_models)
    terms = ((prompt_counts, 1.0),) if prompt_counts is not None and prompt_counts.shape[1] > 1 else ()
    model_fit = sampling.fit(counts, lo, hi, n_models, clustered=terms)
    covariance = contrast_covariance(model_fit.covariance)
    if model_fit.robust is not None:
        robust = contrast_covariance(model_fit.robust)
        wider = np.trace(robust, axis1=-2, axis2=-1) > np.trace(covariance, axis1=-2, axis2=-1)
        covariance = np.where(wider[..., None, None], robust, covariance)
    rng = np.random.default_rng(seed)
    draws = np.stack(
        [rng.multivariate_normal(model_fit.strength[c], covariance[c], size=runs, method="eigh")
         for c in range(model_fit.strength.shape[0])],
        axis=1,
    )
    return draws - draws.mean(axis=-1, keepdims=True)


@dataclass(frozen=True)
class Forecast:
    """Comparisons a study needs (from now on), over simulated runs."""

    median: float
    low: float  # 5th percentile: the 90% range's lower end
    high: float  # 95th percentile
    budget_hits: float  # share of runs stopped by the budget, not the rule
    runs: int
    undecidable: float = 0.0  # share of runs that ended with pairs no budget separates with these prompts

    def as_dict(self, *, price_per_vote: float | None = None, crowd_size: int | None = None,
                seconds_per_vote: float | None = None) -> dict:
        """The forecast with cost (price per comparison) and wall time (a crowd of that many raters
        answering one comparison every `seconds_per_vote`), where those are given."""
        document = {
            "comparisons": {"median": self.median, "low": self.low, "high": self.high, "range": "90%"},
            "budget_hits": self.budget_hits,
            "undecidable": self.undecidable,
            "runs": self.runs,
        }
        if price_per_vote is not None:
            document["cost"] = {key: round(value * price_per_vote, 2) for key, value in document["comparisons"].items() if key != "range"}
        if crowd_size and seconds_per_vote:
            document["hours"] = {
                key: round(value * seconds_per_vote / crowd_size / 3600.0, 2)
                for key, value in document["comparisons"].items() if key != "range"
            }
        return document


def forecast(
    design: StudyDesign,
    *,
    elo=None,
    counts: np.ndarray | None = None,
    prior_counts: np.ndarray | None = None,
    prompt_counts: np.ndarray | None = None,
    n_models: int | None = None,
    runs: int = 200,
    seed: int | None = 0,
    spread_clusters: int | None = None,
    spread: SpreadEstimate | None = None,
) -> Forecast:
    """Comparisons still needed: from assumed ratings `elo` (float[C, M] or float[M], Elo points)
    before launch, or from `counts` (float[C, P, 3], the votes so far) during a study, with
    `prompt_counts` (float[C, G, P, 3]) the same votes per prompt, which the runs start from
    when the design's unit is not the comparison. `prior_counts` (same shape as counts: a pilot's
    votes on the same models) join `counts` in drawing the true strengths but not the stopping
    rule: every run starts from `counts` alone. `spread_clusters`: the prompts the design's
    prompt spread was estimated from; each run then draws its spread from that estimate's
    sampling distribution (a scaled chi-square with `spread_clusters` - 1 degrees of freedom), so
    the range reflects the spread's uncertainty too. ``spread`` (a ``spread.calibrated_prompt_spread``):
    each run draws its spread from that estimate's uncertainty instead (a spread estimated as zero
    still gives some runs a positive one), in place of the design's ``prompt_sd``."""
    spread_runs = None
    if spread is not None and design.unit != "comparison":
        spread_runs = spread.draws(runs, None if seed is None else seed + 1)
        if spread_runs.max() <= 0.0:
            spread_runs = None
            design = replace(design, prompt_sd=0.0)
        else:
            design = replace(design, prompt_sd=float(max(spread.sd, spread_runs.max())))
    elif spread_clusters and spread_clusters > 1 and design.prompt_sd > 0:
        draws = np.random.default_rng(None if seed is None else seed + 1).chisquare(spread_clusters - 1, runs)
        spread_runs = design.prompt_sd * np.sqrt(draws / (spread_clusters - 1))
    if prior_counts is not None and counts is None:
        counts = np.zeros_like(prior_counts, dtype=np.float64)
    if counts is not None:
        if n_models is None:
            raise ValueError("a forecast from votes needs n_models")
        evidence = counts if prior_counts is None else counts + prior_counts
        truth = posterior_draws(evidence, n_models, runs, seed, prompt_counts=prompt_counts if prior_counts is None else None)
        start = {"start_prompt_counts": prompt_counts} if prompt_counts is not None and design.unit != "comparison" else {"start_counts": counts}
        result = simulate(truth, design, runs=runs, seed=seed, prompt_sd_runs=spread_runs, **start)
    elif elo is not None:
        truth = strengths_from_elo(elo)
        result = simulate(truth, design, runs=runs, seed=seed, prompt_sd_runs=spread_runs)
    else:
        raise ValueError("a forecast needs assumed ratings (elo) or the votes so far (counts)")
    needed = result.comparisons.astype(np.float64)
    low, median, high = np.percentile(needed, [5.0, 50.0, 95.0])
    return Forecast(
        median=float(median), low=float(low), high=float(high),
        budget_hits=float(np.mean(~result.stopped & ~result.undecidable)), runs=runs,
        undecidable=float(np.mean(result.undecidable)),
    )
