import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ratings.stats.cli import main
from ratings.stats.formats import render_latex

ROOT = Path(__file__).resolve().parents[3]
ROW_KEYS = {"model", "criterion", "rating", "ci_low", "ci_high", "rank", "votes"}


def study_csv(n=600, criteria=("prompt_adherence", "image_quality"), seed=0):
    rng = np.random.default_rng(seed)
    strength = {"sdxl-turbo": 0.6, "sd-turbo": 0.2, "lcm": -0.1, "sdxl-base": 0.9}
    models = list(strength)
    lines = ["model_a,model_b,winner" + (",criterion" if criteria else "") + ",prompt_id"]
    for k in range(n):
        i, j = rng.choice(len(models), 2, replace=False)
        a, b = models[i], models[j]
        for criterion in criteria or [None]:
            p = 1 / (1 + np.exp(strength[b] - strength[a]))
            u = rng.random()
            winner = "tie" if u < 0.1 else ("model_a" if rng.random() < p else "model_b")
            lines.append(f"{a},{b},{winner}" + (f",{criterion}" if criterion else "") + f",p{k % 40}")
    return "\n".join(lines) + "\n"


def run(args):
    out, err = io.StringIO(), io.StringIO()
    status = main(args, out, err)
    return status, out.getvalue(), err.getvalue()


@pytest.fixture
def two_criteria(write_csv):
    return write_csv(study_csv())


@pytest.mark.parametrize("method", ["bt", "davidson", "elo", "winrate"])
def test_json_document(two_criteria, method):
    status, out, err = run(["--votes", two_criteria, "--method", method, "--rounds", "100", "--seed", "3"])
    assert status == 0, err
    document = json.loads(out)
    assert document["method"] == method and document["rounds"] == 100
    assert document["criteria"] == ["prompt_adherence", "image_quality"]
    rows = document["models"]
    assert all(set(row) == ROW_KEYS for row in rows)
    by_criterion = {c: [r for r in rows if r["criterion"] == c] for c in ("prompt_adherence", "image_quality", "mean")}
    assert all(len(group) == 4 for group in by_criterion.values())
    assert len(rows) == 12
    for criterion, group in by_criterion.items():
        assert [r["rating"] for r in group] == sorted((r["rating"] for r in group), reverse=True)
        for r in group:
            assert r["ci_low"] <= r["rating"] <= r["ci_high"] or method == "elo"
            assert r["rank"] == 1 + sum(o["ci_low"] > r["ci_high"] for o in group)
    mean = {r["model"]: r["rating"] for r in by_criterion["mean"]}
    for model, rating in mean.items():
        per = [r["rating"] for c in ("prompt_adherence", "image_quality") for r in by_criterion[c] if r["model"] == model]
        assert rating == pytest.approx(sum(per) / 2)
    if method == "winrate":
        assert all(0 <= r["ci_low"] <= r["rating"] <= r["ci_high"] <= 1 for r in rows)
    if method == "elo":
        assert document["interval"].startswith("95% bootstrap percentile interval (votes resampled")
        assert "not a confidence interval" in document["ordering_spread"]["what"]
    assert by_criterion["mean"][0]["model"] == "sdxl-base"
    # The file has ties: counting them as half a win makes Bradley-Terry depend on the design.
    assert ("note: ties count as half a win" in err) is (method == "bt")


def test_no_tie_note_under_forced_choice(write_csv):
    path = write_csv(study_csv().replace(",tie,", ",model_a,"))
    status, out, err = run(["--votes", path, "--rounds", "20"])
    assert status == 0 and "ties count as half a win" not in err


def test_votes_count_the_models_votes(write_csv):
    path = write_csv("model_a,model_b,winner\nx,y,model_a\ny,z,tie\nx,z,model_b\nx,y,model_b\n")
    status, out, _ = run(["--votes", path, "--method", "winrate", "--rounds", "20"])
    document = json.loads(out)
    assert document["criteria"] == ["overall"]
    assert {r["criterion"] for r in document["models"]} == {"overall"}  # no "mean" with one criterion
    assert {r["model"]: r["votes"] for r in document["models"]} == {"x": 3, "y": 3, "z": 2}
    ratings = {r["model"]: r["rating"] for r in document["models"]}
    assert ratings["x"] == pytest.approx((1 / 2 + 0) / 2)


def test_same_seed_same_output(two_criteria):
    for method in ("bt", "elo", "winrate"):
        args = ["--votes", two_criteria, "--method", method, "--rounds", "50"]
        first, again, other = run(args + ["--seed", "1"]), run(args + ["--seed", "1"]), run(args + ["--seed", "2"])
        assert first == again
        assert first[1] != other[1]


def test_criterion_option(two_criteria):
    status, out, _ = run(["--votes", two_criteria, "--criterion", "image_quality", "--rounds", "30"])
    document = json.loads(out)
    assert document["criteria"] == ["image_quality"]
    assert {r["criterion"] for r in document["models"]} == {"image_quality"}
    status, _, err = run(["--votes", two_criteria, "--criterion", "speed"])
    assert status == 2 and "'speed'" in err and "prompt_adherence" in err


def test_prompt_resampling_and_anchor(two_criteria):
    status, out, err = run(["--votes", two_criteria, "--resample", "prompt", "--anchor", "lcm=800", "--rounds", "50"])
    assert status == 0, err
    rows = json.loads(out)["models"]
    assert all(r["rating"] == pytest.approx(800) for r in rows if r["model"] == "lcm")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("model_a,model_b,winner\na,b,tie\na,b,model_c\n", "line 3, column 'winner'"),
        ("model_a,winner\na,tie\n", "line 1, column 'model_b'"),
    ],
)
def test_bad_file_exits_2_naming_line_and_column(write_csv, text, expected):
    status, out, err = run(["--votes", write_csv(text)])
    assert status == 2 and out == ""
    assert expected in err


def test_bad_options_exit_2(two_criteria):
    assert run(["--votes", two_criteria, "--rounds", "0"])[0] == 2
    assert run(["--votes", two_criteria, "--method", "glicko"])[0] == 2
    assert run(["--votes", two_criteria, "--anchor", "nobody=1000"])[0] == 2
    assert run([])[0] == 2


def test_text_formats_carry_method_rounds_and_seed(two_criteria):
    _, out, _ = run(["--votes", two_criteria, "--rounds", "40", "--seed", "9", "--format", "json"])
    rows = json.loads(out)["models"]
    for output_format in ("csv", "md", "latex"):
        status, text, _ = run(["--votes", two_criteria, "--rounds", "40", "--seed", "9", "--format", output_format])
        assert status == 0
        first = text.splitlines()[0]
        assert "Bradley-Terry" in first and "40 bootstrap rounds" in first and "seed 9" in first
    _, text, _ = run(["--votes", two_criteria, "--rounds", "40", "--seed", "9", "--format", "csv"])
    import csv

    parsed = list(csv.DictReader(text.splitlines()[1:]))
    assert [(r["model"], r["criterion"], float(r["rating"]), int(r["rank"])) for r in parsed] == [
        (r["model"], r["criterion"], r["rating"], r["rank"]) for r in rows
    ]
    _, text, _ = run(["--votes", two_criteria, "--rounds", "40", "--seed", "9", "--format", "md"])
    assert sum(line.startswith("| ") for line in text.splitlines()) == len(rows) + 2  # + header, rule
    _, text, _ = run(["--votes", two_criteria, "--rounds", "40", "--seed", "9", "--format", "latex"])
    assert "\\begin{tabular}{lccc}" in text and "\\end{tabular}" in text
    assert "model & prompt\\_adherence & image\\_quality & mean \\\\" in text
    assert text.count("\\\\") == 1 + 4


def test_render_latex_extra_columns():
    rows = [
        {"model": "SDXL_Turbo", "criterion": "quality", "rating": 1050.0, "ci_low": 1040.0, "ci_high": 1060.0, "rank": 1, "votes": 10},
        {"model": "LCM", "criterion": "quality", "rating": 950.0, "ci_low": 930.0, "ci_high": 960.0, "rank": 2, "votes": 10},
    ]
    text = render_latex(rows, extra_columns={"SDXL_Turbo": {"steps": 4, "s/img": 0.21}, "LCM": {"steps": 4}})
    lines = text.splitlines()
    assert lines[0] == "\\begin{tabular}{lrrc}"
    assert lines[2] == "model & steps & s/img & quality \\\\"
    assert lines[4] == "SDXL\\_Turbo & 4 & 0.21 & $1050.0 \\pm 10.0$ \\\\"
    assert lines[5] == "LCM & 4 & -- & $950.0^{+10.0}_{-20.0}$ \\\\"


def test_runs_without_torch_diffusers_or_django(two_criteria):
    code = (
        "import sys, io; from ratings.stats.cli import main; "
        f"status = main(['--votes', {two_criteria!r}, '--rounds', '20'], io.StringIO(), sys.stderr); "
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'diffusers', 'django')); "
        "print(status, heavy)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.stdout.strip() == "0 []", result.stderr


def test_django_command_wraps_main(two_criteria, write_csv):
    """The management command, run as manage.py would run it, with settings configured ad hoc."""
    bad = write_csv("model_a,model_b,winner\na,b,tie\na,b,nobody\n", name="bad.csv")
    code = (
        "import sys, django; from django.conf import settings; settings.configure(); django.setup()\n"
        "from ratings.management.commands.leaderboard import Command\n"
        "Command().run_from_argv(['manage.py', 'leaderboard'] + sys.argv[1:])\n"
    )

    def manage(*args):
        return subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True,
                              timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})

    good = manage("--votes", two_criteria, "--rounds", "30", "--seed", "4")
    assert good.returncode == 0, good.stderr
    assert good.stdout == run(["--votes", two_criteria, "--rounds", "30", "--seed", "4"])[1]
    failed = manage("--votes", bad)
    assert failed.returncode == 2
    assert "line 3, column 'winner'" in failed.stderr


def test_pairs_categories_raters_and_the_counted_column(write_csv):
    """--pairs adds the significance table, --by category a leaderboard per category, --resample
    rater a cluster bootstrap over raters; rows marked counted=no are left out; an export's
    provenance lines (#) are skipped. Existing keys stay."""
    body = study_csv(400).splitlines()
    lines = ["# an export's provenance line", body[0] + ",rater_id,category,counted"]
    for k, line in enumerate(body[1:]):
        comparison = k // 2  # two criteria per comparison
        lines.append(f"{line},r{comparison % 7},{'animals' if comparison % 3 else 'vehicles'},{'no' if comparison % 10 == 0 else 'yes'}")
    path = write_csv("\n".join(lines) + "\n")
    status, out, err = run(["--votes", path, "--rounds", "60", "--pairs", "--by", "category", "--resample", "rater"])
    assert status == 0, err
    document = json.loads(out)
    assert {"method", "rounds", "seed", "interval", "criteria", "models"} <= set(document)
    assert document["resample"] == "rater" and "raters like these" in document["population"]
    pair_keys = {"model_a", "model_b", "criterion", "wins_a", "wins_b", "ties", "win_rate", "ci_low", "ci_high", "p_value", "p_holm"}
    assert all(pair_keys <= set(pair) for pair in document["pairs"])
    assert len(document["pairs"]) == 6 * 3  # six pairs of four models, per criterion and the mean
    assert set(document["by_category"]) == {"animals", "vehicles"}
    counted = sum(row["votes"] for row in document["models"] if row["criterion"] == "prompt_adherence") // 2
    per_category = sum(part["votes"] for part in document["by_category"].values()) // 2
    assert counted == per_category == 360  # 400 comparisons, 40 of them counted=no
    for part in document["by_category"].values():
        assert {row["criterion"] for row in part["models"]} == {"prompt_adherence", "image_quality", "mean"}
    status, out, _ = run(["--votes", path, "--rounds", "20", "--include-uncounted"])
    assert sum(row["votes"] for row in json.loads(out)["models"] if row["criterion"] == "prompt_adherence") // 2 == 400
    status, out, _ = run(["--votes", path, "--rounds", "20", "--pairs", "--format", "csv"])
    assert "# pairwise significance" in out and "p_holm" in out
    status, out, _ = run(["--votes", path, "--rounds", "20", "--pairs", "--format", "latex"])
    assert out.count("\\begin{tabular}") == 2
    status, _, err = run(["--votes", write_csv(study_csv(50)), "--by", "category"])
    assert status == 2 and "missing column 'category'" in err
    status, _, err = run(["--votes", write_csv(study_csv(50)), "--resample", "rater"])
    assert status == 2 and "missing column 'rater_id'" in err
