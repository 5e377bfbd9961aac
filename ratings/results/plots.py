"""Plots of a study's leaderboard (PNG, SVG or PDF): ratings with intervals, the win-rate heatmap,
ADD-style win bars, rating against speed and rating against diversity across seeds, and (drawn
by ``versus_plots.py``) the figures of a study with a reference. Every number comes from the
cached leaderboard document (``ratings.stats``); matplotlib is imported only when a plot is
drawn (``figures.py``)."""

from __future__ import annotations

import hashlib
import json
import textwrap

import numpy as np
from django.core.cache import cache

from generation.selectors import spec_speed
from ratings.stats import pair_matrix
from ratings.stats.formats import mean_description

from ..models import Study
from . import leaderboards
from .figures import figure_bytes, plain, pyplot
from .versus_plots import versus_bars, versus_table
from .votes import model_label

PLOT_FORMATS = {"png": "image/png", "svg": "image/svg+xml", "pdf": "application/pdf"}
PLOTS = ("forest", "ratings", "heatmap", "win-bars", "speed", "diversity", "versus-bars", "versus-table")
#: The figures of a study with a reference (issue 27): drawn from the document's decision table.
VERSUS_PLOTS = ("versus-bars", "versus-table")
#: Plots drawn from the leaderboard's ratings alone (speed reads the models' timings, diversity the automated section).
DOCUMENT_PLOTS = ("forest", "ratings", "heatmap", "win-bars", *VERSUS_PLOTS)
PLOT_CACHE_SECONDS = 3600


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


def cpu_timing_note(devices) -> str:
    """What the speed plot says when any of its timings come from a CPU ('' when none do): CPU
    seconds order models by their work, not by the GPU speeds a paper reports."""
    if not any(str(device).upper().startswith("CPU") for device in devices):
        return ""
    return "Timed on a CPU: not the GPU seconds a paper reports (measure_speed on the GPU for those)"


def _win_rate_matrix(document: dict, criterion: str) -> tuple[list[str], np.ndarray]:
    """The win-rate matrix of one criterion (or "mean"), row over column, from the document's pairs."""
    names = sorted({row["model"] for row in document["models"]} | {p[k] for p in document.get("pairs", []) for k in ("model_a", "model_b")})
    cells = pair_matrix(document.get("pairs", []), names, criterion)
    rates = [[np.nan if cell is None or cell["rate"] is None else cell["rate"] for cell in row] for row in cells]
    return names, np.array(rates, dtype=float).reshape(len(names), len(names))


def _forest(plt, document: dict, colours: dict):
    """A forest plot: one panel per criterion (then the combined rating), the models in one order
    down every panel (best combined rating on top), each a dot at its rating with its interval."""
    criteria = [*document["criteria"], *(["mean"] if document.get("mean_of") else [])]
    rows = {(row["model"], row["criterion"]): row for row in document["models"]}
    order_by = "mean" if "mean" in criteria else (criteria[0] if criteria else None)
    names = sorted({row["model"] for row in document["models"]})
    names.sort(key=lambda name: (rows[(name, order_by)]["rating"] if (name, order_by) in rows else float("-inf")))
    panels = max(len(criteria), 1)
    longest = max([len(name) for name in names] + [8])
    figure, axes = plt.subplots(
        1, panels, sharey=True, squeeze=False, layout="constrained",
        figsize=(1.2 + 0.07 * longest + 2.7 * panels, max(2.6, 0.38 * len(names) + 1.6)),
    )
    for axis, criterion in zip(axes[0], criteria):
        for k, name in enumerate(names):
            row = rows.get((name, criterion))
            if row is None or row["rating"] is None:
                continue
            below, above = _errors(row)
            axis.errorbar([row["rating"]], [k], xerr=[[below], [above]], fmt="o", capsize=3, color=colours.get(name), markersize=5)
        title = criterion if criterion != "mean" else f"combined ({mean_description(document.get('mean_of') or [])})"
        axis.set_title(plain(title.replace("_", " ")), fontsize=9, wrap=True)
        axis.grid(axis="x", color="#dddddd", linewidth=0.6)
        axis.margins(x=0.12)
        axis.ticklabel_format(axis="x", useOffset=False, style="plain")
        axis.tick_params(labelsize=8)
    if not criteria or not names:
        axes[0][0].text(0.5, 0.5, "No votes counted yet.", ha="center", va="center", transform=axes[0][0].transAxes)
    axes[0][0].set_yticks(range(len(names)), [plain(name) for name in names])
    axes[0][0].set_ylim(-0.6, max(len(names) - 0.4, 0.6))
    return figure


def plot_export(
    *, study: Study, plot: str, fmt: str = "svg", method: str = "bt", criterion: str = "mean", model: str | None = None,
    resample: str | None = None, include_flagged: bool = False,
) -> tuple[bytes, str, str]:
    """(content, content type, file name) of one plot: ``forest`` (every model's rating and
    interval, one panel per criterion and the combined rating), ``ratings`` (one criterion's ratings with interval bars),
    ``heatmap`` (win-rate matrix), ``win-bars`` (ADD-style: one model's win percentage against
    each other model), ``speed`` (rating against seconds per image, ADD's Fig. 7), ``diversity``
    (rating against diversity across seeds, the embedding measure where computed, else pixels). Every number
    comes from the cached leaderboard document (one implementation, from ``ratings.stats``)."""
    if plot not in PLOTS:
        raise ValueError(f"Unknown plot '{plot}': use one of {', '.join(PLOTS)}.")
    if fmt not in PLOT_FORMATS:
        raise ValueError(f"Unknown image format '{fmt}': use png, svg or pdf.")
    document = leaderboards.study_leaderboard(study=study, method=method, resample=resample, include_flagged=include_flagged)
    provenance = document["provenance"]
    if plot in VERSUS_PLOTS and not document.get("versus_settings"):
        raise ValueError(f"The {plot} plot is drawn for a study with a reference model (the teacher, or the production model); this study has none.")
    if plot in DOCUMENT_PLOTS:
        # Drawn from the cached document alone: kept as long as it is (the results page shows two
        # of them on every view, and matplotlib takes most of a second for each).
        # Hashed: the criterion, the model and the study's name are anyone's text (spaces, colons).
        variant = json.dumps([plot, fmt, method, criterion, model, resample, include_flagged, provenance["computed_at"], study.name])
        key = f"ratings:plot:{study.pk}:{hashlib.sha256(variant.encode()).hexdigest()}"
        drawn = cache.get(key)
        if drawn is None:
            drawn = _plot_export(study=study, plot=plot, fmt=fmt, criterion=criterion, model=model, document=document)
            cache.set(key, drawn, timeout=PLOT_CACHE_SECONDS)
        return drawn
    return _plot_export(study=study, plot=plot, fmt=fmt, criterion=criterion, model=model, document=document)


def _plot_export(*, study: Study, plot: str, fmt: str, criterion: str, model: str | None, document: dict) -> tuple[bytes, str, str]:
    figure = plot_figure(study=study, plot=plot, criterion=criterion, model=model, document=document)
    return figure_bytes(figure, fmt), PLOT_FORMATS[fmt], f"study-{study.pk}-{plot}.{fmt}"


def plot_figure(*, study: Study, plot: str, document: dict, criterion: str = "mean", model: str | None = None):
    """The matplotlib figure of one plot from a leaderboard document (the report draws the same
    figures into its HTML and PDF)."""
    plt = pyplot()
    provenance = document["provenance"]
    caption = (
        f"{document['method']}, {provenance['votes']} votes, {provenance['raters']} raters, seed {provenance['seed']}, "
        f"resampling {provenance['resample']}; code {provenance['code_version']}"
    )
    specs = list(study.job.specs.all())
    colours = model_colours([model_label(spec) for spec in specs])
    if plot == "forest":
        figure = _forest(plt, document, colours)
        figure.suptitle(plain(f"{study.name}: rating and {document['interval']}, per criterion"), fontsize=10)
        figure.supxlabel(plain(caption), fontsize=7)
        return figure
    if plot in VERSUS_PLOTS:
        figure = (versus_bars if plot == "versus-bars" else versus_table)(plt, document, colours)
        figure.supxlabel(plain(caption), fontsize=7)
        return figure
    criteria = [criterion] if criterion in document["criteria"] or criterion == "mean" else document["criteria"][:1]
    rows = [row for row in document["models"] if row["criterion"] == criteria[0]]
    if not rows and criteria[0] == "mean" and document["criteria"]:
        criteria = document["criteria"][:1]
        rows = [row for row in document["models"] if row["criterion"] == criteria[0]]
    # "mean" is named by what it averages (the pair criteria), never a bare "mean".
    shown = criteria[0] if criteria[0] != "mean" else mean_description(document.get("mean_of") or [])
    n_models = max(len(specs), 1)
    longest = max([len(model_label(spec)) for spec in specs] + [8])
    height = max(3.2, 0.45 * n_models + 1.8)
    width = 6.5 + 0.07 * longest
    if plot == "heatmap":  # square cells large enough to read their numbers
        height = max(4.0, 0.6 * n_models + 1.6 + 0.06 * longest)
        width = height + 1.4 + 0.07 * longest
    figure, axes = plt.subplots(figsize=(width, height), layout="constrained")
    if plot == "ratings":
        _ratings(axes, rows, colours, f"rating ({shown}), {document['interval']}")
    elif plot == "speed":
        _speed(axes, rows, {model_label(spec): spec_speed(spec) for spec in specs}, colours, shown)
    elif plot == "diversity":
        _diversity(axes, rows, document, colours, shown)
    elif plot == "heatmap":
        _heatmap(figure, axes, *_win_rate_matrix(document, criteria[0]))
    else:
        _win_bars(axes, *_win_rate_matrix(document, criteria[0]), model, colours, shown)
    if plot in ("ratings", "speed", "diversity") and rows:
        axes.ticklabel_format(axis="x" if plot == "ratings" else "y", useOffset=False, style="plain")
    titles = {"heatmap": f"win rate, {shown}", "ratings": f"ratings, {shown}"}
    axes.set_title(plain(f"{study.name}: {titles.get(plot, plot)}"), fontsize=10, wrap=True)
    figure.supxlabel(plain(caption), fontsize=7)
    return figure


def _ratings(axes, rows: list[dict], colours: dict, label: str) -> None:
    """One criterion's ratings with their intervals, best on top."""
    rows = sorted(rows, key=lambda row: row["rating"])
    for k, row in enumerate(rows):
        below, above = _errors(row)
        axes.errorbar([row["rating"]], [k], xerr=[[below], [above]], fmt="o", capsize=4, color=colours.get(row["model"]))
    axes.set_yticks(np.arange(len(rows)), [plain(row["model"]) for row in rows])
    axes.set_ylim(-0.6, max(len(rows) - 0.4, 0.6))
    axes.set_xlabel(plain(label))
    axes.margins(x=0.1)


def _diversity(axes, rows: list[dict], document: dict, colours: dict, shown: str) -> None:
    """Rating against diversity across seeds (the embedding measure where computed, else pixels)."""
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
        axes.annotate(plain(row["model"]), (across["mean"], row["rating"]), textcoords="offset points", xytext=(6, 4), fontsize=8, color=colour)
        plotted += 1
    if plotted:
        axes.margins(x=0.25, y=0.15)
    else:
        axes.text(0.5, 0.5, "diversity across seeds not computed yet (Compute diversity on the results page)", ha="center", va="center", transform=axes.transAxes)
    axes.set_xlabel(plain(f"diversity across seeds ({measure}: {'Vendi score of CLIP embeddings' if measure == 'embedding' else '1 - mean pairwise MS-SSIM'}), mean over prompts"))
    axes.set_ylabel(plain(f"rating ({shown})"))


def _heatmap(figure, axes, names: list[str], matrix: np.ndarray) -> None:
    """The win-rate matrix, row over column, each cell's rate written in it."""
    image = axes.imshow(matrix, vmin=0, vmax=1, cmap="RdBu")
    axes.set_xticks(range(len(names)), [plain(n) for n in names], rotation=45, ha="right")
    axes.set_yticks(range(len(names)), [plain(n) for n in names])
    for (i, j), value in np.ndenumerate(matrix):
        if np.isfinite(value):
            axes.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=8, color="white" if abs(value - 0.5) > 0.3 else "black")
    axes.set_ylabel("row model")
    axes.set_xlabel("column model")
    figure.colorbar(image, ax=axes, label="win rate of row over column", shrink=0.8)


def _win_bars(axes, names: list[str], matrix: np.ndarray, model: str | None, colours: dict, shown: str) -> None:
    """ADD's win bars: ``model``'s (else the first model's) win percentage against each other model."""
    focus = names.index(model) if model in names else 0
    others = [j for j in range(len(names)) if j != focus]
    percentages = [100 * matrix[focus, j] if np.isfinite(matrix[focus, j]) else 0 for j in others]
    axes.barh([plain(names[j]) for j in others], percentages, color=[colours.get(names[j]) for j in others])
    axes.axvline(50, color="grey", linestyle="--", linewidth=1)
    axes.set_xlim(0, 100)
    axes.set_xlabel(plain(f"% of votes preferring {names[focus] if names else '-'} ({shown})"))


def pareto_front(points: dict[str, tuple[float, float]]) -> list[str]:
    """The models no other model beats on both speed and rating: (seconds, rating) per model;
    a model is dominated by one at most as slow and at least as well rated, better on one."""
    front = [
        name for name, (seconds, rating) in points.items()
        if not any(
            other != name and s <= seconds and r >= rating and (s < seconds or r > rating)
            for other, (s, r) in points.items()
        )
    ]
    return sorted(front, key=lambda name: points[name][0])


def _speed(axes, rows: list[dict], speeds: dict, colours: dict, shown: str) -> None:
    """ADD's speed plot: rating (with its interval) against seconds per image (with the spread
    of the timed runs where measured), log scale, the Pareto front joined and ringed, the device
    named on the axis (CPU said plainly: CPU timings rank models, they are not GPU speeds)."""
    points, devices = {}, set()
    for row in rows:
        speed = speeds.get(row["model"])
        if speed is None or row["rating"] is None:
            continue
        below, above = _errors(row)
        colour = colours.get(row["model"])
        xerr = None
        if speed["low"] is not None and speed["high"] is not None:
            xerr = [[max(0.0, speed["seconds"] - speed["low"])], [max(0.0, speed["high"] - speed["seconds"])]]
        axes.errorbar([speed["seconds"]], [row["rating"]], xerr=xerr, yerr=[[below], [above]], fmt="o", capsize=4, color=colour)
        axes.annotate(plain(row["model"]), (speed["seconds"], row["rating"]), textcoords="offset points", xytext=(6, 4), fontsize=8, color=colour)
        points[row["model"]] = (speed["seconds"], row["rating"])
        devices.add(speed["device"])
    if points:
        front = pareto_front(points)
        axes.step([points[name][0] for name in front], [points[name][1] for name in front], where="post", color="#555555",
                  linestyle=":", linewidth=1.2, label="Pareto front (no model both faster and better rated)")
        axes.scatter([points[name][0] for name in front], [points[name][1] for name in front], s=160, facecolors="none",
                     edgecolors="#333333", linewidths=1.2)
        axes.legend(loc="lower right", fontsize=7, frameon=False)
        axes.set_xscale("log")
        axes.margins(x=0.35, y=0.15)
    else:
        axes.text(0.5, 0.5, "no model's speed measured yet (manage.py measure_speed)", ha="center", va="center", transform=axes.transAxes)
    device = "; ".join(sorted(devices)) or "not measured"
    cpu = any(speed and speed["cpu"] for speed in speeds.values())
    axes.set_xlabel(plain(f"seconds per image, log scale (timed on {device}{': CPU timings, far slower than a GPU' if cpu else ''})"))
    note = cpu_timing_note(devices) if cpu else ""
    if note:
        axes.text(0.01, 0.99, plain(note), ha="left", va="top", fontsize=8, color="#a33", transform=axes.transAxes)
    axes.set_ylabel(plain(textwrap.fill(f"rating ({shown})", 40)))
