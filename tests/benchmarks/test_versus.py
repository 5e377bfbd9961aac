"""benchmarks/versus.py in miniature: it runs, its fast cluster sums agree with the library's
versus_reference on the raw votes (checked inside the first run), and it prints its JSON line;
its real-serving mode on a tiny configuration reports the decisions of the studies' own tables."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]


def load(name="versus"):
    spec = importlib.util.spec_from_file_location(f"{name}_benchmark", ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_simulated_truth_is_exact():
    bench = load("versus_simulation")
    theta = bench.mean_strengths((bench.TRUE_WIN_RATES - bench.TIES / 2) / (1 - bench.TIES), bench.TAU)
    rng = np.random.default_rng(0)
    z = rng.standard_normal(400_000)
    rate = bench.TIES / 2 + (1 - bench.TIES) * (1 / (1 + np.exp(-(theta[:, None] + bench.TAU * z)))).mean(axis=1)
    np.testing.assert_allclose(rate, bench.TRUE_WIN_RATES, atol=2e-3)


def test_a_small_run_prints_its_json_line(capsys):
    result = load().main(["--runs", "2", "--budget", "6000", "--prompts", "60", "--look-every", "500", "--margin-runs", "50"])
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert json.loads(last) == result
    assert {"runs", "all_pairs_votes", "versus_votes", "ratio", "false_non_inferior", "wrong_decisions", "budget_hits"} <= set(result)
    assert result["runs"] == 2 and 0 < result["versus_votes"] <= 6000
    assert 0 <= result["false_non_inferior_margin_check"] <= 1


@pytest.mark.django_db
def test_the_real_serving_mode_reports_the_decisions_of_the_studies_own_tables():
    """A tiny configuration (a teacher, a student at 0.8 and one at 0.3 against it, 8 prompts)
    through the real scheduler, votes and refresh, one seed per arm: each study stops on
    ``decided`` within its budget, and the decisions the benchmark computes from the raw votes
    are those of the study's own leaderboard (its versus table, ratings/versus.py)."""
    from ratings.models import Study
    from ratings.results.leaderboards import compute_study_leaderboard

    bench = load()
    result = bench.real_serving(seeds=1, budget=600, prompts=8, refresh_every=50, quota=20, prompt_sd=0.0, sim_runs=300,
                                students=((4, 0.8), (1, 0.3)), log=lambda message: None)
    assert json.loads(json.dumps(result)) == result
    assert result["database"] == "postgresql" and set(result["arms"]) == {"uniform", "adaptive"}
    four_steps, one_step = result["students"]
    for arm, summary in result["arms"].items():
        study = Study.objects.get(pk=summary["studies"][0])
        assert study.sampling == arm and study.design == "versus_reference" and study.stop_when == "decided"
        assert study.stopped_at is not None and study.stop_reason.startswith("Decided"), (arm, study.stop_reason)
        assert summary["real_votes"] == [study.stop_comparisons] and 0 < study.stop_comparisons < 600
        board = compute_study_leaderboard(study=study, rounds=20, resample="prompt")
        assert board["versus_settings"]["unit"] == "prompt" and "anytime-valid" in board["versus_settings"]["interval"]
        table = {row["model"]: row["decision"] for row in board["versus"] if row["criterion"] == bench.REAL_CRITERION}
        reported = {model: decisions[0] for model, decisions in summary["real_decisions"].items()}
        assert reported == table, (arm, reported, board["versus"])
        assert table[four_steps] in ("better", "non-inferior", "equivalent") and table[one_step] == "inferior", table
        assert summary["matches_study"] and summary["decisions_agree"], summary
        # The study's stop reason counts the same decisions.
        for decision in set(table.values()):
            assert f"{list(table.values()).count(decision)} {decision}" in study.stop_reason, study.stop_reason
