"""Speed and memory of the ratings engine against straightforward references (run on demand).

    python benchmarks/ratings.py            # all measurements; the last line is a JSON object

Each measurement runs in its own subprocess, so its peak memory (ru_maxrss from os.wait4) is
its own. Targets (20 models, 2 cores): Bradley-Terry with 1000 bootstrap rounds on 1,000,000
votes < 1 s from arrays; the `leaderboard` command on a 1,000,000-row CSV < 5 s end to end;
ADD Elo, 100,000 votes x 1000 orderings < 2 s; peak memory < 1 GB.

Published references, run in the same process on the same votes:
- Chatbot Arena's Bradley-Terry and its bootstrap, FastChat's `compute_bt` and
  `compute_bootstrap_bt` (rating_systems.py, reimplemented line for line below with the link):
  time, and the agreement of point estimates and interval bounds;
- choix's `ilsr_pairwise_dense` for the Bradley-Terry MLE (decisive votes; choix has no ties);
- FastChat's `fit_vectorized_elo` with K=1 for ADD's online Elo, on 100 orderings extrapolated.
Numba: "cold" runs use an empty NUMBA_CACHE_DIR, so they include compiling the kernels;
"warm" runs reuse the cache (a new process) or the compiled function (same process).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
# This file is benchmarks/ratings.py: its folder on sys.path would shadow the `ratings` package.
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
N_MODELS = 20
BT_VOTES = 1_000_000
ELO_VOTES = 100_000
ROUNDS = 1000
REFERENCE_ORDERINGS = 100
CSV_ROWS = 1_000_000


def simulated_arrays(n_votes: int, seed: int = 0):
    from ratings.stats.arrays import VoteArrays

    rng = np.random.default_rng(seed)
    strength = rng.normal(0.0, 0.8, N_MODELS)
    a = rng.integers(0, N_MODELS, n_votes)
    b = (a + rng.integers(1, N_MODELS, n_votes)) % N_MODELS
    p_a = 1.0 / (1.0 + np.exp(strength[b] - strength[a]))
    u = rng.random(n_votes)
    outcome = np.where(u < 0.1, 0.5, np.where(rng.random(n_votes) < p_a, 1.0, 0.0))
    return VoteArrays(a, b, outcome, tuple(f"model-{i:02d}" for i in range(N_MODELS)))


# --- measurements, each run in a child process -------------------------------------------


def measure_bt() -> dict:
    from ratings.stats.bradley_terry import bradley_terry

    votes = simulated_arrays(BT_VOTES)
    start = time.perf_counter()
    ratings = bradley_terry(votes, rounds=ROUNDS, seed=0)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "converged": ratings.converged, "unconverged_rounds": ratings.unconverged_rounds}


def measure_elo() -> dict:
    start = time.perf_counter()
    from ratings.stats.elo import online_elo

    import_seconds = time.perf_counter() - start
    votes = simulated_arrays(ELO_VOTES)
    start = time.perf_counter()
    online_elo(votes, permutations=2, seed=0)  # first call: compile, or load from the cache
    first_call = time.perf_counter() - start
    start = time.perf_counter()
    online_elo(votes, permutations=ROUNDS, seed=0)
    return {"seconds": time.perf_counter() - start, "first_call_seconds": first_call + import_seconds}


# --- published references, run in the same process on the same votes -----------------------
#
# FastChat (Chatbot Arena), fastchat/serve/monitor/rating_systems.py at commit
# 0e6d3e4beaab66f4d3f93db72541a4abab8af28d,
# https://github.com/lm-sys/FastChat/blob/0e6d3e4beaab66f4d3f93db72541a4abab8af28d/fastchat/serve/monitor/rating_systems.py
# (elo_analysis.py calls these): `preprocess_for_bt`, `bt_loss_and_grad`, `fit_bt`,
# `scale_and_offset`, `compute_bt`, `compute_bootstrap_bt`, `fit_vectorized_elo`, reimplemented
# line for line on NumPy arrays instead of a pandas DataFrame (pandas is not a dependency here):
# pd.factorize becomes np.unique, and the multiprocessing pool of compute_bootstrap_bt a plain
# map in this process (the numbers are the same; only the wall clock differs, said in the output).


def fastchat_preprocess_for_bt(model_a, model_b, outcome):
    """preprocess_for_bt: the unique (model_a, model_b, outcome) rows and their counts."""
    schedule = np.full((model_a.size, 3), fill_value=1, dtype=np.int32)
    schedule[:, 0], schedule[:, 1] = model_a, model_b
    schedule[outcome == 1.0, 2] = 2
    schedule[outcome == 0.0, 2] = 0
    matchups_outcomes, weights = np.unique(schedule, return_counts=True, axis=0)
    matchups = matchups_outcomes[:, [0, 1]]
    outcomes = matchups_outcomes[:, 2].astype(np.float64) / 2.0
    return matchups, outcomes, weights.astype(np.float64)


def fastchat_bt_loss_and_grad(ratings, matchups, outcomes, weights, alpha=1.0):
    from scipy.special import expit

    matchup_ratings = ratings[matchups]
    logits = alpha * (matchup_ratings[:, 0] - matchup_ratings[:, 1])
    probs = expit(logits)
    loss = -((np.log(probs) * outcomes + np.log(1.0 - probs) * (1.0 - outcomes)) * weights).sum()
    matchups_grads = -alpha * (outcomes - probs) * weights
    model_grad = np.zeros_like(ratings)
    np.add.at(model_grad, matchups[:, [0, 1]], matchups_grads[:, None] * np.array([1.0, -1.0], dtype=np.float64))
    return loss, model_grad


def fastchat_fit_bt(matchups, outcomes, weights, n_models, alpha, tol=1e-6):
    from scipy.optimize import minimize

    initial_ratings = np.zeros(n_models, dtype=np.float64)
    result = minimize(
        fun=fastchat_bt_loss_and_grad, x0=initial_ratings, args=(matchups, outcomes, weights, alpha),
        jac=True, method="L-BFGS-B", options={"disp": False, "maxiter": 100, "gtol": tol},
    )
    return result["x"]


def fastchat_scale_and_offset(ratings, scale=400, init_rating=1000):
    return (ratings * scale) + init_rating  # none of our models is FastChat's baseline: no anchoring


def fastchat_compute_bt(votes, base=10.0, scale=400.0, init_rating=1000, tol=1e-6):
    import math

    matchups, outcomes, weights = fastchat_preprocess_for_bt(votes.model_a, votes.model_b, votes.outcome)
    ratings = fastchat_fit_bt(matchups, outcomes, weights, votes.n_models, math.log(base), tol)
    return fastchat_scale_and_offset(ratings, scale, init_rating)


def fastchat_compute_bootstrap_bt(votes, num_round, base=10.0, scale=400.0, init_rating=1000.0, tol=1e-6):
    from functools import partial

    matchups, outcomes, weights = fastchat_preprocess_for_bt(votes.model_a, votes.model_b, votes.outcome)
    rng = np.random.default_rng(seed=0)
    idxs = rng.multinomial(n=votes.n_votes, pvals=weights / weights.sum(), size=(num_round))
    boot_weights = idxs.astype(np.float64) / votes.n_votes
    bt_fn = partial(fastchat_fit_bt, matchups, outcomes, n_models=votes.n_models, alpha=np.log(base), tol=tol)
    ratings = np.array(list(map(bt_fn, boot_weights)))
    return fastchat_scale_and_offset(ratings, scale, init_rating)


def fastchat_fit_vectorized_elo(matchups, outcomes, sample_indices, num_models, k=4.0, base=10.0, init_rating=1000.0, scale=400.0):
    import math

    from scipy.special import expit

    alpha = math.log(base) / scale
    num_samples = sample_indices.shape[1]
    ratings = np.zeros(shape=(num_samples, num_models), dtype=np.float64)
    sample_range = np.arange(num_samples)
    for matchup_indices in sample_indices:
        model_a_indices = matchups[matchup_indices, 0]
        model_b_indices = matchups[matchup_indices, 1]
        model_a_ratings = ratings[sample_range, model_a_indices]
        model_b_ratings = ratings[sample_range, model_b_indices]
        sample_outcomes = outcomes[matchup_indices]
        probs = expit(alpha * (model_a_ratings - model_b_ratings))
        updates = k * (sample_outcomes - probs)
        ratings[sample_range, model_a_indices] += updates
        ratings[sample_range, model_b_indices] -= updates
    return ratings + init_rating


def measure_bt_published() -> dict:
    """Ours against FastChat's bootstrap (point, intervals, time) and choix's MLE (point, time)."""
    import choix

    from ratings.stats.bradley_terry import bradley_terry

    votes = simulated_arrays(BT_VOTES)
    start = time.perf_counter()
    ours = bradley_terry(votes, rounds=ROUNDS, seed=0)
    ours_seconds = time.perf_counter() - start
    start = time.perf_counter()
    point = fastchat_compute_bt(votes)
    draws = fastchat_compute_bootstrap_bt(votes, ROUNDS)
    fastchat_seconds = time.perf_counter() - start
    low, high = ours.interval()
    fc_low, fc_high = np.percentile(draws, [2.5, 97.5], axis=0)
    # choix has no ties: both fit the decisive votes only.
    decisive = votes.subset(votes.outcome != 0.5)
    start = time.perf_counter()
    ours_decisive = bradley_terry(decisive, rounds=0)
    ours_mle_seconds = time.perf_counter() - start
    start = time.perf_counter()
    wins = np.zeros((decisive.n_models, decisive.n_models))
    winner = np.where(decisive.outcome == 1.0, decisive.model_a, decisive.model_b)
    loser = np.where(decisive.outcome == 1.0, decisive.model_b, decisive.model_a)
    np.add.at(wins, (winner, loser), 1.0)
    choix_params = choix.ilsr_pairwise_dense(wins, tol=1e-10)
    choix_seconds = time.perf_counter() - start
    ours_natural = (ours_decisive.rating[0] - 1000.0) * np.log(10.0) / 400.0
    return {
        "seconds": ours_seconds,
        "fastchat_seconds": fastchat_seconds,
        "point_max_abs_diff_elo": float(np.max(np.abs(ours.rating[0] - point))),
        "interval_max_abs_diff_elo": float(max(np.max(np.abs(low[0] - fc_low)), np.max(np.abs(high[0] - fc_high)))),
        "mean_interval_width_elo": float(np.mean(high[0] - low[0])),
        "choix_max_abs_diff_natural": float(np.max(np.abs(ours_natural - (choix_params - choix_params.mean())))),
        "choix_seconds": choix_seconds,
        "ours_mle_seconds": ours_mle_seconds,
    }


def measure_elo_reference() -> dict:
    """FastChat's fit_vectorized_elo (K=1) over REFERENCE_ORDERINGS random orderings, extrapolated."""
    from ratings.stats.elo import online_elo

    votes = simulated_arrays(ELO_VOTES)
    rng = np.random.default_rng(0)
    sample_indices = np.stack([rng.permutation(votes.n_votes) for _ in range(REFERENCE_ORDERINGS)], axis=1)
    matchups = np.stack([votes.model_a, votes.model_b], axis=1)
    start = time.perf_counter()
    ratings = fastchat_fit_vectorized_elo(matchups, votes.outcome, sample_indices, votes.n_models, k=1.0)
    seconds = time.perf_counter() - start
    ours = online_elo(votes, permutations=ROUNDS, seed=0, bootstrap_rounds=1)
    return {
        "seconds_measured": seconds, "rounds_measured": REFERENCE_ORDERINGS, "seconds": seconds * ROUNDS / REFERENCE_ORDERINGS,
        "mean_max_abs_diff_elo": float(np.max(np.abs(ratings.mean(axis=0) - ours.rating[0]))),
        "ordering_sd_elo": float(np.mean(ours.ordering_draws[:, 0].std(axis=0))),
    }


MEASUREMENTS = {
    "bt": measure_bt,
    "bt_published": measure_bt_published,
    "elo": measure_elo,
    "elo_reference": measure_elo_reference,
}


# --- the parent ---------------------------------------------------------------------------


def _run_child(argv: list[str], env: dict) -> tuple[str, float, float]:
    """(stdout, wall seconds, peak resident MB) of one child process."""
    with tempfile.TemporaryFile("w+") as out:
        start = time.perf_counter()
        child = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.PIPE, text=True)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        errors = child.stderr.read()
        child.stderr.close()
        if child.returncode != 0:
            raise RuntimeError(f"{argv} failed ({child.returncode}):\n{errors}")
        out.seek(0)
        return out.read(), wall, usage.ru_maxrss / 1024.0  # ru_maxrss is in KiB on Linux


def _measure(name: str, env: dict) -> dict:
    text, _, peak_mb = _run_child([sys.executable, __file__, "--measure", name], env)
    result = json.loads(text.strip().splitlines()[-1])
    result["peak_mb"] = peak_mb
    return result


def write_vote_csv(path: Path, rows: int = CSV_ROWS, seed: int = 1) -> None:
    """rows/2 comparisons, each with a prompt_adherence and an image_quality vote."""
    rng = np.random.default_rng(seed)
    comparisons = rows // 2
    strength = rng.normal(0.0, 0.8, N_MODELS)
    a = rng.integers(0, N_MODELS, comparisons)
    b = (a + rng.integers(1, N_MODELS, comparisons)) % N_MODELS
    prompt = rng.integers(0, 1600, comparisons)
    rater = rng.integers(0, 500, comparisons)
    names = [f"model-{i:02d}" for i in range(N_MODELS)]
    winners = np.array(["model_a", "model_b", "tie"])
    p_a = 1.0 / (1.0 + np.exp(strength[b] - strength[a]))
    lines = ["model_a,model_b,winner,criterion,prompt_id,rater_id,tstamp"]
    for criterion in ("prompt_adherence", "image_quality"):
        u = rng.random(comparisons)
        winner = winners[np.where(u < 0.1, 2, np.where(rng.random(comparisons) < p_a, 0, 1))]
        lines += [
            f"{names[i]},{names[j]},{w},{criterion},p{p},r{r},{1.7e9 + k:.1f}"
            for k, (i, j, w, p, r) in enumerate(zip(a.tolist(), b.tolist(), winner.tolist(), prompt.tolist(), rater.tolist()))
        ]
    path.write_text("\n".join(lines) + "\n")


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--measure":
        print(json.dumps(MEASUREMENTS[sys.argv[2]]()))
        return
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    results: dict[str, float | bool | str] = {}
    with tempfile.TemporaryDirectory() as scratch:
        cold_env = {**env, "NUMBA_CACHE_DIR": str(Path(scratch) / "numba-cold")}
        warm_env = {**env, "NUMBA_CACHE_DIR": str(Path(scratch) / "numba-warm")}

        bt = _measure("bt", warm_env)
        print(f"Bradley-Terry, {BT_VOTES:,} votes, {N_MODELS} models, {ROUNDS} bootstrap rounds, from arrays: "
              f"{bt['seconds']:.3f} s, peak {bt['peak_mb']:.0f} MB")
        pub = _measure("bt_published", warm_env)
        print(f"  FastChat's compute_bt + compute_bootstrap_bt (reimplemented line for line, {ROUNDS} rounds, one process): "
              f"{pub['fastchat_seconds']:.1f} s against ours {pub['seconds']:.3f} s in the same process; point estimates differ by at "
              f"most {pub['point_max_abs_diff_elo']:.4f} Elo points, interval bounds by at most {pub['interval_max_abs_diff_elo']:.2f} "
              f"(mean interval width {pub['mean_interval_width_elo']:.1f}; different random draws)")
        print(f"  choix.ilsr_pairwise_dense on the decisive votes: {pub['choix_seconds']:.4f} s against ours {pub['ours_mle_seconds']:.4f} s; "
              f"strengths differ by at most {pub['choix_max_abs_diff_natural']:.2e} (natural units)")
        elo_cold = _measure("elo", cold_env)
        _measure("elo", warm_env)  # fills warm_env's cache
        elo = _measure("elo", warm_env)
        print(f"Online Elo (ADD), {ELO_VOTES:,} votes x {ROUNDS} orderings: {elo['seconds']:.3f} s warm, "
              f"peak {elo['peak_mb']:.0f} MB; first call {elo_cold['first_call_seconds']:.2f} s with compilation, "
              f"{elo['first_call_seconds']:.2f} s from the numba cache")
        elo_ref = _measure("elo_reference", warm_env)
        print(f"  FastChat's fit_vectorized_elo (K=1): {elo_ref['seconds_measured']:.2f} s for {REFERENCE_ORDERINGS} orderings, "
              f"extrapolated to {ROUNDS}: {elo_ref['seconds']:.0f} s; mean ratings differ by at most "
              f"{elo_ref['mean_max_abs_diff_elo']:.2f} Elo points (sd over orderings {elo_ref['ordering_sd_elo']:.1f})")

        csv_path = Path(scratch) / "votes.csv"
        write_vote_csv(csv_path)
        command = [sys.executable, "-m", "ratings.stats.cli", "--votes", str(csv_path), "--rounds", str(ROUNDS), "--seed", "0"]
        out_cold, cli_cold, cli_cold_mb = _run_child(command, cold_env)
        _run_child(command, warm_env)  # fills the warm cache
        out_warm, cli_warm, cli_warm_mb = _run_child(command, warm_env)
        document = json.loads(out_warm)
        print(f"leaderboard command, {CSV_ROWS:,}-row CSV ({len(document['criteria'])} criteria, "
              f"{csv_path.stat().st_size / 1e6:.0f} MB), bt, {ROUNDS} rounds, end to end in a new process: "
              f"{cli_warm:.2f} s warm, {cli_cold:.2f} s cold (compiling the CSV kernels); peak {cli_warm_mb:.0f} MB")
        assert out_cold == out_warm, "the same seed must give the same output"

    peak = max(bt["peak_mb"], elo["peak_mb"], cli_warm_mb, cli_cold_mb)
    results = {
        "bt_1000_rounds_1m_votes_s": round(bt["seconds"], 3),
        "bt_fastchat_bootstrap_s": round(pub["fastchat_seconds"], 1),
        "bt_speedup_vs_fastchat": round(pub["fastchat_seconds"] / pub["seconds"], 1),
        "bt_point_max_abs_diff_vs_fastchat_elo": round(pub["point_max_abs_diff_elo"], 5),
        "bt_interval_max_abs_diff_vs_fastchat_elo": round(pub["interval_max_abs_diff_elo"], 3),
        "bt_mean_interval_width_elo": round(pub["mean_interval_width_elo"], 2),
        "bt_mle_max_abs_diff_vs_choix": pub["choix_max_abs_diff_natural"],
        "bt_mle_choix_s": round(pub["choix_seconds"], 4),
        "bt_mle_ours_s": round(pub["ours_mle_seconds"], 4),
        "elo_100k_votes_1000_orderings_s": round(elo["seconds"], 3),
        "elo_first_call_compile_s": round(elo_cold["first_call_seconds"], 2),
        "elo_first_call_cached_s": round(elo["first_call_seconds"], 2),
        "elo_fastchat_vectorized_s_extrapolated": round(elo_ref["seconds"], 1),
        "elo_speedup_vs_fastchat": round(elo_ref["seconds"] / elo["seconds"], 1),
        "elo_mean_max_abs_diff_vs_fastchat": round(elo_ref["mean_max_abs_diff_elo"], 3),
        "cli_1m_rows_end_to_end_s": round(cli_warm, 2),
        "cli_1m_rows_end_to_end_cold_s": round(cli_cold, 2),
        "peak_mb": round(peak),
        # timings are wall clock: another workload on the 2 cores inflates them (ratios hold up better)
        "load_average_1min_at_end": round(os.getloadavg()[0], 2),
        "targets_met": bool(bt["seconds"] < 1 and elo["seconds"] < 2 and cli_warm < 5 and peak < 1024),
    }
    print(json.dumps(results))


if __name__ == "__main__":
    main()
