"""Each model against a reference: win rates with intervals on the study's inference unit, and a
decision at a margin (better, equivalent, non-inferior, inferior, undecided).

Pure NumPy, no Django: the `leaderboard --versus` command, the study's results and the
benchmarks call the same functions.

The estimate. A vote of model m against the reference r scores y = 1 (m won), 0 (r won) or 0.5
(a tie, half a win, as ADD reports win rates). Per criterion the win rate is the mean score over
m's votes against r; the "mean" row averages the win rates of the criteria of `mean_of` (ADD's
mean of the two pair questions). Votes of m against any other model are not used.

The variance (the inference unit). Each estimate is a mean, so its influence function is
psi_i = (y_i - p) / n_c (divided by the number of averaged criteria for the mean); the
cluster-robust variance sums the influences within each cluster, squares and adds them, with
the small-sample factor G / (G - 1) (Cameron & Miller, "A practitioner's guide to
cluster-robust inference", J. Human Resources 2015):

- `comparison`: a cluster is one shown pair (its votes on several criteria move together), an
  interval about these prompts and these raters;
- `prompt`: a cluster is a prompt with all its votes (`votes.cluster`), about prompts like these;
- `prompt_rater`: two-way clustering by prompt and by rater, V = V_prompt + V_rater -
  V_prompt x rater (Cameron, Gelbach & Miller, "Robust inference with multiway clustering",
  JBES 2011), taken no smaller than either one-way variance (their remedy for a two-way
  estimate that comes out too small), about prompts and raters like these.

The decision at margin delta (default 0.05 on the win-rate scale), from an interval [low, high]
whose each side holds with probability at least 1 - alpha:

- `better`: low > 0.5 (m is preferred to the reference);
- `equivalent`: 0.5 - delta < low and high < 0.5 + delta (Schuirmann's two one-sided tests);
- `non-inferior`: low > 0.5 - delta;
- `inferior`: high < 0.5 - delta (worse than the reference by more than the margin);
- `undecided`: none of these. The first that holds is reported, in this order.

Each claim is wrong with probability at most alpha (one side of the interval); with several
models and criteria that is per decision, not for the whole table.

Two intervals:

- fixed-sample (`sequential=False`, the offline command): p +- z_{1 - alpha} se, the 1 - 2 alpha
  interval of Schuirmann, "A comparison of the two one-sided tests procedure and the power
  approach for assessing the equivalence of average bioavailability" (J. Pharmacokinet.
  Biopharm. 1987). Valid when the sample size was fixed in advance and the table read once.
- anytime-valid (`sequential=True`, running studies): the asymptotic confidence sequence of
  Waudby-Smith, Arnold, Wu & Ramdas, "Time-uniform central limit theory and asymptotic
  confidence sequences" (Annals of Statistics 2024, Theorem 2.2 with Robbins' normal mixture),
  written in information time I = 1 / se**2 with the cluster-robust se:

      p +- se * sqrt((1 + 1 / (tau**2 I)) * (2 log(1 / alpha) + log(1 + tau**2 I)))

  the same normal-mixture boundary as `sampling.boundary` (Howard, Ramdas, McAuliffe & Sekhon,
  Annals of Statistics 2021), here on the win-rate scale with tau = `TAU` (the size of gap the
  boundary is tightest for). It holds at every look at once, so a study may read its decisions
  after every batch of votes and stop at the first one (peeking) with each claim wrong with
  probability at most alpha (asymptotically: with few votes or few clusters the variance is
  poorly estimated, hence `min_votes` and `min_clusters`, below which a row is undecided).
  Clustered by prompt, the statement is about prompts like those served only as the prompts
  grow in number; with a fixed handful of prompts it is about those prompts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy.stats import norm

from .arrays import VoteArrays
from .rules import Sampling, Unit, names

#: Inference units: comparison, prompt (clustered by prompt), prompt_rater (two-way clustering).
UNITS = names(Unit)
#: Decisions, in the order they are tried.
DECISIONS = ("better", "equivalent", "non-inferior", "inferior", "undecided")
#: The criterion name of the row averaging the pair criteria (as the leaderboards name it).
COMBINED = "mean"
#: Mixing scale of the anytime-valid boundary on the win-rate scale: tightest near gaps of 0.05.
TAU = 0.05
#: Below these a row stays undecided: an estimated variance from fewer is unreliable.
MIN_VOTES = 20
MIN_CLUSTERS = 5
ROW_FIELDS = ("model", "criterion", "win_rate", "low", "high", "decision", "votes", "clusters")


@dataclass(frozen=True)
class VersusRow:
    """One model against the reference on one criterion (or "mean"): win rate, its interval
    (each side at level 1 - alpha), the decision, the votes and clusters behind it."""

    model: str
    criterion: str
    win_rate: float | None
    low: float | None
    high: float | None
    decision: str
    votes: int
    clusters: int

    def as_dict(self) -> dict:
        return asdict(self)


def decide(low, high, margin: float = 0.05) -> np.ndarray:
    """Decisions (str array) from interval bounds at `margin`; NaN bounds are undecided."""
    low, high = np.asarray(low, dtype=np.float64), np.asarray(high, dtype=np.float64)
    if not 0.0 <= margin < 0.5:
        raise ValueError(f"the margin must lie between 0 and 0.5 on the win-rate scale, got {margin}")
    with np.errstate(invalid="ignore"):
        conditions = [
            low > 0.5,
            (low > 0.5 - margin) & (high < 0.5 + margin),
            low > 0.5 - margin,
            high < 0.5 - margin,
        ]
    return np.select(conditions, list(DECISIONS[:4]), default=DECISIONS[4])


def fixed_half_width(se, *, alpha: float = 0.05) -> np.ndarray:
    """Schuirmann's one-sided half-width z_{1 - alpha} se (the 1 - 2 alpha interval)."""
    _check_alpha(alpha)
    return norm.ppf(1.0 - alpha) * np.asarray(se, dtype=np.float64)


def sequential_half_width(se, *, alpha: float = 0.05, tau: float = TAU) -> np.ndarray:
    """The anytime-valid half-width at standard error `se` (see the module docstring)."""
    _check_alpha(alpha)
    se = np.asarray(se, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        spread = tau**2 / np.maximum(se, 1e-300) ** 2
        z = np.sqrt((1.0 + 1.0 / spread) * (2.0 * np.log(1.0 / alpha) + np.log1p(spread)))
    return z * se


def _check_alpha(alpha: float) -> None:
    if not 0.0 < alpha < 0.5:
        raise ValueError(f"alpha must lie strictly between 0 and 0.5, got {alpha}")


def _cluster_variance(influence: np.ndarray, labels: np.ndarray) -> tuple[float, int]:
    """Cluster-robust variance sum_g (sum_{i in g} psi_i)**2 * G / (G - 1), and G."""
    _, codes = np.unique(labels, return_inverse=True)
    sums = np.bincount(codes.reshape(-1), weights=influence)
    g = sums.size
    if g < 2:
        return np.nan, g
    return float((sums**2).sum() * g / (g - 1)), g


def _variance(influence: np.ndarray, unit: str, comparison, prompt, rater) -> tuple[float, int]:
    if unit == Unit.COMPARISON:
        return _cluster_variance(influence, comparison)
    if unit == Unit.PROMPT:
        return _cluster_variance(influence, prompt)
    v_prompt, g_prompt = _cluster_variance(influence, prompt)
    v_rater, g_rater = _cluster_variance(influence, rater)
    v_both, _ = _cluster_variance(influence, prompt * (int(rater.max()) + 1) + rater)
    variance = np.nanmax([v_prompt + v_rater - v_both, v_prompt, v_rater])
    return float(variance), min(g_prompt, g_rater)


def unit_labels_check(votes: VoteArrays, unit: str) -> None:
    """ValueError naming what `unit` needs and the votes lack."""
    if unit not in UNITS:
        raise ValueError(f"the inference unit must be one of {', '.join(UNITS)}, got {unit!r}")
    if unit in (Unit.PROMPT, Unit.PROMPT_RATER) and votes.cluster is None:
        raise ValueError(f"the {unit} unit needs the prompt of each vote (a prompt_id column)")
    if unit == Unit.PROMPT_RATER and votes.rater is None:
        raise ValueError("the prompt_rater unit needs the rater of each vote (a rater_id column)")


def versus_reference(
    votes: VoteArrays,
    reference: str,
    *,
    unit: str = "comparison",
    margin: float = 0.05,
    alpha: float = 0.05,
    sequential: bool = False,
    mean_of: Sequence[str] | None = None,
    tau: float = TAU,
    min_votes: int = MIN_VOTES,
    min_clusters: int = MIN_CLUSTERS,
) -> list[VersusRow]:
    """Every other model against `reference`, per criterion and (with two or more criteria in
    `mean_of`, None meaning every criterion) their mean: rows in model-name order, criteria in
    the votes' order then "mean". Fixed-sample intervals, or anytime-valid with `sequential`.
    A model never compared with the reference gets rows with no win rate, undecided."""
    if reference not in votes.model_names:
        raise ValueError(f"the reference {reference!r} is not among the models: {', '.join(votes.model_names)}")
    unit_labels_check(votes, unit)
    _check_alpha(alpha)
    decide(0.5, 0.5, margin)  # checks the margin
    ref = votes.model_names.index(reference)
    chosen = list(range(votes.n_criteria)) if mean_of is None else [c for c, n in enumerate(votes.criterion_names) if n in set(mean_of)]
    with_mean = len(chosen) >= 2
    half_width = (lambda se: sequential_half_width(se, alpha=alpha, tau=tau)) if sequential else (lambda se: fixed_half_width(se, alpha=alpha))
    rows: list[VersusRow] = []
    for m in sorted((i for i in range(votes.n_models) if i != ref), key=lambda i: votes.model_names[i]):
        name = votes.model_names[m]
        mask = ((votes.model_a == m) & (votes.model_b == ref)) | ((votes.model_a == ref) & (votes.model_b == m))
        score = np.where(votes.model_a[mask] == m, votes.outcome[mask], 1.0 - votes.outcome[mask])
        criterion = votes.criterion[mask]
        labels = (
            votes.comparison[mask],
            None if votes.cluster is None else votes.cluster[mask],
            None if votes.rater is None else votes.rater[mask],
        )
        n_per = np.bincount(criterion, minlength=votes.n_criteria)
        sums = np.bincount(criterion, weights=score, minlength=votes.n_criteria)
        with np.errstate(invalid="ignore", divide="ignore"):
            rate = sums / n_per
        groups = [(votes.criterion_names[c], [c]) for c in range(votes.n_criteria)]
        if with_mean:
            groups.append((COMBINED, chosen))
        for label, criteria in groups:
            take = np.isin(criterion, criteria)
            n = int(take.sum())
            if any(n_per[c] == 0 for c in criteria):
                rows.append(VersusRow(name, label, None, None, None, DECISIONS[-1], n, 0))
                continue
            estimate = float(rate[criteria].mean())
            influence = (score[take] - rate[criterion[take]]) / n_per[criterion[take]] / len(criteria)
            variance, clusters = _variance(influence, unit, *(None if x is None else x[take] for x in labels))
            if not np.isfinite(variance) or n < min_votes or (unit != Unit.COMPARISON and clusters < min_clusters):
                low = high = np.nan
            else:
                width = float(half_width(np.sqrt(max(variance, 0.0))))
                low, high = max(0.0, estimate - width), min(1.0, estimate + width)
            finite = np.isfinite(low)
            rows.append(VersusRow(
                name, label, estimate, float(low) if finite else None, float(high) if finite else None,
                str(decide(low, high, margin)), n, clusters,
            ))
    return rows


def versus_rows(votes: VoteArrays, reference: str, **options) -> list[dict]:
    """`versus_reference` as plain dicts (model, criterion, win_rate, low, high, decision,
    votes, clusters), for JSON documents."""
    return [row.as_dict() for row in versus_reference(votes, reference, **options)]


INTERVALS = {
    False: "fixed-sample: each bound one-sided at level 1 - alpha (Schuirmann's two one-sided tests); "
           "valid for a sample size fixed in advance, read once",
    True: "anytime-valid: an asymptotic confidence sequence (Waudby-Smith et al. 2024, normal mixture), "
          "valid however often it is looked at",
}
POPULATION = {
    "comparison": "these prompts and these raters (each comparison a unit)",
    "prompt": "prompts like these (clustered by prompt)",
    "prompt_rater": "prompts and raters like these (clustered by prompt and by rater)",
}


def versus_document(
    votes: VoteArrays, reference: str, *, unit: str = "comparison", margin: float = 0.05, alpha: float = 0.05,
    sequential: bool = False, mean_of: Sequence[str] | None = None,
) -> dict:
    """The settings of a versus table (`versus_settings`) and its rows (`versus`), as the
    leaderboard command and the study results put them beside the leaderboard."""
    rows = versus_rows(votes, reference, unit=unit, margin=margin, alpha=alpha, sequential=sequential, mean_of=mean_of)
    return {
        "versus_settings": {
            "reference": reference, "margin": margin, "alpha": alpha, "unit": unit,
            "interval": INTERVALS[bool(sequential)], "population": POPULATION[unit],
            "decisions": (f"better: low > 0.5; equivalent: {0.5 - margin:g} < low and high < {0.5 + margin:g}; "
                          f"non-inferior: low > {0.5 - margin:g}; inferior: high < {0.5 - margin:g}; else undecided "
                          f"(win rates against {reference}, a tie half a win)"),
        },
        "versus": rows,
    }


@dataclass(frozen=True)
class VersusSimulation:
    """Simulated studies of ``stop_when = decided``: per model (in the order given) the study's
    comparisons when it was first decided (the budget where it never was), and per run the
    comparisons at the stop, the decisions at the stop and whether the budget ended it."""

    first_decided: np.ndarray  # int[runs, M]
    stop: np.ndarray  # int[runs]
    decisions: np.ndarray  # str[runs, M]
    budget_hit: np.ndarray  # bool[runs]
    claimed: np.ndarray  # bool[runs, M, 4]: each decision but undecided (DECISIONS order) made at some look

    def per_model(self, names: Sequence[str]) -> list[dict]:
        """Median and 90% range of the comparisons to decide each model, and the share of runs
        the budget ended before it was decided."""
        rows = []
        for m, name in enumerate(names):
            column = self.first_decided[:, m]
            low, median, high = np.percentile(column, [5, 50, 95])
            rows.append({"model": name, "median": round(float(median)), "low": round(float(low)), "high": round(float(high)),
                         "undecided_at_budget": round(float(np.mean(self.decisions[:, m] == DECISIONS[-1])), 3)})
        return rows

    def overall(self) -> dict:
        low, median, high = np.percentile(self.stop, [5, 50, 95])
        return {"median": round(float(median)), "low": round(float(low)), "high": round(float(high)), "range": "90%",
                "budget_hits": round(float(self.budget_hit.mean()), 3), "runs": int(self.stop.size)}


def simulate_decided(
    win_rates: Sequence[float], *, margin: float = 0.05, alpha: float = 0.05, look_every: int = 100, budget: int = 20_000,
    sampling: str = "adaptive", exploration: float = 0.2, unit: str = "comparison", prompts: int | None = None,
    prompt_sd: float = 0.0, runs: int = 100, seed: int = 0, tau: float = TAU, start=None,
) -> VersusSimulation:
    """Simulate a versus-reference study stopped by ``decided``: each model's votes against the
    reference are won with its true win rate (``win_rates``, one per model, the criteria's mean
    taken as one criterion), varying across ``prompts`` prompts by ``prompt_sd`` on the logit
    scale; every ``look_every`` comparisons (the refresh cadence) the anytime-valid decisions are
    read on ``unit`` (comparison, or prompt: clustered by prompt) and the study stops when every
    model is decided, or at ``budget``. Adaptive sampling serves the share ``exploration`` evenly
    and the rest evenly over the undecided models (as ``ratings.versus.decided_pair_weights``);
    uniform serves evenly. ``start``: optional (wins, votes) float[M, G] already counted per
    model and prompt (a running study; comparisons already made are not counted in the results)."""
    p = np.clip(np.asarray(win_rates, dtype=np.float64), 1e-6, 1 - 1e-6)
    n_models = p.size
    if n_models == 0:
        raise ValueError("simulate at least one model against the reference")
    if unit not in (Unit.COMPARISON, Unit.PROMPT):
        raise ValueError(f"the simulated unit is comparison or prompt, got {unit!r}")
    if sampling not in (Sampling.UNIFORM, Sampling.ADAPTIVE):
        raise ValueError(f"sampling is uniform or adaptive, got {sampling!r}")
    n_prompts = max(2, int(prompts or 50))
    look_every, budget = max(1, int(look_every)), max(1, int(budget))
    rng = np.random.default_rng(seed)
    # Every run at once, look by look: arrays [A, M, G] over the A runs still going (a run's rows
    # are dropped when it stops; ``running`` holds their run numbers).
    effect = rng.normal(0.0, prompt_sd, size=(runs, n_models, n_prompts)) if prompt_sd > 0 else np.zeros((runs, n_models, n_prompts))
    logit = np.log(p / (1 - p))
    chance = 1.0 / (1.0 + np.exp(-(logit[None, :, None] + effect)))  # [A, M, G]
    wins, votes = np.zeros((runs, n_models, n_prompts)), np.zeros((runs, n_models, n_prompts))
    if start is not None:
        wins[:, :, : start[0].shape[1]] += start[0][None, :, :n_prompts]
        votes[:, :, : start[1].shape[1]] += start[1][None, :, :n_prompts]
    first = np.full((runs, n_models), budget, dtype=np.int64)
    stop = np.full(runs, budget, dtype=np.int64)
    final = np.full((runs, n_models), DECISIONS[-1], dtype=object)
    claimed = np.zeros((runs, n_models, len(DECISIONS) - 1), dtype=bool)
    undecided = np.ones((runs, n_models), dtype=bool)
    running = np.arange(runs)
    done = 0
    while done < budget and running.size:
        size, active = min(look_every, budget - done), running.size
        share = np.full((active, n_models), 1.0 / n_models)
        if sampling == Sampling.ADAPTIVE:
            count = undecided.sum(axis=1, keepdims=True)
            share = np.where(count > 0, exploration / n_models + (1.0 - exploration) * undecided / np.maximum(count, 1), share)
        bounds = np.cumsum(share, axis=1)
        draw = rng.random((active, size)) * bounds[:, -1:]
        model = np.minimum((draw[:, :, None] >= bounds[:, None, :]).sum(axis=2), n_models - 1)  # [A, size]
        prompt = rng.integers(n_prompts, size=(active, size))
        won = rng.random((active, size)) < chance[np.arange(active)[:, None], model, prompt]
        flat = ((np.arange(active)[:, None] * n_models + model) * n_prompts + prompt).ravel()
        votes += np.bincount(flat, minlength=votes.size).reshape(votes.shape)
        wins += np.bincount(flat, weights=won.ravel(), minlength=votes.size).reshape(votes.shape)
        done += size
        decisions = _sim_decisions(wins, votes, unit=unit, margin=margin, alpha=alpha, tau=tau)  # [A, M]
        final[running] = decisions
        undecided = decisions == DECISIONS[-1]
        claimed[running] |= decisions[:, :, None] == np.array(DECISIONS[:-1])[None, None, :]
        first[running] = np.where(~undecided & (first[running] == budget), done, first[running])
        stopped = ~undecided.any(axis=1)
        if stopped.any():
            stop[running[stopped]] = done
            keep = ~stopped
            running, undecided, wins, votes, chance = running[keep], undecided[keep], wins[keep], votes[keep], chance[keep]
    hit = np.zeros(runs, dtype=bool)
    hit[running] = True  # still running when the budget ran out
    first = np.where(final == DECISIONS[-1], budget, first)  # decided at a look then undecided again: not decided
    return VersusSimulation(first_decided=first, stop=stop, decisions=final.astype(str), budget_hit=hit, claimed=claimed)


def _sim_decisions(wins, votes, *, unit: str, margin: float, alpha: float, tau: float) -> np.ndarray:
    """The anytime-valid decision of each model from its wins and votes per prompt, as
    ``versus_reference`` computes it (a comparison unit, or clustered by prompt)."""
    n = votes.sum(axis=-1)
    s = wins.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = s / n
        if unit == Unit.COMPARISON:
            variance = rate * (1 - rate) / n * n / (n - 1)  # sum of squared influences, G / (G - 1)
            clusters = n
        else:
            influence = (wins - rate[..., None] * votes) / n[..., None]
            clusters = (votes > 0).sum(axis=-1)
            variance = (influence**2).sum(axis=-1) * clusters / (clusters - 1)
        width = sequential_half_width(np.sqrt(np.maximum(variance, 0.0)), alpha=alpha, tau=tau)
        low, high = np.maximum(0.0, rate - width), np.minimum(1.0, rate + width)
    bad = (n < MIN_VOTES) | ~np.isfinite(variance) | ((clusters < MIN_CLUSTERS) if unit != Unit.COMPARISON else False)
    low, high = np.where(bad, np.nan, low), np.where(bad, np.nan, high)
    return decide(low, high, margin)
