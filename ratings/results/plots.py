"""Plots of a study's leaderboard (PNG or SVG): ratings with intervals, the win-rate heatmap,
ADD-style win bars, rating against speed and rating against diversity across seeds. Every number comes from the cached leaderboard
document (``ratings.stats``); matplotlib is imported only when a plot is drawn."""

from __future__ import annotations

import io

import numpy as np

from generation.selectors import spec_seconds_per_image

from ..models import Study
from . import leaderboards
from .votes import model_label

PLOT_FORMATS = {"png": "image/png", "svg": "image/svg+xml"}
PLOTS = ("ratings", "heatmap", "win-bars", "speed", "diversity")


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


def _plain(text: str) -> str:
    """Text matplotlib shows as it is: a $ would start mathtext."""
    return str(text).replace("$", r"\$")


def model_colours(names) -> dict[str, object]:
    """One colour per model, fixed by the model's place among the study's sorted names, so a
    model keeps its colour whatever the rows' order."""
    import matplotlib

    palette = matplotlib.colormaps["tab10" if len(names) <= 10 else "tab20"]
    return {name: palette(i % palette.N) for i, name in enumerate(sorted(names))}


def _errors(row: dict) -> tuple[float, float]:
    """(below, above) half-widths of the row's interval, never negative: a point estimate may lie
    outside its own percentile interval (e.g. online Elo's mean over orderings)."""
    rating = row["rating"]
    low = row["ci_low"] if row["ci_low"] is not None else rating
    high = row["ci_high"] if row["ci_high"] is not None else rating
    return max(0.0, rating - low), max(0.0, high - rating)


def _win_rate_matrix(document: dict, criterion: str) -> tuple[list[str], np.ndarray]:
    """The win-rate matrix of one criterion (or "mean"), row over column, from the document's pairs."""
    from ratings.stats import pair_matrix

    names = sorted({row["model"] for row in document["models"]} | {p[k] for p in document.get("pairs", []) for k in ("model_a", "model_b")})
    cells = pair_matrix(document.get("pairs", []), names, criterion)
    rates = [[np.nan if cell is None or cell["rate"] is None else cell["rate"] for cell in row] for row in cells]
    return names, np.array(rates, dtype=float).reshape(len(names), len(names))


def plot_export(
    *, study: Study, plot: str, fmt: str = "svg", method: str = "bt", criterion: str = "mean", model: str | None = None,
    resample: str = "comparison", include_flagged: bool = False,
) -> tuple[bytes, str, str]:
    """(content, content type, file name) of one plot: ``ratings`` (ratings with interval bars),
    ``heatmap`` (win-rate matrix), ``win-bars`` (ADD-style: one model's win percentage against
    each other model), ``speed`` (rating against seconds per image, ADD's Fig. 7), ``diversity``
    (rating against diversity across seeds, the embedding measure where computed, else pixels). Every number
    comes from the cached leaderboard document (one implementation, from ``ratings.stats``)."""
    if plot not in PLOTS:
        raise ValueError(f"Unknown plot '{plot}': use one of {', '.join(PLOTS)}.")
    if fmt not in PLOT_FORMATS:
        raise ValueError(f"Unknown image format '{fmt}': use png or svg.")
    plt = _pyplot()
    document = leaderboards.study_leaderboard(study=study, method=method, resample=resample, include_flagged=include_flagged)
    provenance = document["provenance"]
    caption = (
        f"{document['method']}, {provenance['votes']} votes, {provenance['raters']} raters, seed {provenance['seed']}, "
        f"resampling {provenance['resample']}; code {provenance['code_version']}"
    )
    specs = list(study.job.specs.all())
    colours = model_colours([model_label(spec) for spec in specs])
    criteria = [criterion] if criterion in document["criteria"] or criterion == "mean" else document["criteria"][:1]
    rows = [row for row in document["models"] if row["criterion"] == criteria[0]]
    if not rows and criteria[0] == "mean" and document["criteria"]:
        criteria = document["criteria"][:1]
        rows = [row for row in document["models"] if row["criterion"] == criteria[0]]
    from ratings.stats.formats import mean_description

    # "mean" is named by what it averages (the pair criteria), never a bare "mean".
    shown = criteria[0] if criteria[0] != "mean" else mean_description(document.get("mean_of") or [])
    n_models = max(len(specs), 1)
    longest = max([len(model_label(spec)) for spec in specs] + [8])
    height = max(3.2, 0.45 * n_models + 1.8)
    width = 6.5 + 0.07 * longest
    figure, axes = plt.subplots(figsize=(width, height), layout="constrained")
    if plot == "ratings":
        rows = sorted(rows, key=lambda row: row["rating"])
        y = np.arange(len(rows))
        for k, row in enumerate(rows):
            below, above = _errors(row)
            axes.errorbar([row["rating"]], [k], xerr=[[below], [above]], fmt="o", capsize=4, color=colours.get(row["model"]))
        axes.set_yticks(y, [_plain(row["model"]) for row in rows])
        axes.set_ylim(-0.6, max(len(rows) - 0.4, 0.6))
        axes.set_xlabel(_plain(f"rating ({shown}), {document['interval']}"))
        axes.margins(x=0.1)
    elif plot == "speed":
        speeds = {model_label(spec): spec_seconds_per_image(spec) for spec in specs}
        devices = sorted({speed[1] for speed in speeds.values() if speed})
        plotted = 0
        for row in rows:
            speed = speeds.get(row["model"])
            if speed is None:
                continue
            below, above = _errors(row)
            colour = colours.get(row["model"])
            axes.errorbar([speed[0]], [row["rating"]], yerr=[[below], [above]], fmt="o", capsize=4, color=colour)
            axes.annotate(_plain(row["model"]), (speed[0], row["rating"]), textcoords="offset points", xytext=(6, 4), fontsize=8, color=colour)
            plotted += 1
        if plotted:
            axes.set_xscale("log")
            axes.margins(x=0.35, y=0.15)
        else:
            axes.text(0.5, 0.5, "no model's speed measured yet (manage.py measure_speed)", ha="center", va="center", transform=axes.transAxes)
        axes.set_xlabel(_plain(f"seconds per image ({'; '.join(devices) or 'not measured'})"))
        axes.set_ylabel(_plain(f"rating ({shown})"))
    elif plot == "diversity":
        measures = ((document.get("automated") or {}).get("diversity") or {}).get("measures") or {}
        measure = "embedding" if "embedding" in measures else "pixel"
        diversity = {row["model"]: row for row in (measures.get(measure) or {}).get("models", [])}
        plotted = 0
        for row in rows:
            across = diversity.get(row["model"])
            if across is None or across["mean"] is None:
                continue
            below, above = _errors(row)
            left = max(0.0, across["mean"] - (across["ci_low"] if across["ci_low"] is not None else across["mean"]))
            right = max(0.0, (across["ci_high"] if across["ci_high"] is not None else across["mean"]) - across["mean"])
            colour = colours.get(row["model"])
            axes.errorbar([across["mean"]], [row["rating"]], xerr=[[left], [right]], yerr=[[below], [above]], fmt="o", capsize=4, color=colour)
            axes.annotate(_plain(row["model"]), (across["mean"], row["rating"]), textcoords="offset points", xytext=(6, 4), fontsize=8, color=colour)
            plotted += 1
        if plotted:
            axes.margins(x=0.25, y=0.15)
        else:
            axes.text(0.5, 0.5, "diversity across seeds not computed yet (Compute diversity on the results page)", ha="center", va="center", transform=axes.transAxes)
        axes.set_xlabel(_plain(f"diversity across seeds ({measure}: {'Vendi score of CLIP embeddings' if measure == 'embedding' else '1 - mean pairwise MS-SSIM'}), mean over prompts"))
        axes.set_ylabel(_plain(f"rating ({shown})"))
    else:
        names, matrix = _win_rate_matrix(document, criteria[0])
        if plot == "heatmap":
            image = axes.imshow(matrix, vmin=0, vmax=1, cmap="RdBu")
            axes.set_xticks(range(len(names)), [_plain(n) for n in names], rotation=45, ha="right")
            axes.set_yticks(range(len(names)), [_plain(n) for n in names])
            for (i, j), value in np.ndenumerate(matrix):
                if np.isfinite(value):
                    axes.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=8)
            figure.colorbar(image, ax=axes, label=f"win rate of row over column ({shown})")
        else:
            focus = names.index(model) if model in names else 0
            others = [j for j in range(len(names)) if j != focus]
            percentages = [100 * matrix[focus, j] if np.isfinite(matrix[focus, j]) else 0 for j in others]
            axes.barh([_plain(names[j]) for j in others], percentages, color=[colours.get(names[j]) for j in others])
            axes.axvline(50, color="grey", linestyle="--", linewidth=1)
            axes.set_xlim(0, 100)
            axes.set_xlabel(_plain(f"% of votes preferring {names[focus] if names else '-'} ({shown})"))
    if plot in ("ratings", "speed", "diversity") and rows:
        axes.ticklabel_format(axis="x" if plot == "ratings" else "y", useOffset=False, style="plain")
    axes.set_title(_plain(f"{study.name}: {plot}"), fontsize=10)
    figure.supxlabel(_plain(caption), fontsize=7)
    return _figure_bytes(figure, fmt), PLOT_FORMATS[fmt], f"study-{study.pk}-{plot}.{fmt}"
