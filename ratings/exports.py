"""Exports of a study: the leaderboard (CSV, JSON, Markdown, a LaTeX table like the papers'),
all votes in the Chatbot Arena CSV format with pseudonymized raters, and plots (PNG or SVG).
Every export carries how it was made (method, rounds, seed, exclusions, counts, code version)."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
from django.utils import timezone

from generation.selectors import spec_seconds_per_image

from . import leaderboards
from .models import Study

LEADERBOARD_FORMATS = {"json": "application/json", "csv": "text/csv", "md": "text/markdown", "latex": "application/x-latex"}
PLOT_FORMATS = {"png": "image/png", "svg": "image/svg+xml"}
PLOTS = ("ratings", "heatmap", "win-bars", "speed")
ARENA_WINNER = {"a": "model_a", "b": "model_b", "tie": "tie"}


def _number(value, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _consistency_text(name: str, cell: dict) -> str:
    return f"{name} {_number(cell['share'])} of {cell['repeats']} (alpha {_number(cell['alpha'])})"


def _provenance_lines(document: dict) -> list[str]:
    p = document["provenance"]
    excluded = "; ".join(f"{row['rater']} ({row['reason']})" for row in p["excluded_raters"]) or "none"
    consistency = p.get("self_consistency") or {}
    return [
        f"study {p['study']}; method {p['method']}; rounds {p['rounds']}; seed {p['seed']}",
        f"interval: {document.get('interval', '')}; resampling unit: {p['resample']}, about {p['population']}",
        f"votes {p['votes']} in {p['comparisons']} comparisons by {p['raters']} raters; excluded raters: {excluded}",
        *([f"left out: {p['left_out']['note']}"] if p.get("left_out", {}).get("note") else []),
        "rater agreement (Krippendorff's alpha): "
        + ", ".join(f"{name} {'n/a' if alpha is None else f'{alpha:.3f}'}" for name, alpha in p["rater_agreement"].items()),
        "self-consistency on deliberate repeats (share answered the same way; Krippendorff's alpha): "
        + (", ".join(_consistency_text(name, cell) for name, cell in consistency.items()) or "no repeats"),
        f"attention-check failures: {p['attention_check_failures'] if p['attention_check_failures'] is not None else 'not recorded'}; "
        f"code {p['code_version']}; computed {p['computed_at']}",
        *(f"warning: {warning}" for warning in document.get("warnings", [])),
        *_design_lines(p.get("design")),
        *(
            f"weights of {model}: " + ", ".join(f"{w['role']} {w['repo']}@{w['commit'] or w['revision']}" for w in weights)
            for model, weights in (p.get("weights") or {}).items()
        ),
    ]


def _design_lines(design: dict | None) -> list[str]:
    if not design:
        return []
    line = f"pairs chosen by {design['sampling']} sampling; stops on {design['stop_when']}"
    if design.get("vote_budget"):
        line += f" (budget {design['vote_budget']} comparisons)"
    if design.get("stop_reason"):
        line += f"; stopped: {design['stop_reason']}"
    return [line, *([f"caution: {design['note']}"] if design.get("note") else [])]


def _comment_safe(line: str, fmt: str) -> str:
    """A provenance line that cannot end its comment early (Markdown's -->) or start a new line."""
    line = " ".join(str(line).splitlines())
    return line.replace("--", "- -") if fmt == "md" else line


def leaderboard_export(
    *, study: Study, method: str = "bt", fmt: str = "json", rounds: int = 1000, seed: int = 0,
    include_flagged: bool = False, resample: str = "comparison", by: str | None = None,
) -> tuple[bytes, str, str]:
    """(content, content type, file name) of the study's leaderboard in ``fmt``: the rows, the
    pairwise significance table, and with ``by`` the rows per category, under the provenance."""
    from ratings.stats import render, render_latex
    from ratings.stats.formats import render_latex_pairs

    if fmt not in LEADERBOARD_FORMATS:
        raise ValueError(f"Unknown format '{fmt}': use one of {', '.join(LEADERBOARD_FORMATS)}.")
    document = leaderboards.study_leaderboard(
        study=study, method=method, rounds=rounds, seed=seed, include_flagged=include_flagged, resample=resample, by=by
    )
    filename = f"study-{study.pk}-leaderboard-{method}.{ {'latex': 'tex'}.get(fmt, fmt) }"
    if fmt == "json":
        return json.dumps(document, indent=2).encode(), LEADERBOARD_FORMATS[fmt], filename
    comment = {"csv": "# ", "md": "<!-- ", "latex": "% "}[fmt]
    close = " -->" if fmt == "md" else ""
    header = "".join(f"{comment}{_comment_safe(line, fmt)}{close}\n" for line in _provenance_lines(document))
    if fmt == "latex":
        extra = {}
        for spec in study.job.specs.all():
            speed = spec_seconds_per_image(spec)
            extra[leaderboards.model_label(spec)] = {"steps": spec.steps, "s/img": f"{speed[0]:.3f}" if speed else "--"}
        body = render_latex(document["models"], extra_columns=extra) + render_latex_pairs(document.get("pairs") or [])
    else:
        body = render(document, fmt)
    return (header + body).encode(), LEADERBOARD_FORMATS[fmt], filename


VOTE_COLUMNS = ["model_a", "model_b", "winner", "criterion", "prompt_id", "rater_id", "tstamp", "category", "challenge", "counted", "rater_status"]


def votes_csv(*, study: Study, include_flagged: bool = True) -> bytes:
    """Every vote in the Chatbot Arena CSV format (``model_a``, ``model_b``, ``winner``,
    ``criterion``, ``prompt_id``, ``rater_id``, ``tstamp``, plus the prompt's ``category`` and
    ``challenge``, ``counted`` yes/no and ``rater_status`` counted/flagged), models by slug as in
    the leaderboards, raters pseudonymized, under ``#`` provenance lines. Votes of raters flagged
    in this study are included (counted = no) by default: the file is the raw record, and
    ``manage.py leaderboard --votes`` on it leaves them out as the leaderboard does. Votes that
    never count (excluded by staff, withdrawn raters, attention checks, repeats) are not here."""
    from ratings.stats.formats import csv_safe

    votes = leaderboards.study_votes(study=study, include_flagged=include_flagged)
    arrays = votes.arrays
    flagged = int(votes.flagged.sum())
    out = io.StringIO()
    out.write(f"# study {study.pk}: votes exported {timezone.now().isoformat()} by evalsite {leaderboards.code_version()}\n")
    out.write(f"# {arrays.n_votes} votes by {votes.n_raters} raters; models named by slug; raters pseudonymized (HMAC of the id)\n")
    out.write(
        f"# counted: whether the study's leaderboard counts the vote; {flagged} votes are of raters flagged in this study "
        f"(rater_status flagged, counted no){'' if include_flagged else ' and are left out of this file'}\n"
    )
    out.write("# left out of this file: votes excluded by staff, of withdrawn raters, on attention checks and deliberate repeats\n")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(VOTE_COLUMNS)
    outcome_to_winner = {1.0: "model_a", 0.0: "model_b", 0.5: "tie"}
    category_codes, category_names = votes.categories["category"]
    challenge_codes, challenge_names = votes.categories["challenge"]
    for i in range(arrays.n_votes):
        writer.writerow(
            [
                csv_safe(arrays.model_names[arrays.model_a[i]]),
                csv_safe(arrays.model_names[arrays.model_b[i]]),
                outcome_to_winner[float(arrays.outcome[i])],
                csv_safe(arrays.criterion_names[arrays.criterion[i]]),
                int(votes.prompt_ids[i]),
                leaderboards.rater_pseudonym(int(votes.rater_ids[i])),
                f"{votes.tstamps[i].timestamp():.3f}",
                csv_safe(category_names[category_codes[i]]),
                csv_safe(challenge_names[challenge_codes[i]]),
                "no" if votes.flagged[i] else "yes",
                "flagged" if votes.flagged[i] else "counted",
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


def _pair_matrix(document: dict, criterion: str) -> tuple[list[str], np.ndarray]:
    """The win-rate matrix of one criterion (or "mean") from the document's pairs table."""
    names = sorted({row["model"] for row in document["models"]} | {p[k] for p in document.get("pairs", []) for k in ("model_a", "model_b")})
    index = {name: i for i, name in enumerate(names)}
    matrix = np.full((len(names), len(names)), np.nan)
    for pair in document.get("pairs", []):
        if pair["criterion"] != criterion or pair["win_rate"] is None:
            continue
        i, j = index[pair["model_a"]], index[pair["model_b"]]
        matrix[i, j], matrix[j, i] = pair["win_rate"], 1.0 - pair["win_rate"]
    return names, matrix


def plot_export(
    *, study: Study, plot: str, fmt: str = "svg", method: str = "bt", criterion: str = "mean", model: str | None = None,
    resample: str = "comparison", include_flagged: bool = False,
) -> tuple[bytes, str, str]:
    """(content, content type, file name) of one plot: ``ratings`` (ratings with interval bars),
    ``heatmap`` (win-rate matrix), ``win-bars`` (ADD-style: one model's win percentage against
    each other model), ``speed`` (rating against seconds per image, ADD's Fig. 7). Every number
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
    colours = model_colours([leaderboards.model_label(spec) for spec in specs])
    criteria = [criterion] if criterion in document["criteria"] or criterion == "mean" else document["criteria"][:1]
    rows = [row for row in document["models"] if row["criterion"] == criteria[0]]
    if not rows and criteria[0] == "mean" and document["criteria"]:
        criteria = document["criteria"][:1]
        rows = [row for row in document["models"] if row["criterion"] == criteria[0]]
    n_models = max(len(specs), 1)
    longest = max([len(leaderboards.model_label(spec)) for spec in specs] + [8])
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
        axes.set_xlabel(_plain(f"rating ({criteria[0]}), {document['interval']}"))
        axes.margins(x=0.1)
    elif plot == "speed":
        speeds = {leaderboards.model_label(spec): spec_seconds_per_image(spec) for spec in specs}
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
        axes.set_ylabel(_plain(f"rating ({criteria[0]})"))
    else:
        names, matrix = _pair_matrix(document, criteria[0])
        if plot == "heatmap":
            image = axes.imshow(matrix, vmin=0, vmax=1, cmap="RdBu")
            axes.set_xticks(range(len(names)), [_plain(n) for n in names], rotation=45, ha="right")
            axes.set_yticks(range(len(names)), [_plain(n) for n in names])
            for (i, j), value in np.ndenumerate(matrix):
                if np.isfinite(value):
                    axes.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=8)
            figure.colorbar(image, ax=axes, label=f"win rate of row over column ({criteria[0]})")
        else:
            focus = names.index(model) if model in names else 0
            others = [j for j in range(len(names)) if j != focus]
            percentages = [100 * matrix[focus, j] if np.isfinite(matrix[focus, j]) else 0 for j in others]
            axes.barh([_plain(names[j]) for j in others], percentages, color=[colours.get(names[j]) for j in others])
            axes.axvline(50, color="grey", linestyle="--", linewidth=1)
            axes.set_xlim(0, 100)
            axes.set_xlabel(_plain(f"% of votes preferring {names[focus] if names else '-'} ({criteria[0]})"))
    if plot in ("ratings", "speed") and rows:
        axes.ticklabel_format(axis="y" if plot == "speed" else "x", useOffset=False, style="plain")
    axes.set_title(_plain(f"{study.name}: {plot}"), fontsize=10)
    figure.supxlabel(_plain(caption), fontsize=7)
    return _figure_bytes(figure, fmt), PLOT_FORMATS[fmt], f"study-{study.pk}-{plot}.{fmt}"
