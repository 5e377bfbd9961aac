"""Uniform against adaptive sampling: answers judged against the POPULATION of prompts and raters.

    python benchmarks/sampling.py [--runs 100] [--real-seeds 2] [--real-budget 30000] [--configs homogeneous-8,heterogeneous-12]

Two parts (issue 24):

1. Pure statistics (``ratings.stats.forecast.simulate``, the same rule, weights and refit cadence
   the study's background refresh uses), ``--runs`` studies per arm and configuration:
   - ``homogeneous-8``: 8 models, two criteria, adjacent gaps 115-180 Elo with two pairs per
     criterion 30-40 apart; every prompt alike (tau 0), 16 prompts, 10% ties.
   - ``heterogeneous-12``: 12 models, one criterion, close adjacent gaps of 10, 20, 30 and 40 Elo
     among gaps of 150; each model's strength varies by prompt (tau = 80 Elo) over a 16-prompt set,
     and raters lean (a pool of 40, each model's lean 30 Elo), 10% ties.
   Both arms (uniform, adaptive) stop on ``separated`` (alpha 0.05) on the study's default unit
   (``prompt``), with a budget. A declared pair is wrong when its order is not the population's
   (the models' mean strengths over prompts and raters). coverage_at_stop: each model's interval
   at the stop as the leaderboard reports it on the prompt unit (a percentile bootstrap over
   prompts with the few-cluster correction, ``prompt_bootstrap_intervals``), its strength about
   the models' mean, against the population's Bradley-Terry strengths for the votes' design
   (``own_design_target``: what the half-win fit converges to as prompts and raters grow, each
   pair compared as often as in the run; with ties half a win that target moves with the design,
   so a uniform study's limit is not an adaptive study's: see the comment at its use);
   coverage_at_stop_uniform_design against the uniform-serving limit
   (``at_stop.population_strengths``, the yardstick before 2026-12-07: the adaptive arm falls short
   of it by the design's shift of the target, not by the stop); coverage_at_stop_wald_t: the
   earlier measure (unit variance, Student-t on the prompts, against the uniform-serving limit);
   coverage_at_stop_sequence: each adjacent gap's anytime-valid interval (what the stop's table
   reports). close_gap_bias (and _elo): mean relative (and Elo) inflation of declared adjacent gaps
   of at most 40 Elo over their population value; close_gap_bias_adjusted: the same of the
   Whitehead-adjusted gaps the stop's table reports (``ratings.forecasting.study_stop_estimates``:
   the spread calibrated from the run's own votes per prompt), on the first ``--bias-runs`` runs. The forecast: the
   prompt spread estimated from a simulated pilot (600 uniformly served comparisons), then the
   before-launch forecast with that spread (``spread.calibrated_prompt_spread``: de-biased by
   simulation, each run drawing its spread from the estimate's posterior), against the adaptive
   arm's realised counts; ``--pilots`` pilots, each its own forecast: forecast_median_ratio is the
   median over pilots, forecast_range_coverage the mean; the _known_spread pair: the forecast told
   the true spread (the simulation's own fidelity, without the pilot's doubt).

2. Real serving (``--real-seeds``, default 1, budget ``--real-budget`` 8000; 0 skips): the homogeneous-8 configuration run
   through ``scheduler.session_serve`` / ``scheduler.vote_submit`` as the rater views call them,
   both arms interleaved one call each, with ``sampling.study_sampling_refresh`` (the service the
   background task calls) every ``--refresh-every`` answered comparisons. Database: a fresh SQLite
   file (the ORM path), or PostgreSQL with ``DATABASE_URL`` (the PL/pgSQL path). Image rows have no
   files. serve_ms_*: mean time of one vote-and-serve call while both arms ran;
   adaptive_votes_over_statistics: the real adaptive study's votes to stop over the simulated
   median (the two modes agree when it is near 1).

Targets (issue 24): adaptive_wrong_order <= 0.05 in every configuration; runs_with_wrong_pair
adaptive <= uniform + 5 per 100; ratio <= 0.35 on homogeneous-8; coverage 0.93-0.97;
close_gap_bias <= 0.10; forecast_median_ratio 0.75-1.25 and forecast_range_coverage 0.85-0.95;
serve_ms_adaptive within 10% of serve_ms_uniform. The last line is a JSON object, one entry per
configuration (and ``real_serving``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
# This file is benchmarks/sampling.py: its folder on sys.path would shadow nothing today, but keep
# the project's root first so `ratings` is the package.
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from benchmarks.sampling_serving import ELO, TIE_SHARE, real_serving, setup_django  # noqa: E402  (the real serving)

# Pure statistics: the configurations the issue names.

HETEROGENEOUS_GAPS = [150, 10, 150, 20, 150, 30, 150, 40, 150, 150, 150]  # 12 models, adjacent Elo gaps
CONFIGURATIONS = {
    "homogeneous-8": dict(elo=ELO, prompts=16, prompt_sd=0.0, raters=0, rater_sd=0.0, budget=30_000),
    "heterogeneous-12": dict(elo=[list(np.cumsum([0, *HETEROGENEOUS_GAPS]))], prompts=16, prompt_sd=80.0, raters=40, rater_sd=30.0,
                             budget=30_000),
}
CLOSE_GAP = 40.0  # Elo: the adjacent gaps close_gap_bias is about
PILOT_VOTES = 600


def pilot_spread(config: dict, seed: int):
    """The prompt spread estimated from a simulated pilot (``spread.calibrated_prompt_spread``:
    de-biased by simulation, with its standard error): PILOT_VOTES comparisons served uniformly
    over pairs and prompts, as a real pilot would be."""
    from ratings.stats import forecast, sampling as stats_sampling, spread

    rng = np.random.default_rng(10_000 + seed)
    truth = forecast.strengths_from_elo(config["elo"])
    n_criteria, n_models = truth.shape
    lo, hi = stats_sampling.pair_index(n_models)
    prompts = config["prompts"]
    effects = rng.normal(0.0, config["prompt_sd"] / stats_sampling.ELO_PER_UNIT, (n_criteria, prompts, n_models))
    per_prompt = np.zeros((n_criteria, prompts, lo.size, 3))
    # PILOT_VOTES comparisons over the prompt x pair cells as evenly as they go (a cell more for
    # some, chosen at random); each comparison answers every criterion.
    cells = prompts * lo.size
    per_cell = np.full(cells, PILOT_VOTES // cells)
    per_cell[rng.choice(cells, PILOT_VOTES % cells, replace=False)] += 1
    per_cell = per_cell.reshape(prompts, lo.size)
    for c in range(n_criteria):
        for g in range(prompts):
            p = spread.outcome_probabilities(truth[c] + effects[c, g], lo, hi, TIE_SHARE)
            per_prompt[c, g] = rng.multinomial(per_cell[g], p)
    return spread.calibrated_prompt_spread(per_prompt, n_models, seed=seed)


def prompt_bootstrap_intervals(prompt_counts: np.ndarray, *, rounds: int = 200, seed: int = 0, level: float = 0.95):
    """(low, high) float[R, C, M]: each run's percentile bootstrap interval over prompts (the
    leaderboard's default interval on the prompt unit: ``resample.pair_counts`` with
    resample="prompt", then Bradley-Terry maximum likelihood, a tie half a win, the draws
    spread by ``resample.few_cluster_scale`` as ``bradley_terry.bootstrap_ratings`` does), natural
    units about the models' mean, from votes per prompt float[R, C, G, P, 3]."""
    from ratings.stats import sampling as stats_sampling
    from ratings.stats.bradley_terry import fit_bradley_terry
    from ratings.stats.resample import few_cluster_scale, spread_draws

    rng = np.random.default_rng(seed)
    runs, n_criteria, n_prompts, n_pairs, _ = prompt_counts.shape
    n_models = int(round((1 + np.sqrt(1 + 8 * n_pairs)) / 2))
    lo, hi = stats_sampling.pair_index(n_models)
    low, high = np.zeros((runs, n_criteria, n_models)), np.zeros((runs, n_criteria, n_models))
    for r in range(runs):
        played = np.flatnonzero(prompt_counts[r].sum(axis=(0, 2, 3)) > 0)
        drawn = rng.multinomial(played.size, np.full(played.size, 1.0 / played.size), size=rounds).astype(np.float64)
        tables = np.einsum("bg,cgpk->bcpk", drawn, prompt_counts[r][:, played])
        all_votes = prompt_counts[r].sum(axis=1)
        wins = (tables[..., 0] + 0.5 * tables[..., 2]).reshape(-1, n_pairs)
        strength, _ = fit_bradley_terry(wins, tables.sum(axis=-1).reshape(-1, n_pairs), lo, hi, n_models)
        point, _ = fit_bradley_terry((all_votes[..., 0] + 0.5 * all_votes[..., 2]), all_votes.sum(axis=-1), lo, hi, n_models)
        strength = strength.reshape(rounds, n_criteria, n_models)
        strength = spread_draws(point, strength, few_cluster_scale(played.size, level))
        low[r], high[r] = np.nanpercentile(strength, [50 * (1 - level), 50 * (1 + level)], axis=0)
    return low, high


def own_design_target(prompt_counts: np.ndarray, truth: np.ndarray, spread: float, tie_share: float, nodes: int = 24) -> np.ndarray:
    """float[R, C, M]: what the half-win Bradley-Terry fit converges to when each pair gets the
    share of votes the run gave it (its expected counts over the population of prompts with that
    spread: Gauss-Hermite over the pair's difference), about the models' mean."""
    from ratings.stats import sampling as stats_sampling
    from ratings.stats.bradley_terry import fit_bradley_terry

    n_models = truth.shape[-1]
    lo, hi = stats_sampling.pair_index(n_models)
    games = prompt_counts.sum(axis=(2, 4))  # [R, C, P]
    x, w = np.polynomial.hermite_e.hermegauss(nodes)
    diff = truth[..., lo] - truth[..., hi]  # [C, P]
    p_lo = (w / w.sum() * (1.0 / (1.0 + np.exp(-(diff[..., None] + np.sqrt(2.0) * spread * x))))).sum(axis=-1)
    score = (1.0 - tie_share) * p_lo + 0.5 * tie_share
    flat_games = games.reshape(-1, lo.size)
    strength, _ = fit_bradley_terry(flat_games * np.broadcast_to(score, games.shape).reshape(-1, lo.size), flat_games, lo, hi, n_models)
    return strength.reshape(games.shape[0], games.shape[1], n_models)


def statistics_config(name: str, config: dict, *, runs: int, seed: int = 0, refresh_every: int = 100, bias_runs: int = 0,
                      bias_sims: int = 30, pilots: int = 5, bootstrap_rounds: int = 200, log=print) -> dict:
    """Both arms of one configuration, ``runs`` simulated studies each, judged against the population."""
    from ratings.stats import at_stop as stats_at_stop, forecast, sampling as stats_sampling

    truth = forecast.strengths_from_elo(config["elo"])
    spread_elo = float(np.hypot(config["prompt_sd"], config["rater_sd"]))
    population = stats_at_stop.population_strengths(truth, spread_elo / stats_sampling.ELO_PER_UNIT, tie_share=TIE_SHARE)
    population_elo = population * stats_sampling.ELO_PER_UNIT
    result, realised = {"runs": runs, "models": truth.shape[1], "criteria": truth.shape[0], "prompts": config["prompts"],
                        "tau_elo": config["prompt_sd"], "rater_lean_elo": config["rater_sd"], "unit": "prompt"}, {}
    coverage, coverage_wald, coverage_sequence, coverage_uniform_design, inflation, inflation_elo = {}, {}, {}, {}, {}, {}
    estimate = pilot_spread(config, seed)
    for arm in ("uniform", "adaptive"):
        design = forecast.StudyDesign(
            sampling=arm, budget=config["budget"], look_every=refresh_every, tie_share=TIE_SHARE, unit="prompt",
            prompts=config["prompts"], prompt_sd=config["prompt_sd"] / stats_sampling.ELO_PER_UNIT,
            raters=config["raters"], rater_sd=config["rater_sd"] / stats_sampling.ELO_PER_UNIT,
        )
        started = time.perf_counter()
        sim = forecast.simulate(truth, design, runs=runs, seed=seed)
        log(f"{name} {arm}: {runs} runs in {time.perf_counter() - started:.0f} s")
        realised[arm] = sim.comparisons
        result[f"{arm}_votes"] = float(np.median(sim.comparisons))
        result[f"{arm}_wrong_order"] = round(float(sim.wrong_order.sum() / max(1, sim.declared.sum())), 4)
        result.setdefault("declared", {})[arm] = int(sim.declared.sum())
        result.setdefault("runs_with_wrong_pair", {})[arm] = int((sim.wrong_order > 0).sum())
        result.setdefault("budget_hits", {})[arm] = int((~sim.stopped & ~sim.undecidable).sum())
        result.setdefault("undecidable", {})[arm] = int(sim.undecidable.sum())
        coverage_wald[arm], coverage_uniform_design[arm], coverage[arm] = interval_coverages(
            sim, population, truth, spread_elo, bootstrap_rounds=bootstrap_rounds, seed=seed)
        # Declared close gaps: estimated over population gap, minus 1.
        est_gap = (np.take_along_axis(sim.strength, sim.upper, -1) - np.take_along_axis(sim.strength, sim.lower, -1)) * stats_sampling.ELO_PER_UNIT
        pop_b = np.broadcast_to(population_elo, sim.strength.shape)
        pop_gap = np.take_along_axis(pop_b, sim.upper, -1) - np.take_along_axis(pop_b, sim.lower, -1)
        close = sim.claimed & (np.abs(pop_gap) <= CLOSE_GAP * 1.0) & (pop_gap > 0)
        inflation[arm] = float(np.mean(est_gap[close] / pop_gap[close] - 1.0)) if close.any() else None
        inflation_elo[arm] = float(np.mean(est_gap[close] - pop_gap[close])) if close.any() else None
        result.setdefault("close_pairs_declared", {})[arm] = int(close.sum())
        # What the study reports at the stop (``ratings.forecasting.study_stop_estimates``): each
        # adjacent gap's anytime-valid interval (the confidence sequence's, valid at the stopping
        # time) and the gap adjusted for the stopping's selection (Whitehead), simulated at the
        # run's estimates with the prompt spread calibrated from the run's own votes per prompt.
        model_fit = forecast._fit_tables(sim.prompt_counts, None, design, *stats_sampling.pair_index(truth.shape[1]), truth.shape[1])
        at_stop = stats_sampling.separation(model_fit, alpha=design.alpha)
        cs_half = at_stop.threshold / np.sqrt(at_stop.information) * stats_sampling.ELO_PER_UNIT
        cs_gap = at_stop.gap * stats_sampling.ELO_PER_UNIT
        cs_pop = np.take_along_axis(pop_b, at_stop.upper, -1) - np.take_along_axis(pop_b, at_stop.lower, -1)
        coverage_sequence[arm] = float(np.mean(np.abs(cs_gap - cs_pop) <= cs_half))
        if bias_runs:
            ratios, shifts, adjusted_runs = adjusted_close_gaps(sim, close, pop_gap, truth, design, bias_runs=bias_runs, bias_sims=bias_sims, seed=seed)
            result.setdefault("close_gap_bias_adjusted", {})[arm] = round(float(np.mean(ratios)), 4) if ratios else None
            result.setdefault("close_gap_bias_adjusted_elo", {})[arm] = round(float(np.mean(shifts)), 1) if shifts else None
            result.setdefault("close_gap_bias_adjusted_runs", {})[arm] = adjusted_runs
    result["ratio"] = round(result["adaptive_votes"] / result["uniform_votes"], 3) if result["uniform_votes"] else None
    result["coverage_at_stop"] = {arm: round(value, 4) for arm, value in coverage.items()}
    result["coverage_at_stop_uniform_design"] = {arm: round(value, 4) for arm, value in coverage_uniform_design.items()}
    result["coverage_at_stop_wald_t"] = {arm: round(value, 4) for arm, value in coverage_wald.items()}
    result["coverage_at_stop_sequence"] = {arm: round(value, 4) for arm, value in coverage_sequence.items()}
    result["close_gap_bias"] = {arm: (None if value is None else round(value, 4)) for arm, value in inflation.items()}
    result["close_gap_bias_elo"] = {arm: (None if value is None else round(value, 1)) for arm, value in inflation_elo.items()}
    result.update(forecast_calibration(name, config, estimate, realised["adaptive"], runs=runs, seed=seed, refresh_every=refresh_every,
                                       pilots=pilots, log=log))
    result["serve_ms_uniform"] = result["serve_ms_adaptive"] = None
    return result


def interval_coverages(sim, population: np.ndarray, truth: np.ndarray, spread_elo: float, *, bootstrap_rounds: int,
                       seed: int) -> tuple[float, float, float]:
    """The 95% intervals' coverage at the stop: the Wald interval with Student-t on the prompts,
    the leaderboard's prompt bootstrap against the uniform-design limit, and the same against
    the limit for the run's own design (the yardstick)."""
    from ratings.stats import sampling as stats_sampling
    from scipy.stats import t as student

    # 95% intervals at the stop against the population's strengths: the leaderboard's default
    # interval on the prompt unit (a percentile bootstrap over prompts, Bradley-Terry), and
    # the Wald interval with Student-t on the prompts (the earlier measure, kept beside it).
    target = population - population.mean(axis=-1, keepdims=True)
    df = np.maximum(sim.clusters - 1.0, 1.0)[..., None]
    half = student.ppf(0.975, df) * np.sqrt(sim.variance)
    wald = float(np.mean(np.abs(sim.strength - target) <= half))
    low, high = prompt_bootstrap_intervals(sim.prompt_counts, rounds=bootstrap_rounds, seed=seed)
    uniform_design = float(np.mean((low <= target) & (target <= high)))
    # The yardstick (issue 24, item 5): what the leaderboard's estimator converges to for the
    # population of prompts (and raters) under the allocation of votes the run used. With ties
    # counted half a win Bradley-Terry is misspecified, and the limit of its fit is the
    # strengths closest to the population's outcome probabilities weighted by how often each
    # pair was compared: a different number under uniform serving and under adaptive serving
    # (mostly adjacent pairs), with the same population (README, "Leaderboards and the
    # design"; tests/benchmarks/test_sampling_measures.py). The uniform-design limit is what
    # a uniform study estimates, not a property of the population alone: no interval from an
    # adaptive study's votes converges on it, however wide or however the stop is corrected
    # (widening to reach it would miss the estimator's own target). Judged against the
    # uniform-design limit the adaptive arm's intervals fall short by exactly that shift
    # (coverage_at_stop_uniform_design, kept beside). With forced choice and prompts that do
    # not differ the two limits coincide (tests/benchmarks/test_sampling_measures.py).
    own = own_design_target(sim.prompt_counts, truth, spread_elo / stats_sampling.ELO_PER_UNIT, TIE_SHARE)
    own_design = float(np.mean((low <= own) & (own <= high)))
    return wald, uniform_design, own_design


def adjusted_close_gaps(sim, close, pop_gap, truth, design, *, bias_runs: int, bias_sims: int, seed: int) -> tuple[list, list, int]:
    """The declared close gaps of the first ``bias_runs`` runs that have one, adjusted for the
    stopping's selection (Whitehead) as the study reports them: their ratios to the population
    gap minus 1, their differences in Elo, and how many runs were adjusted."""
    from ratings.stats import at_stop as stats_at_stop, sampling as stats_sampling, spread as stats_spread

    chosen = np.flatnonzero(close.any(axis=(-1, -2)))[:bias_runs]
    ratios, shifts = [], []
    for r in chosen:
        estimate_r = stats_spread.calibrated_prompt_spread(sim.prompt_counts[r], truth.shape[1], seed=seed + int(r))
        adjusted_design = replace(design, budget=int(sim.comparisons[r]), prompt_sd=0.0 if estimate_r is None else estimate_r.sd,
                                  raters=0, rater_sd=0.0)
        adjusted = sim.strength[r] - stats_at_stop.stopping_bias(sim.strength[r], adjusted_design, runs=bias_sims, seed=seed + 7 + int(r))
        adj_gap = (np.take_along_axis(adjusted, sim.upper[r], -1) - np.take_along_axis(adjusted, sim.lower[r], -1)) * stats_sampling.ELO_PER_UNIT
        ratios.extend((adj_gap[close[r]] / pop_gap[r][close[r]] - 1.0).tolist())
        shifts.extend((adj_gap[close[r]] - pop_gap[r][close[r]]).tolist())
    return ratios, shifts, int(chosen.size)


def forecast_calibration(name: str, config: dict, estimate, adaptive: np.ndarray, *, runs: int, seed: int, refresh_every: int,
                         pilots: int, log=print) -> dict:
    """The forecast's measures against the adaptive arm's realised comparisons ``adaptive``:
    from ``pilots`` pilots (the first one ``estimate``) and told the true spread."""
    from ratings.stats import forecast, sampling as stats_sampling

    found = {}
    # The forecast: spread from a pilot, the adaptive design, a different seed; one forecast per
    # pilot (a pilot of 600 comparisons says little about the spread: the forecast's calibration
    # is over pilots, each forecast's range against the realised runs).
    ratios, covered, spreads = [], [], []
    for k in range(pilots):
        pilot = estimate if k == 0 else pilot_spread(config, seed + k)
        design = forecast.StudyDesign(
            sampling="adaptive", budget=config["budget"], look_every=refresh_every, tie_share=TIE_SHARE, unit="prompt",
            prompts=config["prompts"], prompt_sd=pilot.sd,
        )
        started = time.perf_counter()
        predicted = forecast.forecast(design, elo=config["elo"], runs=runs, seed=seed + 1 + k, spread=pilot)
        log(f"{name} forecast {k}: {predicted} (pilot spread {pilot.sd * stats_sampling.ELO_PER_UNIT:.0f} Elo) in {time.perf_counter() - started:.0f} s")
        ratios.append(predicted.median / float(np.median(adaptive)))
        covered.append(float(np.mean((adaptive >= predicted.low) & (adaptive <= predicted.high))))
        spreads.append(round(pilot.sd * stats_sampling.ELO_PER_UNIT, 1))
    # The same forecast told the true prompt spread (no pilot): how far the simulated study is
    # from the realised one, apart from what a pilot cannot say about the spread. A pilot of
    # PILOT_VOTES comparisons (about one per prompt and pair) hardly tells a spread of 0 from one
    # of 40 Elo, and the forecast draws each run's spread from that posterior: where the truth is
    # no spread its median lies above the realised one.
    known = forecast.forecast(replace(design, prompt_sd=config["prompt_sd"] / stats_sampling.ELO_PER_UNIT), elo=config["elo"],
                              runs=runs, seed=seed + 1)
    found["forecast_median_ratio_known_spread"] = round(known.median / float(np.median(adaptive)), 3)
    found["forecast_range_coverage_known_spread"] = round(float(np.mean((adaptive >= known.low) & (adaptive <= known.high))), 3)
    found["forecast_pilot_spread_posterior_median_elo"] = [
        round(float(np.median(pilot_spread(config, seed + k).draws(1000, 0))) * stats_sampling.ELO_PER_UNIT, 1) for k in range(pilots)]
    found["forecast_pilots"] = pilots
    found["forecast_pilot_spread_elo"] = spreads
    found["forecast_pilot_spread_raw_elo"] = round(float(np.sqrt(max(estimate.raw, 0.0))) * stats_sampling.ELO_PER_UNIT, 1)
    found["forecast_median_ratio"] = round(float(np.median(ratios)), 3)
    found["forecast_median_ratios"] = [round(r, 3) for r in ratios]
    found["forecast_range_coverage"] = round(float(np.mean(covered)), 3)
    return found


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100, help="simulated studies per arm and configuration (default 100)")
    parser.add_argument("--configs", default=",".join(CONFIGURATIONS),
                        help="configurations, comma-separated (empty: only the real serving): " + ", ".join(CONFIGURATIONS))
    parser.add_argument("--bias-runs", type=int, default=30,
                        help="runs per arm whose close gaps are also bias-adjusted (Whitehead; each simulates --bias-sims studies)")
    parser.add_argument("--pilots", type=int, default=5,
                        help="simulated pilots per configuration, each giving a forecast judged against the adaptive runs (default 5)")
    parser.add_argument("--bias-sims", type=int, default=30, help="simulated studies per bias adjustment")
    parser.add_argument("--real-seeds", type=int, default=1, help="runs per arm through the real serving code (default 1; 0 skips)")
    parser.add_argument("--real-budget", type=int, default=8000,
                        help="vote budget of the real-serving studies (default 8000: the adaptive arm's stop, the uniform arm's cap)")
    parser.add_argument("--prompts", type=int, default=16, help="prompts (x 2 seeds) of the real-serving studies")
    parser.add_argument("--refresh-every", type=int, default=100, help="answered comparisons between two refreshes")
    parser.add_argument("--quota", type=int, default=100, help="comparisons per simulated rater (real serving)")
    args = parser.parse_args(argv)
    log = lambda m: print(m, flush=True)  # noqa: E731
    document = {}
    for name in filter(None, args.configs.split(",")):
        document[name] = statistics_config(name, CONFIGURATIONS[name], runs=args.runs, refresh_every=args.refresh_every,
                                           bias_runs=args.bias_runs, bias_sims=args.bias_sims, pilots=args.pilots, log=log)
    if args.real_seeds > 0:
        # SQLite on tmpfs where there is one: the benchmark measures the code, not the disk's fsync.
        scratch = "/dev/shm" if Path("/dev/shm").is_dir() else None
        with tempfile.TemporaryDirectory(prefix="sampling-bench-", dir=scratch) as data_dir:
            if not os.environ.get("DATABASE_URL"):
                os.environ["DATABASE_URL"] = f"sqlite:///{Path(data_dir) / 'bench.sqlite3'}"
            elif os.environ["DATABASE_URL"].startswith("postgres"):
                from benchmarks.postgres import ensure_database

                ensure_database(os.environ["DATABASE_URL"])
            setup_django(Path(data_dir))
            real = real_serving(seeds=args.real_seeds, budget=args.real_budget, prompts=args.prompts,
                                refresh_every=args.refresh_every, quota=args.quota, log=log)
        document["real_serving"] = real
        if "homogeneous-8" in document:
            statistics_part = document["homogeneous-8"]
            statistics_part["serve_ms_uniform"] = real["serve_ms_uniform"]
            statistics_part["serve_ms_adaptive"] = real["serve_ms_adaptive"]
            # Agreement: the real adaptive studies' votes to stop over the simulated median.
            real["adaptive_votes_over_statistics"] = round(real["adaptive_votes"] / statistics_part["adaptive_votes"], 3)
    print(json.dumps(document))


if __name__ == "__main__":
    main()
