"""benchmarks/versus.py's simulation of the statistical rule (``ratings/stats/versus.py``), not of
the serving stack: all pairs against versus-reference in lockstep with the library's anytime-valid
interval and decisions, clustered by prompt; the margin student alone (``margin_check``); and the
library's own simulation of ``stop_when = decided`` (``versus_rule``). See benchmarks/versus.py's
docstring for the configuration and the measures."""

from __future__ import annotations

import numpy as np

from ratings.stats.arrays import VoteArrays
from ratings.stats.versus import decide, sequential_half_width, simulate_decided, versus_reference


TRUE_WIN_RATES = np.array([0.35, 0.40, 0.45, 0.50, 0.55, 0.60])
MARGIN, ALPHA, TAU, TIES = 0.05, 0.05, 0.5, 0.1
MARGIN_STUDENT = int(np.flatnonzero(np.isclose(TRUE_WIN_RATES, 0.5 - MARGIN))[0])
CLAIMS = {"better": lambda p: p > 0.5, "equivalent": lambda p: abs(p - 0.5) < MARGIN,
          "non-inferior": lambda p: p > 0.5 - MARGIN, "inferior": lambda p: p < 0.5 - MARGIN}


def mean_strengths(win_rates: np.ndarray, tau: float) -> np.ndarray:
    """Strengths theta with E_z[sigmoid(theta + tau z)] = win rate (Gauss-Hermite, bisection)."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(60)
    weights = weights / weights.sum()
    low, high = np.full(win_rates.size, -10.0), np.full(win_rates.size, 10.0)
    for _ in range(80):
        mid = (low + high) / 2
        rate = (weights / (1 + np.exp(-(mid[:, None] + tau * nodes)))).sum(axis=1)
        low, high = np.where(rate < win_rates, mid, low), np.where(rate < win_rates, high, mid)
    return (low + high) / 2


def cluster_decisions(sums: np.ndarray, counts: np.ndarray, *, margin: float = MARGIN, alpha: float = ALPHA):
    """(win rate, low, high, decision) per student from its score sums and votes per prompt
    (float[students, prompts]): cluster-robust by prompt, anytime-valid, undecided below 20 votes
    or 5 prompts (as ``versus_reference``)."""
    n = counts.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = sums.sum(axis=1) / n
        influence = (sums - rate[:, None] * counts) / n[:, None]
    clusters = (counts > 0).sum(axis=1)
    variance = (influence**2).sum(axis=1) * clusters / np.maximum(clusters - 1, 1)
    width = sequential_half_width(np.sqrt(variance), alpha=alpha)
    low, high = np.clip(rate - width, 0, 1), np.clip(rate + width, 0, 1)
    enough = (n >= 20) & (clusters >= 5)
    low, high = np.where(enough, low, np.nan), np.where(enough, high, np.nan)
    return rate, low, high, decide(low, high, margin)


class Arm:
    """One simulated study: per (student, prompt) sums of the student's score against the reference."""

    def __init__(self, design: str, n_prompts: int, rng: np.random.Generator, strength: np.ndarray, keep_votes: bool):
        self.design, self.rng, self.strength = design, rng, strength  # strength[model, prompt], model 0 = reference
        self.n_students = strength.shape[0] - 1
        self.sums = np.zeros((self.n_students, n_prompts))
        self.counts = np.zeros((self.n_students, n_prompts))
        self.comparisons = 0
        self.pairs = [(i, j) for i in range(strength.shape[0]) for j in range(i + 1, strength.shape[0])]
        self.votes = [] if keep_votes else None

    def serve(self, n: int, undecided: np.ndarray) -> None:
        n_prompts = self.sums.shape[1]
        prompt = self.rng.integers(0, n_prompts, n)
        if self.design == "all_pairs":
            pair = np.array(self.pairs)[self.rng.integers(0, len(self.pairs), n)]
            a, b = pair[:, 0], pair[:, 1]
        else:
            share = np.full(self.n_students, 0.2 / self.n_students)
            if undecided.any():
                share += 0.8 * undecided / undecided.sum()
            else:
                share += 0.8 / self.n_students
            a, b = np.zeros(n, dtype=int), 1 + self.rng.choice(self.n_students, n, p=share / share.sum())
        p_a = 1 / (1 + np.exp(self.strength[b, prompt] - self.strength[a, prompt]))
        tie = self.rng.random(n) < TIES
        score_a = np.where(tie, 0.5, (self.rng.random(n) < p_a).astype(float))  # ties: strengths decide the rest
        versus = a == 0
        student = b[versus] - 1
        np.add.at(self.sums, (student, prompt[versus]), 1.0 - score_a[versus])
        np.add.at(self.counts, (student, prompt[versus]), 1.0)
        if self.votes is not None:
            self.votes.append((a, b, score_a, prompt))
        self.comparisons += n

    def decisions(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(win rate, low, high, decision) per student: cluster-robust by prompt, anytime-valid."""
        return cluster_decisions(self.sums, self.counts)

    def check_against_library(self) -> None:
        a, b, score_a, prompt = (np.concatenate(parts) for parts in zip(*self.votes))
        names = ("reference", *(f"student-{i}" for i in range(self.n_students)))
        votes = VoteArrays(a, b, score_a, names, cluster=prompt)
        rows = {row.model: row for row in versus_reference(votes, "reference", unit="prompt", sequential=True, alpha=ALPHA, margin=MARGIN)}
        rate, low, _, decision = self.decisions()
        for i in range(self.n_students):
            row = rows[f"student-{i}"]
            assert abs(row.win_rate - rate[i]) < 1e-9 and row.decision == decision[i], (row, rate[i], low[i], decision[i])
            assert row.low is None or abs(row.low - low[i]) < 1e-9


def run_arm(design: str, seed: int, args, theta: np.ndarray) -> dict:
    rng = np.random.default_rng(seed)
    strength = np.vstack([np.zeros(args.prompts), theta[:, None] + TAU * rng.standard_normal((theta.size, args.prompts))])
    arm = Arm(design, args.prompts, rng, strength, keep_votes=seed == 0)
    others = np.arange(theta.size) != MARGIN_STUDENT
    decided_at, decisions_then, false_non_inferior = None, None, False
    decision = np.full(theta.size, "undecided")
    while arm.comparisons < args.budget:
        arm.serve(args.look_every, decision == "undecided")
        _, _, _, decision = arm.decisions()
        margin_claim = decision[MARGIN_STUDENT]
        false_non_inferior |= margin_claim in ("non-inferior", "better", "equivalent")
        if decided_at is None and (decision[others] != "undecided").all():
            decided_at, decisions_then = arm.comparisons, decision.copy()
    if arm.votes is not None:
        arm.check_against_library()
    final = decisions_then if decisions_then is not None else decision
    made = [(d, p) for d, p in zip(final, TRUE_WIN_RATES) if d != "undecided"]
    wrong = sum(not CLAIMS[d](p) for d, p in made)
    return {"votes": decided_at if decided_at is not None else args.budget, "budget_hit": decided_at is None,
            "false_non_inferior": false_non_inferior, "decisions": len(made), "wrong": wrong}


def margin_check(*, runs: int, prompts: int, votes: int, batch: int = 100, seed: int = 1) -> float:
    """The margin student alone, many runs at once (vectorized): the share declared non-inferior,
    better or equivalent at some look in its first `votes` votes, looking every `batch` votes; a
    tighter estimate of false_non_inferior than the whole studies give."""
    rng = np.random.default_rng(seed)
    theta = mean_strengths(np.array([(0.5 - MARGIN - TIES / 2) / (1 - TIES)]), TAU)[0]
    mean_score = TIES / 2 + (1 - TIES) / (1 + np.exp(-(theta + TAU * rng.standard_normal((runs, prompts)))))
    sums, counts, claimed = np.zeros((runs, prompts)), np.zeros((runs, prompts)), np.zeros(runs, dtype=bool)
    rows = np.repeat(np.arange(runs), batch)
    for _ in range(votes // batch):
        prompt = rng.integers(0, prompts, (runs, batch))
        p = np.take_along_axis(mean_score, prompt, axis=1)
        score = np.where(rng.random((runs, batch)) < TIES, 0.5, (rng.random((runs, batch)) < (p - TIES / 2) / (1 - TIES)).astype(float))
        np.add.at(sums, (rows, prompt.ravel()), score.ravel())
        np.add.at(counts, (rows, prompt.ravel()), 1.0)
        n = counts.sum(axis=1)
        rate = sums.sum(axis=1) / n
        clusters = (counts > 0).sum(axis=1)
        variance = (((sums - rate[:, None] * counts) / n[:, None]) ** 2).sum(axis=1) * clusters / np.maximum(clusters - 1, 1)
        low = rate - sequential_half_width(np.sqrt(variance), alpha=ALPHA)
        claimed |= (low > 0.5 - MARGIN) & (n >= 20) & (clusters >= 5)
    return float(claimed.mean())


def versus_rule(args) -> dict:
    """The adaptive versus_reference arm through the library's simulation of ``stop_when = decided``
    as the study machinery implements it (``ratings.stats.versus.simulate_decided``, the study
    forecast's simulator: the anytime-valid decisions clustered by prompt at every look, 80% of
    each batch on the undecided students, 20% over all). Its prompt spread is N(0, TAU**2) on the
    logit of each student's win rate (no ties), so the population win rates sit slightly nearer
    0.5 than the list; the margin student is never decided, so every run goes to the budget and
    its `votes` are the comparisons when the five others were last all decided."""
    result = simulate_decided(TRUE_WIN_RATES, margin=MARGIN, alpha=ALPHA, look_every=args.look_every, budget=args.budget,
                              sampling="adaptive", exploration=0.2, unit="prompt", prompts=args.prompts, prompt_sd=TAU,
                              runs=args.runs, seed=7)
    others = [m for m in range(TRUE_WIN_RATES.size) if m != MARGIN_STUDENT]
    five = result.first_decided[:, others].max(axis=1)
    final = result.decisions[:, others]
    truth = np.array([[CLAIMS[d](TRUE_WIN_RATES[m]) if d in CLAIMS else True for m, d in zip(others, row)] for row in final])
    made = final != "undecided"
    return {
        "versus_votes": float(np.median(five)),
        "budget_hits": float(np.mean(five >= args.budget)),
        "false_non_inferior": float(result.claimed[:, MARGIN_STUDENT, :3].any(axis=1).mean()),
        "wrong_decisions": float((made & ~truth).sum() / max(made.sum(), 1)),
    }
