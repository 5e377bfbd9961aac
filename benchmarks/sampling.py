"""Uniform against adaptive sampling, whole studies through the real serving and voting code.

    python benchmarks/sampling.py [--seeds 20] [--budget 30000] [--prompts 16] [--refresh-every 100]

For each seed it runs the same study twice, ``sampling=uniform`` and ``sampling=adaptive``, both
``stop_when=separated`` (alpha 0.05) with the same vote budget: simulated raters are served and
vote through ``scheduler.session_serve`` / ``scheduler.vote_submit`` exactly as the rater views call
them, answering every criterion by Bradley-Terry with known strengths (10% ties, ties allowed);
every ``--refresh-every`` answered comparisons the benchmark calls ``sampling.study_sampling_refresh``,
the service the background task calls, which writes the pair weights and stops the study when
its rule (or its budget) says so.

Models: 8 systems, two criteria, adjacent Elo gaps of 115-180 with two pairs per criterion within
30-40 Elo. Database: a fresh SQLite file in a temporary directory (the ORM path), or PostgreSQL
with ``DATABASE_URL`` (the PL/pgSQL path; the database is created if missing, and migrated). Image rows
have no files (serving and voting never open them).

Targets (issue 13): ratio <= 0.6; adaptive_wrong_order <= 0.05 and <= uniform_wrong_order + 0.01;
serve_ms_adaptive within 10% of serve_ms_uniform. The last line is a JSON object: runs,
uniform_votes / adaptive_votes (median comparisons to stop), ratio, uniform_wrong_order /
adaptive_wrong_order (share of declared-separated adjacent pairs in the wrong order, over all
runs), budget_hits (runs stopped by the budget, per arm), serve_ms_uniform / serve_ms_adaptive
(mean time of one vote-and-serve call). The two studies of a seed run interleaved, one call each in
turn, and the calls timed are those made while both ran: the same study sizes, and the same
moments of a machine whose speed drifts.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
# This file is benchmarks/sampling.py: its folder on sys.path would shadow nothing today, but keep
# the project's root first so `ratings` is the package.
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

# Elo per criterion, models in ModelSpec id order: gaps 115-180, two pairs 30-40 apart in each.
ELO = [
    [0, 150, 290, 325, 470, 600, 638, 800],
    [0, 120, 300, 335, 450, 610, 640, 780],
]
CRITERIA = ["prompt_adherence", "image_quality"]
TIE_SHARE = 0.1
SEEDS_PER_PROMPT = [0, 1]


def setup_django(data_dir: Path) -> None:
    os.environ["EVALSITE_DATA_DIR"] = str(data_dir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "evalsite.settings")
    os.environ.pop("REDIS_URL", None)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def make_models(n_prompts: int, tag: str, *, n_models: int = len(ELO[0])):
    """8 specs, a prompt set and one image row per spec, prompt and seed (no files)."""
    from generation.models import Image
    from tests.factories import ModelSpecFactory, PromptSetFactory

    specs = [ModelSpecFactory(name=f"bench model {i} {tag}", steps=i + 1) for i in range(n_models)]
    prompt_set = PromptSetFactory(name=f"sampling bench {tag}", size=n_prompts, text="benchmark prompt {i}: an object on a table")
    Image.objects.bulk_create(
        Image(
            spec=spec, prompt=prompt, seed=seed, file=f"images/bench-{tag}-{spec.pk}-{prompt.pk}-{seed}.png", width=64, height=64,
            config_hash=spec.config_hash, latency_s=0.0, batch_size=1, device="cpu", torch_version="bench", diffusers_version="bench",
        )
        for spec in specs for prompt in prompt_set.prompts.all() for seed in SEEDS_PER_PROMPT
    )
    return specs, prompt_set


def make_study(specs, prompt_set, *, sampling_rule: str, budget: int, seed: int, quota: int = 100):
    from ratings import scheduler
    from tests.factories import StudyFactory

    study = StudyFactory(
        name=f"sampling bench {sampling_rule} {seed}", specs=specs, prompt_set=prompt_set, seeds=SEEDS_PER_PROMPT,
        criteria=CRITERIA, allow_ties=True, quota_per_rater=quota, no_checks=True, reservation_seconds=3600,
        sampling_rule=sampling_rule, stop_when="separated", vote_budget=budget,
    )
    scheduler.pair_slots_sync(study=study, rng=random.Random(seed))
    from ratings.models import Study

    Study.objects.filter(pk=study.pk).update(status=Study.Status.RATING)
    scheduler.planner_statistics_refresh()
    study.refresh_from_db()
    return study


class SimulatedCrowd:
    """Raters answering by Bradley-Terry with known strengths; a new rater when one's quota ends."""

    def __init__(self, study, specs, *, seed: int, elo=ELO, tie_share: float = TIE_SHARE):
        from ratings.stats.sampling import ELO_PER_UNIT

        self.study = study
        self.rng = np.random.default_rng(seed)
        self.py_rng = random.Random(seed)
        self.tie_share = tie_share if study.allow_ties else 0.0
        elo = np.asarray(elo, dtype=np.float64)
        self.strength = {spec.pk: (elo[:, i] - elo.mean(axis=1)) / ELO_PER_UNIT for i, spec in enumerate(specs)}
        self.n_raters = 0
        self.rater_id = None
        self.pairs: list = []
        self.call_seconds: list[float] = []

    def next_rater(self) -> bool:
        from ratings import raters, scheduler
        from ratings.models import Rater

        self.n_raters += 1
        rater, _ = raters.rater_join(study=self.study, source=Rater.Source.PROLIFIC, external_id=f"s{self.study.pk}r{self.n_raters}")
        self.rater_id = rater.pk
        self.pairs = scheduler.session_serve(study_id=self.study.pk, rater_id=rater.pk, rng=self.py_rng)["pairs"]
        return bool(self.pairs)

    def answers(self, token) -> dict:
        from ratings.models import Comparison

        comparison = Comparison.objects.select_related("image_a", "image_b").only(
            "left_is_a", "image_a__spec_id", "image_b__spec_id").get(token=token)
        s_a, s_b = self.strength[comparison.image_a.spec_id], self.strength[comparison.image_b.spec_id]
        result = {}
        for c, criterion in enumerate(self.study.criteria):
            if self.rng.random() < self.tie_share:
                result[criterion] = "tie"
                continue
            a_wins = self.rng.random() < 1.0 / (1.0 + np.exp(s_b[c] - s_a[c]))
            result[criterion] = "left" if a_wins == comparison.left_is_a else "right"
        return result

    def vote(self) -> str:
        """Answer the current pair (a new rater first if needed); returns the vote's status, or
        "none" when nothing is left to answer."""
        from ratings import scheduler

        if not self.pairs and not self.next_rater():
            return "none"
        token = self.pairs[0]["token"]
        answers = self.answers(token)
        started = time.perf_counter()
        result = scheduler.vote_submit(study_id=self.study.pk, rater_id=self.rater_id, token=token, answers=answers,
                                      response_ms=4000, rng=self.py_rng)
        self.call_seconds.append(time.perf_counter() - started)
        self.pairs = result.get("pairs", [])
        return result["status"]


class ArmRun:
    """One whole study stepped a vote at a time until its rule or budget stops it (and open pairs
    are answered), so the two arms of a seed can run interleaved."""

    def __init__(self, specs, prompt_set, *, sampling_rule: str, budget: int, seed: int, refresh_every: int, quota: int = 100, elo=ELO):
        self.specs, self.elo, self.refresh_every = specs, elo, refresh_every
        self.study = make_study(specs, prompt_set, sampling_rule=sampling_rule, budget=budget, seed=seed, quota=quota)
        self.crowd = SimulatedCrowd(self.study, specs, seed=seed, elo=elo)
        self.since_refresh = 0
        self.refresh = None
        self.running = True

    def step(self) -> bool:
        """One vote-and-serve call (and a refresh when one is due); False once the study stopped."""
        from ratings import sampling
        from ratings.models import Study

        status = self.crowd.vote()
        if status == "recorded":
            self.since_refresh += 1
        if self.since_refresh >= self.refresh_every or status == "none":
            self.refresh = sampling.study_sampling_refresh(study=self.study)
            self.since_refresh = 0
            stopped = self.refresh.stopped or Study.objects.filter(pk=self.study.pk, stopped_at__isnull=False).exists()
            # Nothing served and not stopped: every slot this crowd could see is used up.
            if stopped or status == "none":
                self.running = False
        return self.running

    def result(self, *, timed_calls: int) -> dict:
        """What the rule declared, on the votes it stopped on; the time of the first
        ``timed_calls`` vote-and-serve calls (those made while both arms ran)."""
        from ratings import sampling
        from ratings.stats import sampling as stats_sampling

        study, refresh = self.study, self.refresh
        counts = sampling.study_pair_counts(study=study)
        n_models = len(self.specs)
        lo, hi = stats_sampling.pair_index(n_models)
        separation = stats_sampling.separation(stats_sampling.fit(counts, lo, hi, n_models), alpha=study.stop_alpha)
        truth = np.asarray(self.elo, dtype=np.float64)
        claimed = separation.separated & separation.considered
        wrong = claimed & (np.take_along_axis(truth, separation.upper, axis=-1) < np.take_along_axis(truth, separation.lower, axis=-1))
        timed = self.crowd.call_seconds[:timed_calls]
        return {
            "votes": refresh.comparisons if refresh else 0,
            "stopped_by_rule": bool(refresh and refresh.stopped and refresh.stop_reason.startswith("Decided")),
            "budget_hit": not (refresh and refresh.stop_reason.startswith("Decided")),
            "declared": int(claimed.sum()),
            "wrong": int(wrong.sum()),
            "serve_ms": 1000.0 * float(np.mean(timed)) if timed else 0.0,
            "timed_calls": len(timed),
            "raters": self.crowd.n_raters,
        }


def run_study(specs, prompt_set, *, sampling_rule: str, budget: int, seed: int, refresh_every: int, quota: int = 100, elo=ELO) -> dict:
    """One study alone, every call timed (the forecast's accuracy test runs one arm only)."""
    run = ArmRun(specs, prompt_set, sampling_rule=sampling_rule, budget=budget, seed=seed, refresh_every=refresh_every,
                 quota=quota, elo=elo)
    while run.step():
        pass
    return run.result(timed_calls=len(run.crowd.call_seconds))


def run_seed(specs, prompt_set, *, budget: int, seed: int, refresh_every: int, quota: int = 100, elo=ELO) -> dict:
    """The uniform and the adaptive study of one seed, stepped alternately (one call each in turn)
    so that a machine whose speed drifts weighs on both arms' timings alike; an arm's calls are
    timed while both run, at the same study sizes."""
    runs = {arm: ArmRun(specs, prompt_set, sampling_rule=arm, budget=budget, seed=seed, refresh_every=refresh_every,
                        quota=quota, elo=elo) for arm in ("uniform", "adaptive")}
    paired_calls = 0
    while all(run.running for run in runs.values()):
        for run in runs.values():
            run.step()
        paired_calls += 1
    for run in runs.values():
        while run.running:
            run.step()
    return {arm: run.result(timed_calls=paired_calls) for arm, run in runs.items()}


def benchmark(*, seeds: int, budget: int, prompts: int, refresh_every: int, quota: int = 100, log=print) -> dict:
    tag = f"{os.getpid()}{int(time.time())}"
    specs, prompt_set = make_models(prompts, tag)
    arms = {"uniform": [], "adaptive": []}
    for seed in range(seeds):
        for arm, run in run_seed(specs, prompt_set, budget=budget, seed=seed, refresh_every=refresh_every, quota=quota).items():
            arms[arm].append(run)
            log(f"seed {seed} {arm}: {run}")

    def median_votes(runs):
        return float(statistics.median(r["votes"] for r in runs))

    def wrong_share(runs):
        declared = sum(r["declared"] for r in runs)
        return sum(r["wrong"] for r in runs) / declared if declared else 0.0

    uniform_votes, adaptive_votes = median_votes(arms["uniform"]), median_votes(arms["adaptive"])
    return {
        "runs": seeds,
        "database": "postgresql" if os.environ.get("DATABASE_URL", "").startswith("postgres") else "sqlite",
        "budget": budget,
        "uniform_votes": uniform_votes,
        "adaptive_votes": adaptive_votes,
        "ratio": round(adaptive_votes / uniform_votes, 3) if uniform_votes else None,
        "uniform_wrong_order": round(wrong_share(arms["uniform"]), 4),
        "adaptive_wrong_order": round(wrong_share(arms["adaptive"]), 4),
        "budget_hits": {arm: sum(r["budget_hit"] for r in runs) for arm, runs in arms.items()},
        "serve_ms_uniform": round(statistics.mean(r["serve_ms"] for r in arms["uniform"]), 3),
        "serve_ms_adaptive": round(statistics.mean(r["serve_ms"] for r in arms["adaptive"]), 3),
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20, help="runs per arm (default 20)")
    parser.add_argument("--budget", type=int, default=30_000, help="vote budget of every study (comparisons)")
    parser.add_argument("--prompts", type=int, default=16, help="prompts (x 2 seeds) per study")
    parser.add_argument("--refresh-every", type=int, default=100, help="answered comparisons between two refreshes")
    parser.add_argument("--quota", type=int, default=100, help="comparisons per simulated rater")
    args = parser.parse_args(argv)
    # SQLite on tmpfs where there is one: the benchmark measures the code, not the disk's fsync.
    scratch = "/dev/shm" if Path("/dev/shm").is_dir() else None
    with tempfile.TemporaryDirectory(prefix="sampling-bench-", dir=scratch) as data_dir:
        if not os.environ.get("DATABASE_URL"):
            os.environ["DATABASE_URL"] = f"sqlite:///{Path(data_dir) / 'bench.sqlite3'}"
        elif os.environ["DATABASE_URL"].startswith("postgres"):
            from benchmarks.postgres import ensure_database

            ensure_database(os.environ["DATABASE_URL"])
        setup_django(Path(data_dir))
        document = benchmark(seeds=args.seeds, budget=args.budget, prompts=args.prompts,
                             refresh_every=args.refresh_every, quota=args.quota, log=lambda m: print(m, flush=True))
    print(json.dumps(document))


if __name__ == "__main__":
    main()
