"""Speed and memory of the ratings engine against straightforward references (run on demand).

    python benchmarks/ratings.py            # all measurements; the last line is a JSON object

Each measurement runs in its own subprocess, so its peak memory (ru_maxrss from os.wait4) is
its own. Targets (20 models, 2 cores): Bradley-Terry with 1000 bootstrap rounds on 1,000,000
votes < 1 s from arrays; the `leaderboard` command on a 1,000,000-row CSV < 5 s end to end;
ADD Elo, 100,000 votes x 1000 orderings < 2 s; peak memory < 1 GB.

References, timed in the same run on a few rounds and extrapolated to 1000 (said in the output):
- Bradley-Terry as Chatbot Arena's notebook does it: per bootstrap round, resample the votes
  and fit with scipy.optimize.minimize (L-BFGS) on the logistic loss;
- Elo as a plain Python loop over the votes of each random permutation.
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
REFERENCE_ROUNDS = 3
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


def _lbfgs_fit(a, b, outcome, n_models):
    from scipy.optimize import minimize

    def loss_and_grad(r):
        d = r[a] - r[b]
        p = 1.0 / (1.0 + np.exp(-d))
        loss = -(outcome * -np.logaddexp(0, -d) + (1 - outcome) * -np.logaddexp(0, d)).sum()
        residual = outcome - p
        grad = -np.bincount(a, residual, n_models) + np.bincount(b, residual, n_models)
        return loss, grad

    result = minimize(loss_and_grad, np.zeros(n_models), jac=True, method="L-BFGS-B", options={"gtol": 1e-6, "maxiter": 100})
    return result.x - result.x.mean()


def measure_bt_reference() -> dict:
    votes = simulated_arrays(BT_VOTES)
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    for _ in range(REFERENCE_ROUNDS):
        take = rng.integers(0, votes.n_votes, votes.n_votes)
        _lbfgs_fit(votes.model_a[take], votes.model_b[take], votes.outcome[take], votes.n_models)
    seconds = time.perf_counter() - start
    return {"seconds_measured": seconds, "rounds_measured": REFERENCE_ROUNDS, "seconds": seconds * ROUNDS / REFERENCE_ROUNDS}


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


def measure_elo_reference() -> dict:
    votes = simulated_arrays(ELO_VOTES)
    rng = np.random.default_rng(0)
    a, b, s = votes.model_a.tolist(), votes.model_b.tolist(), votes.outcome.tolist()
    start = time.perf_counter()
    for _ in range(REFERENCE_ROUNDS):
        rating = [1000.0] * votes.n_models
        for v in rng.permutation(votes.n_votes).tolist():
            expected_a = 1.0 / (1.0 + 10.0 ** ((rating[b[v]] - rating[a[v]]) / 400.0))
            delta = 1.0 * (s[v] - expected_a)
            rating[a[v]] += delta
            rating[b[v]] -= delta
    seconds = time.perf_counter() - start
    return {"seconds_measured": seconds, "rounds_measured": REFERENCE_ROUNDS, "seconds": seconds * ROUNDS / REFERENCE_ROUNDS}


MEASUREMENTS = {
    "bt": measure_bt,
    "bt_reference": measure_bt_reference,
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
        bt_ref = _measure("bt_reference", warm_env)
        print(f"  reference (per-round L-BFGS, Chatbot Arena notebook style): {bt_ref['seconds_measured']:.1f} s "
              f"for {REFERENCE_ROUNDS} rounds, extrapolated to {ROUNDS}: {bt_ref['seconds']:.0f} s")

        elo_cold = _measure("elo", cold_env)
        _measure("elo", warm_env)  # fills warm_env's cache
        elo = _measure("elo", warm_env)
        print(f"Online Elo (ADD), {ELO_VOTES:,} votes x {ROUNDS} orderings: {elo['seconds']:.3f} s warm, "
              f"peak {elo['peak_mb']:.0f} MB; first call {elo_cold['first_call_seconds']:.2f} s with compilation, "
              f"{elo['first_call_seconds']:.2f} s from the numba cache")
        elo_ref = _measure("elo_reference", warm_env)
        print(f"  reference (pure-Python loop per permutation): {elo_ref['seconds_measured']:.2f} s for "
              f"{REFERENCE_ROUNDS} permutations, extrapolated to {ROUNDS}: {elo_ref['seconds']:.0f} s")

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
        "bt_reference_lbfgs_s_extrapolated": round(bt_ref["seconds"], 1),
        "bt_speedup": round(bt_ref["seconds"] / bt["seconds"], 1),
        "elo_100k_votes_1000_orderings_s": round(elo["seconds"], 3),
        "elo_first_call_compile_s": round(elo_cold["first_call_seconds"], 2),
        "elo_first_call_cached_s": round(elo["first_call_seconds"], 2),
        "elo_reference_python_s_extrapolated": round(elo_ref["seconds"], 1),
        "elo_speedup": round(elo_ref["seconds"] / elo["seconds"], 1),
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
