"""Leaderboard documents rendered as JSON, CSV, Markdown or a LaTeX `tabular`.

A document is what `leaderboard_document` returns and the `leaderboard` command prints as JSON:
{"method", "rounds", "seed", "interval", "criteria", "models": [row, ...]} with the rows of
`leaderboard.leaderboard_rows`. The other formats show the same rows under a line that states
method, rounds and seed.
"""

from __future__ import annotations

import csv
import io
import json
import math
from typing import Any, Mapping, Sequence

from .leaderboard import COMBINED, METHOD_NAMES, ROW_FIELDS, leaderboard_rows
from .ratings import Ratings

FORMATS = ("json", "csv", "md", "latex")
_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
}


def leaderboard_document(ratings: Ratings, rounds: int, seed: int | None) -> dict[str, Any]:
    """The JSON object of the `leaderboard` command."""
    return {
        "method": ratings.method,
        "rounds": rounds,
        "seed": seed,
        "interval": f"{ratings.level:.0%} {ratings.interval_kind}",
        "criteria": list(ratings.criterion_names),
        "models": leaderboard_rows(ratings),
    }


def fit_warnings(ratings: Ratings, rounds: int) -> list[str]:
    """What a reader must know about a Bradley-Terry fit that did not fully exist."""
    warnings = []
    if not ratings.converged:
        warnings.append(
            "the Bradley-Terry maximum likelihood does not exist for these votes (a model won or lost "
            "every comparison linking it to the others); its rating is unbounded"
        )
    if ratings.unconverged_rounds:
        warnings.append(
            f"{ratings.unconverged_rounds} of {rounds} bootstrap rounds have no finite Bradley-Terry "
            "maximum likelihood; the intervals are unreliable"
        )
    return warnings


def describe(document: Mapping[str, Any]) -> str:
    """One line: method, rounds, seed, interval."""
    method = document["method"]
    unit = "orderings" if method == "elo" else "bootstrap rounds"
    return (
        f"{METHOD_NAMES.get(method, method)} ({method}), {document['rounds']} {unit}, "
        f"seed {document['seed']}; interval: {document['interval']}"
    )


def _number(value: float | None, digits: int) -> str:
    return "--" if value is None else f"{value:.{digits}f}"


def _digits(rows: Sequence[Mapping[str, Any]]) -> int:
    """3 decimals for win rates (0 to 1), 1 for Elo-scale ratings."""
    return 3 if all(abs(row["rating"]) <= 1.0 for row in rows) else 1


def render_json(document: Mapping[str, Any]) -> str:
    return json.dumps(document, indent=2, allow_nan=False) + "\n"


def render_csv(document: Mapping[str, Any]) -> str:
    out = io.StringIO()
    out.write(f"# {describe(document)}\n")
    writer = csv.DictWriter(out, fieldnames=ROW_FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(document["models"])
    return out.getvalue()


def render_markdown(document: Mapping[str, Any]) -> str:
    rows = document["models"]
    digits = _digits(rows)
    lines = [
        f"_{describe(document)}_",
        "",
        "| criterion | rank | model | rating | interval | votes |",
        "| --- | ---: | --- | ---: | --- | ---: |",
    ]
    for row in rows:
        model = row["model"].replace("|", "\\|")
        interval = f"[{_number(row['ci_low'], digits)}, {_number(row['ci_high'], digits)}]"
        lines.append(
            f"| {row['criterion']} | {row['rank']} | {model} | {row['rating']:.{digits}f} "
            f"| {interval} | {row['votes']} |"
        )
    return "\n".join(lines) + "\n"


def latex_escape(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in str(text))


def _latex_cell(row: Mapping[str, Any] | None, digits: int) -> str:
    if row is None:
        return "--"
    if row["ci_low"] is None or row["ci_high"] is None:
        return f"${row['rating']:.{digits}f}$"
    plus, minus = row["ci_high"] - row["rating"], row["rating"] - row["ci_low"]
    rating = f"{row['rating']:.{digits}f}"
    if f"{plus:.{digits}f}" == f"{minus:.{digits}f}":
        return f"${rating} \\pm {plus:.{digits}f}$"
    return f"${rating}^{{+{plus:.{digits}f}}}_{{-{minus:.{digits}f}}}$"


def render_latex(
    rows: Sequence[Mapping[str, Any]],
    *,
    extra_columns: Mapping[str, Mapping[str, Any]] | None = None,
    header: str | None = None,
) -> str:
    """A `tabular` as in the distillation papers: one line per model, best first (by the mean
    column when there is one, else by the first criterion), a column per criterion holding
    "rating ± half-interval" (or +upper/-lower when the interval is not symmetric at the shown
    precision) and a "mean" column when the rows have one.

    extra_columns: {model: {column: value}} adds columns after the model name, in the order
    first met, e.g. {"SDXL-Turbo": {"steps": 4, "s/img": 0.21}}; a missing value shows "--".
    header: a comment line on top (`describe(document)` in the command)."""
    criteria = list(dict.fromkeys(row["criterion"] for row in rows))
    if COMBINED in criteria:  # the combined column goes last
        criteria = [c for c in criteria if c != COMBINED] + [COMBINED]
    cell = {(row["model"], row["criterion"]): row for row in rows}
    sort_by = criteria[-1] if criteria else None
    models = list(dict.fromkeys(row["model"] for row in rows))
    models.sort(key=lambda m: -cell[(m, sort_by)]["rating"] if (m, sort_by) in cell else math.inf)
    extra_columns = extra_columns or {}
    extra_names = list(dict.fromkeys(name for values in extra_columns.values() for name in values))
    digits = _digits(rows) if rows else 1
    lines = [f"% {header}"] if header else []
    lines += [
        "\\begin{tabular}{l" + "r" * len(extra_names) + "c" * len(criteria) + "}",
        "\\toprule",
        " & ".join(latex_escape(name) for name in ["model", *extra_names, *criteria]) + " \\\\",
        "\\midrule",
    ]
    for model in models:
        extras = [latex_escape(extra_columns.get(model, {}).get(name, "--")) for name in extra_names]
        ratings = [_latex_cell(cell.get((model, criterion)), digits) for criterion in criteria]
        lines.append(" & ".join([latex_escape(model), *extras, *ratings]) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}"]
    return "\n".join(lines) + "\n"


def render(document: Mapping[str, Any], output_format: str) -> str:
    """The document in one of FORMATS."""
    if output_format == "json":
        return render_json(document)
    if output_format == "csv":
        return render_csv(document)
    if output_format == "md":
        return render_markdown(document)
    if output_format == "latex":
        return render_latex(document["models"], header=describe(document))
    raise ValueError(f"format must be one of {FORMATS}, got {output_format!r}")
