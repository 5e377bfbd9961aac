"""Exports of a study: the leaderboard (CSV, JSON, Markdown, a LaTeX table like the papers'),
all votes in the Chatbot Arena CSV format with pseudonymized raters, and plots (PNG or SVG).
Every export carries how it was made (method, rounds, seed, exclusions, counts, code version)."""

from __future__ import annotations

import csv
import io
import json
import warnings

import numpy as np

from generation.selectors import spec_seconds_per_image

from . import leaderboards
from .models import Study

LEADERBOARD_FORMATS = {"json": "application/json", "csv": "text/csv", "md": "text/markdown", "latex": "application/x-latex"}
PLOT_FORMATS = {"png": "image/png", "svg": "image/svg+xml"}
PLOTS = ("ratings", "heatmap", "win-bars", "speed")
ARENA_WINNER = {"a": "model_a", "b": "model_b", "tie": "tie"}


def _provenance_lines(document: dict) -> list[str]:
    p = document["provenance"]
    excluded = "; ".join(f"{row['rater']} ({row['reason']})" for row in p["excluded_raters"]) or "none"
    return [
        f"study {p['study']}; method {p['method']}; rounds {p['rounds']}; seed {p['seed']}",
        f"votes {p['votes']} in {p['comparisons']} comparisons by {p['raters']} raters; excluded raters: {excluded}",
        "rater agreement (Krippendorff's alpha): "
        + ", ".join(f"{name} {'n/a' if alpha is None else f'{alpha:.3f}'}" for name, alpha in p["rater_agreement"].items()),
        f"attention-check failures: {p['attention_check_failures'] if p['attention_check_failures'] is not None else 'not recorded'}; "
        f"code {p['code_version']}; computed {p['computed_at']}",
        *(f"warning: {warning}" for warning in document.get("warnings", [])),
    ]


def leaderboard_export(*, study: Study, method: str = "bt", fmt: str = "json", rounds: int = 1000, seed: int = 0) -> tuple[bytes, str, str]:
    """(content, content type, file name) of the study's leaderboard in ``fmt``."""
    from ratings.stats import render, render_latex

    if fmt not in LEADERBOARD_FORMATS:
        raise ValueError(f"Unknown format '{fmt}': use one of {', '.join(LEADERBOARD_FORMATS)}.")
    document = leaderboards.study_leaderboard(study=study, method=method, rounds=rounds, seed=seed)
    filename = f"study-{study.pk}-leaderboard-{method}.{ {'latex': 'tex'}.get(fmt, fmt) }"
    if fmt == "json":
        return json.dumps(document, indent=2).encode(), LEADERBOARD_FORMATS[fmt], filename
    comment = {"csv": "# ", "md": "<!-- ", "latex": "% "}[fmt]
    close = " -->" if fmt == "md" else ""
    header = "".join(f"{comment}{line}{close}\n" for line in _provenance_lines(document))
    if fmt == "latex":
        extra = {}
        for spec in study.job.specs.all():
            speed = spec_seconds_per_image(spec)
            extra[str(spec)] = {"steps": spec.steps, "s/img": f"{speed[0]:.3f}" if speed else "--"}
        body = render_latex(document["models"], extra_columns=extra)
    else:
        body = render(document, fmt)
    return (header + body).encode(), LEADERBOARD_FORMATS[fmt], filename


def votes_csv(*, study: Study, include_flagged: bool = True) -> bytes:
    """Every vote in the Chatbot Arena CSV format (``model_a``, ``model_b``, ``winner``,
    ``criterion``, ``prompt_id``, ``rater_id``, ``tstamp``), raters pseudonymized. Flagged
    raters are included by default: the file is the raw record; exclusion is the reader's call."""
    votes = leaderboards.study_votes(study=study, include_flagged=include_flagged)
    arrays = votes.arrays
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["model_a", "model_b", "winner", "criterion", "prompt_id", "rater_id", "tstamp"])
    outcome_to_winner = {1.0: "model_a", 0.0: "model_b", 0.5: "tie"}
    for i in range(arrays.n_votes):
        writer.writerow(
            [
                arrays.model_names[arrays.model_a[i]],
                arrays.model_names[arrays.model_b[i]],
                outcome_to_winner[float(arrays.outcome[i])],
                arrays.criterion_names[arrays.criterion[i]],
                int(votes.prompt_ids[i]),
                leaderboards.rater_pseudonym(int(votes.rater_ids[i])),
                f"{votes.tstamps[i].timestamp():.3f}",
            ]
        )
    return out.getvalue().encode()


def _figure_bytes(figure, fmt: str) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format=fmt, bbox_inches="tight", metadata={"Software": None} if fmt == "png" else None)
    import matplotlib.pyplot as plt

    plt.close(figure)
    return buffer.getvalue()


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_export(*, study: Study, plot: str, fmt: str = "svg", method: str = "bt", criterion: str = "mean", model: str | None = None) -> tuple[bytes, str, str]:
    """(content, content type, file name) of one plot: ``ratings`` (ratings with interval bars),
    ``heatmap`` (win-rate matrix), ``win-bars`` (ADD-style: one model's win percentage against
    each other model), ``speed`` (rating against seconds per image, ADD's Fig. 7)."""
    if plot not in PLOTS:
        raise ValueError(f"Unknown plot '{plot}': use one of {', '.join(PLOTS)}.")
    if fmt not in PLOT_FORMATS:
        raise ValueError(f"Unknown image format '{fmt}': use png or svg.")
    plt = _pyplot()
    document = leaderboards.study_leaderboard(study=study, method=method)
    provenance = document["provenance"]
    caption = f"{document['method']}, {provenance['votes']} votes, {provenance['raters']} raters, seed {provenance['seed']}"
    figure, axes = plt.subplots(figsize=(7, 4.2))
    if plot in ("ratings", "speed"):
        criteria = [criterion] if criterion in document["criteria"] or criterion == "mean" else document["criteria"][:1]
        rows = [row for row in document["models"] if row["criterion"] == criteria[0]]
        if not rows and criteria[0] == "mean":
            rows = [row for row in document["models"] if row["criterion"] == document["criteria"][0]]
        if plot == "ratings":
            rows = sorted(rows, key=lambda row: row["rating"])
            y = np.arange(len(rows))
            low = [row["rating"] - (row["ci_low"] if row["ci_low"] is not None else row["rating"]) for row in rows]
            high = [(row["ci_high"] if row["ci_high"] is not None else row["rating"]) - row["rating"] for row in rows]
            axes.errorbar([row["rating"] for row in rows], y, xerr=[low, high], fmt="o", capsize=4)
            axes.set_yticks(y, [row["model"] for row in rows])
            axes.set_xlabel(f"rating ({criteria[0]})")
        else:
            speeds = {str(spec): spec_seconds_per_image(spec) for spec in study.job.specs.all()}
            devices = sorted({speed[1] for speed in speeds.values() if speed})
            for row in rows:
                speed = speeds.get(row["model"])
                if speed is None:
                    continue
                axes.errorbar(
                    [speed[0]], [row["rating"]],
                    yerr=[[row["rating"] - (row["ci_low"] or row["rating"])], [(row["ci_high"] or row["rating"]) - row["rating"]]],
                    fmt="o", capsize=4,
                )
                axes.annotate(row["model"], (speed[0], row["rating"]), textcoords="offset points", xytext=(6, 4), fontsize=8)
            axes.set_xscale("log")
            axes.set_xlabel(f"seconds per image ({'; '.join(devices) or 'not measured'})")
            axes.set_ylabel(f"rating ({criteria[0]})")
    else:
        from ratings.stats import win_rates

        arrays = leaderboards.study_votes(study=study).arrays
        names = arrays.model_names
        if arrays.n_votes:
            result = win_rates(arrays, 200, 0)
            if criterion in arrays.criterion_names:
                matrix = result.matrix[arrays.criterion_names.index(criterion)]
            else:  # "mean": the average over criteria, as ADD reports; pairs never compared stay blank
                with np.errstate(invalid="ignore"), warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    matrix = np.nanmean(result.matrix, axis=0)
        else:
            matrix = np.full((len(names), len(names)), np.nan)
        if plot == "heatmap":
            image = axes.imshow(matrix, vmin=0, vmax=1, cmap="RdBu")
            axes.set_xticks(range(len(names)), names, rotation=45, ha="right")
            axes.set_yticks(range(len(names)), names)
            for (i, j), value in np.ndenumerate(matrix):
                if np.isfinite(value):
                    axes.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=8)
            figure.colorbar(image, ax=axes, label="win rate of row over column")
        else:
            focus = names.index(model) if model in names else 0
            others = [j for j in range(len(names)) if j != focus]
            percentages = [100 * matrix[focus, j] if np.isfinite(matrix[focus, j]) else 0 for j in others]
            axes.barh([names[j] for j in others], percentages)
            axes.axvline(50, color="grey", linestyle="--", linewidth=1)
            axes.set_xlim(0, 100)
            axes.set_xlabel(f"% of votes preferring {names[focus]}")
    if plot in ("ratings", "speed"):
        axes.ticklabel_format(axis="y" if plot == "speed" else "x", useOffset=False, style="plain")
    axes.set_title(f"{study.name}: {plot}", fontsize=10)
    figure.text(0.01, -0.02, caption + f"; code {provenance['code_version']}", fontsize=7)
    return _figure_bytes(figure, fmt), PLOT_FORMATS[fmt], f"study-{study.pk}-{plot}.{fmt}"
