"""All pairs against versus-reference: votes to decide every student against its teacher.

    python benchmarks/versus.py [--runs 100] [--budget 300000] [--prompts 200] [--look-every 500]
    DATABASE_URL=postgres://... python benchmarks/versus.py --real-only --real-seeds 3   # the real serving alone

Two parts. First, a simulation of the statistical rule (``ratings/stats/versus.py``), not of the serving stack:
the two arms are simulated here in lockstep with the library's own
anytime-valid interval (``sequential_half_width``) and decisions (``decide``), clustered by prompt;
the first run of each arm checks the fast cluster sums against ``versus_reference`` on the raw votes.

Models: a reference and 6 students whose population win rates against it are 0.35, 0.40, 0.45
(exactly 0.5 - delta, delta = 0.05), 0.50, 0.55 and 0.60. Prompt heterogeneity: on each prompt a
student's Bradley-Terry strength is its mean plus N(0, tau**2) (tau = 0.5 natural units, 87 Elo),
the means solved so that the population win rates are exactly those above; each run draws its
own prompts. 10% of answers are ties (half a win). Student-student pairs (all_pairs only) follow
Bradley-Terry with the same per-prompt strengths.

Arms, each stopped when every student is decided (or at the budget), checked every
``--look-every`` comparisons:
- all_pairs: every one of the 21 model pairs served uniformly (the default design);
- versus_reference: only reference pairs, adaptive: 80% of the votes spread over the students
  still undecided, 20% over all six (an exploration floor).

A student exactly at the margin can never be decided by a valid rule (its interval keeps covering
0.45), so it is left out of "decided": `all_pairs_votes` and `versus_votes` are the median
comparisons until the other five are all decided; the runs go on to the budget all the same, so
`false_non_inferior` (runs declaring the margin student non-inferior, better or equivalent at
any look) is measured under peeking at every look to the end. `false_non_inferior_margin_check`: the same share
for the margin student alone over `--margin-runs` runs (vectorized; its first 30,000 votes).
`wrong_decisions`: the share of
decisions (at the stop of the five) contradicting the truth; `budget_hits`: runs whose five were
not decided within the budget. Targets (issue 27): ratio <= 0.5, false_non_inferior <= alpha,
wrong_decisions <= alpha. `versus_rule`: the adaptive versus_reference arm again through
``simulate_decided``, the library's simulation of ``stop_when = decided`` as the study machinery
implements it (the forecast's simulator; see ``versus_rule``).

Second, real serving (``--real-seeds N``; off by default: on a loaded 2-core machine about 22 ms a
vote, 3 seeds took 192 s at 6,800 votes and 10 seeds 744 s at 34,100; the median 3-seed run,
about 9,800 votes, would take about 4.5 min there, a slow one over 6): one versus configuration, a teacher (50 steps) and three students (REAL_STUDENTS: 4 steps
at a true win rate of 0.65, clearly non-inferior; 2 steps at 0.39, near the 0.45 margin; 1 step at
0.25, clearly inferior), one criterion, forced choice, 16 prompts x 2 seeds, the students' logit
against the teacher varying by prompt (sd 0.15), as ``versus_reference`` studies stopped by
``decided`` on the prompt unit (margin 0.05, alpha 0.05, exploration 0.2, budget 4,000), uniform
and adaptive, each seed one study per arm. Each study is stepped a vote at a time through
``scheduler.session_serve`` / ``scheduler.vote_submit`` with ``sampling.study_sampling_refresh``
every 100 answered comparisons (benchmarks/sampling_serving.py's ``ArmRun`` and ``SimulatedCrowd``, on
PostgreSQL with DATABASE_URL, else SQLite), and PostgreSQL's random() is seeded per study. Each
student's decision at the stop is computed here from the raw Vote rows (``raw_vote_decisions``)
and checked against the study's own (``ratings.versus.study_decisions``: ``matches_study``). The
same configuration is simulated ``--real-sim-runs`` times per arm by ``simulate_decided`` (the
forecast's simulator) with a look every 100 comparisons, and the two agree (``agree``) when every
real decision is one the simulation makes for that student in at least DECISION_TOLERANCE (2%) of
its runs, and each arm's real median votes lie within the VOTES_RANGE (1st-99th) percentiles of
the median of as many simulated studies as real seeds. The simulation serves models at random and
the real scheduler serves the least-filled slot, so the real runs vary a little less.

The last line is a JSON object (``real_serving`` in it when run).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from benchmarks import sampling_serving as sampling_bench  # noqa: E402  (its ArmRun, SimulatedCrowd and setup_django: the real serving)
from benchmarks.versus_simulation import (  # noqa: E402  (the simulation of the statistical rule)
    ALPHA, MARGIN, TAU, TIES, TRUE_WIN_RATES, cluster_decisions, margin_check, mean_strengths, run_arm, versus_rule,
)
from ratings.stats.versus import simulate_decided  # noqa: E402


# Real serving: one versus configuration through the scheduler, the votes and the refresh.

#: The teacher's steps, and each student's steps and true win rate against the teacher: one
#: clearly non-inferior, one near the margin (0.06 below 0.5 - delta: inferior, slowly), one
#: clearly inferior.
REAL_TEACHER_STEPS = 50
REAL_STUDENTS = ((4, 0.65), (2, 0.39), (1, 0.25))
REAL_CRITERION = "image_quality"  # one criterion: the simulation's win rate is that criterion's
REAL_EXPLORATION = 0.2
#: A real run's decision agrees with the statistics when the simulation of its arm makes that
#: decision for that student in at least this share of its runs.
DECISION_TOLERANCE = 0.02
#: A real arm's median votes agree when they lie in this central range of the median of as many
#: simulated studies as there are real seeds (resampled from the simulated runs).
VOTES_RANGE = (1, 99)
REAL_SEEDS_DEFAULT = 0


def make_versus_models(prompts: int, tag: str, students=REAL_STUDENTS):
    """The teacher and its students (ModelSpec id order: teacher first), a prompt set and one
    image row per spec, prompt and seed (no files)."""
    from generation.models import Image
    from tests.factories import ModelSpecFactory, PromptSetFactory

    specs = [ModelSpecFactory(name=f"versus teacher {REAL_TEACHER_STEPS} steps {tag}", steps=REAL_TEACHER_STEPS)]
    specs += [ModelSpecFactory(name=f"versus student {steps} steps {tag}", steps=steps) for steps, _ in students]
    prompt_set = PromptSetFactory(name=f"versus bench {tag}", size=prompts, text="benchmark prompt {i}: an object on a table")
    Image.objects.bulk_create(
        Image(
            spec=spec, prompt=prompt, seed=seed, file=f"images/versus-{tag}-{spec.pk}-{prompt.pk}-{seed}.png", width=64, height=64,
            config_hash=spec.config_hash, latency_s=0.0, batch_size=1, device="cpu", torch_version="bench", diffusers_version="bench",
        )
        for spec in specs for prompt in prompt_set.prompts.all() for seed in sampling_bench.SEEDS_PER_PROMPT
    )
    return specs, prompt_set


def versus_study_options(specs, *, sampling_rule: str, seed: int) -> dict:
    """The versus_reference study of the students against the teacher (specs[0]), stopped by
    ``decided`` on the prompt unit at MARGIN and ALPHA, one criterion, forced choice: what
    benchmarks/sampling_serving.py's make_study is told beyond its own design."""
    return dict(
        name=f"versus bench {sampling_rule} {seed}", criteria=[REAL_CRITERION], allow_ties=False, exploration=REAL_EXPLORATION,
        stop_when="decided", stop_alpha=ALPHA, unit="prompt", design="versus_reference", reference=specs[0], versus_margin=MARGIN,
    )


def crowd_elo(win_rates) -> list[list[float]]:
    """Elo (one criterion; teacher first, at 0) under which each student beats the teacher with
    its win rate: logit(p) natural units."""
    from ratings.stats.sampling import ELO_PER_UNIT

    p = np.asarray(win_rates, dtype=np.float64)
    return [[0.0, *(np.log(p / (1 - p)) * ELO_PER_UNIT).tolist()]]


def versus_arm_run(specs, prompt_set, *, sampling_rule: str, budget: int, seed: int, refresh_every: int, quota: int,
                   prompt_sd: float, students=REAL_STUDENTS):
    """benchmarks/sampling_serving.py's ArmRun (its step: a vote-and-serve call, the refresh every
    ``refresh_every`` answered comparisons) on a versus study; ``prompt_sd``: the spread of a
    student's logit against the teacher across prompts (natural units), each model's own spread
    in the crowd being prompt_sd / sqrt(2)."""
    from ratings.stats.sampling import ELO_PER_UNIT

    return sampling_bench.ArmRun(
        specs, prompt_set, sampling_rule=sampling_rule, budget=budget, seed=seed, refresh_every=refresh_every, quota=quota,
        elo=crowd_elo([p for _, p in students]), study_options=versus_study_options(specs, sampling_rule=sampling_rule, seed=seed),
        crowd_options=dict(tie_share=0.0, prompt_sd=prompt_sd / np.sqrt(2) * ELO_PER_UNIT),
    )


def raw_vote_decisions(study, specs) -> dict[str, str]:
    """Each student's decision against the teacher computed here from the study's raw Vote rows
    (score sums per prompt, ``cluster_decisions``), not through the study's own tables."""
    from ratings.models import Vote
    from ratings.results.votes import model_label

    teacher, students = specs[0].pk, [spec.pk for spec in specs[1:]]
    column = {pk: g for g, pk in enumerate(study.job.prompt_set.prompts.order_by("pk").values_list("pk", flat=True))}
    sums, counts = np.zeros((len(students), len(column))), np.zeros((len(students), len(column)))
    rows = Vote.objects.filter(comparison__study=study, criterion=REAL_CRITERION).values_list(
        "comparison__image_a__spec_id", "comparison__image_b__spec_id", "comparison__prompt_id", "choice")
    for spec_a, spec_b, prompt_id, choice in rows:
        if teacher not in (spec_a, spec_b):
            continue
        student = spec_b if spec_a == teacher else spec_a
        score = 0.5 if choice == "tie" else float((choice == "a") == (spec_a == student))
        sums[students.index(student), column[prompt_id]] += score
        counts[students.index(student), column[prompt_id]] += 1
    _, _, _, decision = cluster_decisions(sums, counts)
    return {model_label(spec): str(d) for spec, d in zip(specs[1:], decision)}


def real_run_result(run, specs) -> dict:
    """What one real study did: its votes at the stop, why it stopped, each student's decision
    (from the raw votes) and the study's own decisions (``ratings.versus.study_decisions``, what its
    rule read)."""
    from ratings.versus import study_decisions

    refresh = run.refresh
    reason = refresh.stop_reason if refresh else ""
    decisions = raw_vote_decisions(run.study, specs)
    own = {row.model: row.decision for row in study_decisions(study=run.study)}
    return {
        "study": run.study.pk,
        "votes": refresh.comparisons if refresh else 0,
        "stopped_by_rule": reason.startswith("Decided"),
        "budget_hit": reason.startswith("Vote budget"),
        "decisions": decisions,
        "matches_study": decisions == own,
        "raters": run.crowd.n_raters,
    }


def simulated_arms(*, students, budget: int, prompts: int, refresh_every: int, prompt_sd: float, runs: int, seed: int = 11) -> dict:
    """The same configuration in pure statistics (``simulate_decided``, the forecast's simulator)."""
    rates = [p for _, p in students]
    return {
        arm: simulate_decided(rates, margin=MARGIN, alpha=ALPHA, look_every=refresh_every, budget=budget, sampling=arm,
                              exploration=REAL_EXPLORATION, unit="prompt", prompts=prompts, prompt_sd=prompt_sd, runs=runs, seed=seed)
        for arm in ("uniform", "adaptive")
    }


def median_range(stops: np.ndarray, n: int, *, draws: int = 20_000, seed: int = 3) -> tuple[float, float]:
    """VOTES_RANGE percentiles of the median of ``n`` studies drawn from the simulated stops."""
    rng = np.random.default_rng(seed)
    medians = np.median(rng.choice(stops, size=(draws, n)), axis=1)
    low, high = np.percentile(medians, VOTES_RANGE)
    return float(low), float(high)


def real_serving(*, seeds: int, budget: int, prompts: int, refresh_every: int, quota: int, prompt_sd: float, sim_runs: int,
                 students=REAL_STUDENTS, log=print) -> dict:
    """The configuration (``students``: steps and true win rate of each, against the teacher) run ``seeds`` times per arm through
    the real serving, voting and refresh code, and ``sim_runs`` times per arm in pure statistics;
    whether they agree (decisions, and votes to stop) and the numbers."""
    from ratings.results.votes import model_label

    started = time.perf_counter()
    tag = f"{os.getpid()}{int(time.time())}"
    specs, prompt_set = make_versus_models(prompts, tag, students)
    configuration, students = students, [model_label(spec) for spec in specs[1:]]
    simulated = simulated_arms(students=configuration, budget=budget, prompts=prompts, refresh_every=refresh_every, prompt_sd=prompt_sd, runs=sim_runs)
    real = {"uniform": [], "adaptive": []}
    for seed in range(seeds):
        for arm in real:
            run = versus_arm_run(specs, prompt_set, sampling_rule=arm, budget=budget, seed=seed, refresh_every=refresh_every,
                                 quota=quota, prompt_sd=prompt_sd, students=configuration)
            while run.step():
                pass
            result = real_run_result(run, specs)
            real[arm].append(result)
            log(f"real serving, seed {seed} {arm}: {result}")
    arms = {}
    for arm, runs in real.items():
        sim = simulated[arm]
        shares = {name: {d: round(float(np.mean(sim.decisions[:, m] == d)), 3) for d in sorted(set(sim.decisions[:, m]))}
                  for m, name in enumerate(students)}
        real_decisions = {name: [r["decisions"][name] for r in runs] for name in students}
        decisions_agree = all(shares[name].get(d, 0.0) >= DECISION_TOLERANCE for name in students for d in real_decisions[name])
        votes = [r["votes"] for r in runs]
        low, high = median_range(sim.stop, len(runs))
        real_median, sim_median = float(statistics.median(votes)), float(np.median(sim.stop))
        arms[arm] = {
            "studies": [r["study"] for r in runs],
            "real_votes": votes,
            "real_median_votes": real_median,
            "simulated_median_votes": sim_median,
            "votes_ratio": round(real_median / sim_median, 3),
            "simulated_median_range": [low, high],
            "votes_agree": low <= real_median <= high,
            # Where each real run's votes fall among the simulated runs' (mid-rank): near 0.5 on average when they agree.
            "real_votes_percentiles": [round(float(np.mean(sim.stop < v) + np.mean(sim.stop == v) / 2), 3) for v in votes],
            "real_decisions": real_decisions,
            "simulated_decision_shares": shares,
            "decisions_agree": decisions_agree,
            "real_budget_hits": sum(r["budget_hit"] for r in runs),
            "simulated_budget_hits": round(float(sim.budget_hit.mean()), 3),
            "matches_study": all(r["matches_study"] for r in runs),
        }
    return {
        "seeds": seeds,
        "database": connection_vendor(),
        "budget": budget,
        "prompts": prompts,
        "prompt_sd": prompt_sd,
        "refresh_every": refresh_every,
        "quota": quota,
        "simulated_runs": sim_runs,
        "teacher": model_label(specs[0]),
        "students": {name: {"steps": steps, "win_rate": p} for name, (steps, p) in zip(students, configuration)},
        "margin": MARGIN,
        "alpha": ALPHA,
        "tolerance": (f"decisions: each real decision is one the simulation makes for that student in >= {DECISION_TOLERANCE:.0%} "
                      f"of its runs; votes: the real median within the {VOTES_RANGE[0]}-{VOTES_RANGE[1]}th percentiles of the "
                      f"median of {seeds} simulated studies"),
        "arms": arms,
        "real_ratio": round(arms["adaptive"]["real_median_votes"] / arms["uniform"]["real_median_votes"], 3),
        "simulated_ratio": round(arms["adaptive"]["simulated_median_votes"] / arms["uniform"]["simulated_median_votes"], 3),
        "agree": all(a["decisions_agree"] and a["votes_agree"] and a["matches_study"] for a in arms.values()),
        "seconds": round(time.perf_counter() - started, 1),
    }


def connection_vendor() -> str:
    from django.db import connection

    return connection.vendor


def run_real_serving(args, log=print) -> dict:
    """``real_serving`` in a database of its own: PostgreSQL at DATABASE_URL (created when missing),
    else a fresh SQLite file (the ORM path)."""
    scratch = "/dev/shm" if Path("/dev/shm").is_dir() else None
    with tempfile.TemporaryDirectory(prefix="versus-bench-", dir=scratch) as data_dir:
        if not os.environ.get("DATABASE_URL"):
            os.environ["DATABASE_URL"] = f"sqlite:///{Path(data_dir) / 'bench.sqlite3'}"
        elif os.environ["DATABASE_URL"].startswith("postgres"):
            from benchmarks.postgres import ensure_database

            ensure_database(os.environ["DATABASE_URL"])
        sampling_bench.setup_django(Path(data_dir))
        return real_serving(seeds=args.real_seeds, budget=args.real_budget, prompts=args.real_prompts,
                            refresh_every=args.real_refresh_every, quota=args.real_quota, prompt_sd=args.real_prompt_sd,
                            sim_runs=args.real_sim_runs, log=log)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--budget", type=int, default=300_000, help="comparisons per study at most (default 300,000)")
    parser.add_argument("--prompts", type=int, default=200, help="prompts per study (default 200; with 50 the prompts alone keep a 0.05 gap from being decided)")
    parser.add_argument("--look-every", type=int, default=500, help="comparisons between looks (default 500)")
    parser.add_argument("--margin-runs", type=int, default=2000,
                        help="runs of the margin student alone (its first 30,000 votes, a look every 100) for a tighter "
                             "false_non_inferior estimate (default 2000; 0 to skip)")
    real = parser.add_argument_group("real serving", "REAL_STUDENTS against their teacher through the scheduler, voting and refresh")
    real.add_argument("--real-seeds", type=int, default=REAL_SEEDS_DEFAULT,
                      help=f"studies per arm (uniform, adaptive) through the real serving code (default {REAL_SEEDS_DEFAULT}; 0 skips)")
    real.add_argument("--real-only", action="store_true", help="only the real serving (the last line: its JSON object alone)")
    real.add_argument("--real-budget", type=int, default=4000, help="vote budget of each real study (default 4000)")
    real.add_argument("--real-prompts", type=int, default=16, help="prompts (x 2 seeds) of the real studies (default 16)")
    real.add_argument("--real-prompt-sd", type=float, default=0.15,
                      help="spread of a student's logit against the teacher across prompts, natural units (default 0.15)")
    real.add_argument("--real-refresh-every", type=int, default=100, help="answered comparisons between refreshes (and looks; default 100)")
    real.add_argument("--real-quota", type=int, default=20, help="comparisons per simulated rater (default 20)")
    real.add_argument("--real-sim-runs", type=int, default=2000, help="simulated studies per arm to compare with (default 2000)")
    args = parser.parse_args(argv)
    log = lambda m: print(m, flush=True)  # noqa: E731
    if args.real_only:
        result = {"real_serving": run_real_serving(args, log=log)}
        print(json.dumps(result))
        return result
    theta = mean_strengths((TRUE_WIN_RATES - TIES / 2) / (1 - TIES), TAU)  # a tie is half a win: 0.05 + 0.9 p
    started = time.perf_counter()
    results = {design: [run_arm(design, seed, args, theta) for seed in range(args.runs)] for design in ("all_pairs", "versus_reference")}
    summary = {}
    for design, runs in results.items():
        decided = [r["votes"] for r in runs]
        made = sum(r["decisions"] for r in runs)
        summary[design] = {
            "median_votes": statistics.median(decided),
            "budget_hits": sum(r["budget_hit"] for r in runs) / len(runs),
            "false_non_inferior": sum(r["false_non_inferior"] for r in runs) / len(runs),
            "wrong_decisions": sum(r["wrong"] for r in runs) / max(made, 1),
        }
        print(f"{design}: median {summary[design]['median_votes']:,.0f} comparisons to decide the five students off the margin; "
              f"budget hits {summary[design]['budget_hits']:.2f}; margin student declared non-inferior in "
              f"{summary[design]['false_non_inferior']:.3f} of runs; wrong decisions {summary[design]['wrong_decisions']:.3f}")
    result = {
        "runs": args.runs,
        "all_pairs_votes": summary["all_pairs"]["median_votes"],
        "versus_votes": summary["versus_reference"]["median_votes"],
        "ratio": round(summary["versus_reference"]["median_votes"] / summary["all_pairs"]["median_votes"], 3),
        "false_non_inferior": max(s["false_non_inferior"] for s in summary.values()),
        "wrong_decisions": max(s["wrong_decisions"] for s in summary.values()),
        "budget_hits": {design: s["budget_hits"] for design, s in summary.items()},
        "false_non_inferior_margin_check": (
            margin_check(runs=args.margin_runs, prompts=args.prompts, votes=30_000) if args.margin_runs else None),
        "decided": "every student but the one exactly at the margin (undecidable by any valid rule)",
        "versus_rule": versus_rule(args),
        "seconds": round(time.perf_counter() - started, 1),
    }
    if args.real_seeds > 0:
        result["real_serving"] = run_real_serving(args, log=log)
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
