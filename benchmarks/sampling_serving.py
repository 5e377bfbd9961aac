"""benchmarks/sampling.py's real serving: the homogeneous-8 configuration run through
``scheduler.session_serve`` / ``scheduler.vote_submit`` as the rater views call them, with
``sampling.study_sampling_refresh`` between votes (a simulated crowd answering by Bradley-Terry;
image rows without files). Also used by benchmarks/versus.py (``ArmRun``, ``SimulatedCrowd``,
``setup_django``) and by the tests that serve a simulated crowd."""

from __future__ import annotations

import os
import random
import statistics
import time
from pathlib import Path

import numpy as np


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


def make_study(specs, prompt_set, *, sampling_rule: str, budget: int, seed: int, quota: int = 100, unit: str = "prompt", **options):
    """An open study of ``specs`` (this benchmark's design unless ``options`` say otherwise, e.g.
    benchmarks/versus.py's versus_reference study), its slots made and the planner refreshed."""
    from ratings import scheduler
    from ratings.slots import pair_slots_sync
    from tests.factories import StudyFactory

    design = dict(
        name=f"sampling bench {sampling_rule} {seed}", criteria=CRITERIA, allow_ties=True, stop_when="separated", unit=unit,
    )
    study = StudyFactory(
        specs=specs, prompt_set=prompt_set, seeds=SEEDS_PER_PROMPT, quota_per_rater=quota, no_checks=True, reservation_seconds=3600,
        sampling_rule=sampling_rule, vote_budget=budget, **{**design, **options},
    )
    pair_slots_sync(study=study, rng=random.Random(seed))
    from ratings.models import Study

    Study.objects.filter(pk=study.pk).update(status=Study.Status.RATING)
    scheduler.planner_statistics_refresh()
    study.refresh_from_db()
    return study


class SimulatedCrowd:
    """Raters answering by Bradley-Terry with known strengths; a new rater when one's quota ends."""

    def __init__(self, study, specs, *, seed: int, elo=ELO, tie_share: float = TIE_SHARE, prompt_sd: float = 0.0, rater_sd: float = 0.0):
        """prompt_sd, rater_sd (Elo): each model's strength varies by prompt, and each rater leans,
        with these standard deviations around ``elo`` (the population's means)."""
        from ratings.stats.sampling import ELO_PER_UNIT

        self.study = study
        self.rng = np.random.default_rng(seed)
        self.py_rng = random.Random(seed)
        self.tie_share = tie_share if study.allow_ties else 0.0
        elo = np.asarray(elo, dtype=np.float64)
        self.strength = {spec.pk: (elo[:, i] - elo.mean(axis=1)) / ELO_PER_UNIT for i, spec in enumerate(specs)}
        self.prompt_sd, self.rater_sd = prompt_sd / ELO_PER_UNIT, rater_sd / ELO_PER_UNIT
        self.effects: dict = {}
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
            "left_is_a", "prompt_id", "image_a__spec_id", "image_b__spec_id").get(token=token)
        s_a, s_b = (self.strength[comparison.image_a.spec_id] + self.effect(comparison.image_a.spec_id, comparison.prompt_id),
                    self.strength[comparison.image_b.spec_id] + self.effect(comparison.image_b.spec_id, comparison.prompt_id))
        result = {}
        for c, criterion in enumerate(self.study.criteria):
            if self.rng.random() < self.tie_share:
                result[criterion] = "tie"
                continue
            a_wins = self.rng.random() < 1.0 / (1.0 + np.exp(s_b[c] - s_a[c]))
            result[criterion] = "left" if a_wins == comparison.left_is_a else "right"
        return result

    def effect(self, spec_id: int, prompt_id: int) -> np.ndarray:
        """The model's deviation on this prompt plus the current rater's lean toward it."""
        if not (self.prompt_sd or self.rater_sd):
            return 0.0
        n_criteria = len(self.study.criteria)
        for key, sd in ((("prompt", spec_id, prompt_id), self.prompt_sd), (("rater", spec_id, self.rater_id), self.rater_sd)):
            if key not in self.effects:
                self.effects[key] = self.rng.normal(0.0, sd, n_criteria) if sd else np.zeros(n_criteria)
        return self.effects[("prompt", spec_id, prompt_id)] + self.effects[("rater", spec_id, self.rater_id)]

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

    def __init__(self, specs, prompt_set, *, sampling_rule: str, budget: int, seed: int, refresh_every: int, quota: int = 100, elo=ELO,
                 study_options: dict | None = None, crowd_options: dict | None = None):
        from tests.factories import database_random_seed

        self.specs, self.elo, self.refresh_every = specs, elo, refresh_every
        database_random_seed(seed)  # one seed, one study
        self.study = make_study(specs, prompt_set, sampling_rule=sampling_rule, budget=budget, seed=seed, quota=quota, **(study_options or {}))
        self.crowd = SimulatedCrowd(self.study, specs, seed=seed, elo=elo, **(crowd_options or {}))
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
        from ratings.sampling_tables import study_vote_tables
        from ratings.stats import sampling as stats_sampling

        study, refresh = self.study, self.refresh
        tables = study_vote_tables(study=study)
        n_models = len(self.specs)
        lo, hi = stats_sampling.pair_index(n_models)
        model_fit = stats_sampling.fit(tables.counts, lo, hi, n_models, clustered=tables.terms(study.unit))
        separation = stats_sampling.separation(model_fit, alpha=study.stop_alpha)
        truth = np.asarray(self.elo, dtype=np.float64)
        claimed = separation.separated & separation.considered
        wrong = claimed & (np.take_along_axis(truth, separation.upper, axis=-1) < np.take_along_axis(truth, separation.lower, axis=-1))
        timed = self.crowd.call_seconds[:timed_calls]
        return {
            "votes": refresh.comparisons if refresh else 0,
            "stopped_by_rule": bool(refresh and refresh.stopped and refresh.stop_reason.startswith("Decided")),
            "budget_hit": bool(refresh and refresh.stop_reason.startswith("Vote budget")),
            "undecidable": bool(refresh and refresh.stop_reason.startswith("Undecidable")),
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


def real_serving(*, seeds: int, budget: int, prompts: int, refresh_every: int, quota: int = 100, log=print) -> dict:
    """The homogeneous-8 configuration through the real serving, voting and refresh code."""
    tag = f"{os.getpid()}{int(time.time())}"
    specs, prompt_set = make_models(prompts, tag)
    arms = {"uniform": [], "adaptive": []}
    for seed in range(seeds):
        for arm, run in run_seed(specs, prompt_set, budget=budget, seed=seed, refresh_every=refresh_every, quota=quota).items():
            arms[arm].append(run)
            log(f"real serving, seed {seed} {arm}: {run}")

    def median_votes(runs):
        return float(statistics.median(r["votes"] for r in runs))

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


def wrong_share(runs) -> float:
    declared = sum(r["declared"] for r in runs)
    return sum(r["wrong"] for r in runs) / declared if declared else 0.0
