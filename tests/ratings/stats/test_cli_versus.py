"""`leaderboard --versus SLUG`: the versus list against an independent computation, through the
plain CLI and through `manage.py leaderboard` (the same code, Django's wrapper)."""

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import norm

from ratings.stats.cli import main

ROOT = Path(__file__).resolve().parents[3]
TRUE_RATE = {"student-1step": 0.30, "student-2step": 0.47, "student-4step": 0.52, "student-8step": 0.62}


def versus_csv(seed=0, per_pair=500, criteria=("prompt_adherence", "image_quality")):
    """Every student against the teacher (sides alternating), plus a few student-student pairs the
    versus table must ignore; ties 10%."""
    rng = np.random.default_rng(seed)
    lines = ["model_a,model_b,winner,criterion,prompt_id,rater_id"]
    k = 0
    for student, rate in TRUE_RATE.items():
        for n in range(per_pair):
            left_student = n % 2 == 0
            a, b = (student, "teacher") if left_student else ("teacher", student)
            prompt, rater = f"p{rng.integers(30)}", f"r{rng.integers(12)}"
            for criterion in criteria:
                u = rng.random()
                student_result = "tie" if u < 0.1 else ("win" if rng.random() < (rate - 0.05) / 0.9 else "loss")
                if student_result == "tie":
                    winner = "tie"
                else:
                    winner = "model_a" if (student_result == "win") == left_student else "model_b"
                lines.append(f"{a},{b},{winner},{criterion},{prompt},{rater}")
            k += 1
    lines += ["student-1step,student-8step,model_b,prompt_adherence,p1,r1"] * 50
    return "\n".join(lines) + "\n"


def independent_rows(text, reference, unit, margin=0.05, alpha=0.05):
    """The versus rows recomputed from the CSV text with plain Python loops and dictionaries."""
    rows = [line.split(",") for line in text.strip().splitlines()[1:]]
    criteria = list(dict.fromkeys(row[3] for row in rows))
    z = norm.ppf(1 - alpha)
    out = {}
    # A comparison = consecutive lines with the same pair (one per criterion), as the file writes them.
    comparisons = [rows[i : i + len(criteria)] for i in range(0, len(rows), len(criteria))]
    for student in TRUE_RATE:
        scores = {c: [] for c in criteria}  # (score, cluster)
        for index, comparison in enumerate(comparisons):
            for a, b, winner, criterion, prompt, rater in comparison:
                if {a, b} != {student, reference}:
                    continue
                if winner == "tie":
                    score = 0.5
                else:
                    score = 1.0 if (winner == "model_a") == (a == student) else 0.0
                cluster = index if unit == "comparison" else prompt
                scores[criterion].append((score, cluster))
        rates = {c: sum(s for s, _ in v) / len(v) for c, v in scores.items()}
        for label, chosen in [*((c, [c]) for c in criteria), ("mean", criteria)]:
            estimate = sum(rates[c] for c in chosen) / len(chosen)
            per_cluster = {}
            for c in chosen:
                for score, cluster in scores[c]:
                    per_cluster[cluster] = per_cluster.get(cluster, 0.0) + (score - rates[c]) / len(scores[c]) / len(chosen)
            g = len(per_cluster)
            se = (sum(v * v for v in per_cluster.values()) * g / (g - 1)) ** 0.5
            low, high = estimate - z * se, estimate + z * se
            if low > 0.5:
                decision = "better"
            elif low > 0.5 - margin and high < 0.5 + margin:
                decision = "equivalent"
            elif low > 0.5 - margin:
                decision = "non-inferior"
            elif high < 0.5 - margin:
                decision = "inferior"
            else:
                decision = "undecided"
            out[(student, label)] = (estimate, low, high, decision)
    return out


def run(args):
    out, err = io.StringIO(), io.StringIO()
    status = main(args, out, err)
    return status, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("unit", ["comparison", "prompt"])
def test_versus_list_matches_an_independent_computation(write_csv, unit):
    text = versus_csv()
    path = write_csv(text)
    status, out, err = run(["--votes", path, "--versus", "teacher", "--margin", "0.05", "--format", "json",
                            "--rounds", "50", "--versus-unit", unit])
    assert status == 0, err
    document = json.loads(out)
    assert document["models"], "the usual leaderboard is still there"
    assert document["versus_settings"]["reference"] == "teacher" and document["versus_settings"]["unit"] == unit
    expected = independent_rows(text, "teacher", unit)
    got = {(row["model"], row["criterion"]): row for row in document["versus"]}
    assert set(got) == set(expected)
    assert all(set(row) >= {"model", "criterion", "win_rate", "low", "high", "decision"} for row in got.values())
    for key, (estimate, low, high, decision) in expected.items():
        row = got[key]
        assert row["win_rate"] == pytest.approx(estimate), key
        assert row["low"] == pytest.approx(low), key
        assert row["high"] == pytest.approx(high), key
        assert row["decision"] == decision, key
    # The file was made with clear truths: the decisions on the mean say so.
    mean = {model: got[(model, "mean")]["decision"] for model in TRUE_RATE}
    assert mean["student-1step"] == "inferior" and mean["student-8step"] == "better"
    assert mean["student-4step"] in ("better", "non-inferior", "equivalent")  # every one true of 0.52


def test_versus_needs_a_known_reference_and_a_sane_margin(write_csv):
    path = write_csv(versus_csv(per_pair=30))
    status, _, err = run(["--votes", path, "--versus", "nobody", "--rounds", "10"])
    assert status == 2 and "'nobody' is not a model" in err and "teacher" in err
    status, _, err = run(["--votes", path, "--versus", "teacher", "--margin", "0.7", "--rounds", "10"])
    assert status == 2 and "margin must lie in [0, 0.5)" in err
    status, _, err = run(["--votes", path, "--versus", "teacher", "--alpha", "zero", "--rounds", "10"])
    assert status == 2 and "alpha must be a number" in err


def test_versus_unit_needs_its_columns(write_csv):
    text = "\n".join(line.rsplit(",", 2)[0] for line in versus_csv(per_pair=30).splitlines()) + "\n"  # no prompt_id, rater_id
    status, _, err = run(["--votes", write_csv(text), "--versus", "teacher", "--versus-unit", "prompt", "--rounds", "10"])
    assert status == 2 and "prompt_id" in err


@pytest.mark.parametrize("output_format, marker", [("csv", "# against teacher at margin 0.05"), ("md", "| decision |"), ("latex", "decision \\\\")])
def test_versus_in_every_format(write_csv, output_format, marker):
    status, out, err = run(["--votes", write_csv(versus_csv(per_pair=100)), "--versus", "teacher", "--rounds", "10",
                            "--format", output_format])
    assert status == 0, err
    assert marker in out and "student-8step" in out


def test_manage_py_leaderboard_versus(write_csv):
    text = versus_csv(per_pair=200)
    path = write_csv(text)
    result = subprocess.run(
        [sys.executable, "manage.py", "leaderboard", "--votes", path, "--versus", "teacher", "--margin", "0.05",
         "--format", "json", "--rounds", "20"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    rows = {(row["model"], row["criterion"]): row for row in json.loads(result.stdout)["versus"]}
    for key, (estimate, low, _, decision) in independent_rows(text, "teacher", "comparison").items():
        assert rows[key]["win_rate"] == pytest.approx(estimate) and rows[key]["low"] == pytest.approx(low)
        assert rows[key]["decision"] == decision


def test_two_way_unit_from_the_file_is_at_least_as_wide_as_either_one_way(write_csv):
    path = write_csv(versus_csv(per_pair=300))
    widths = {}
    for unit in ("prompt", "prompt_rater"):
        status, out, err = run(["--votes", path, "--versus", "teacher", "--versus-unit", unit, "--rounds", "10"])
        assert status == 0, err
        rows = json.loads(out)["versus"]
        widths[unit] = {(r["model"], r["criterion"]): r["high"] - r["low"] for r in rows}
        assert json.loads(out)["versus_settings"]["unit"] == unit
    assert all(widths["prompt_rater"][key] >= widths["prompt"][key] - 1e-12 for key in widths["prompt"])
