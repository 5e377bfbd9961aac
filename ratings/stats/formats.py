"""Leaderboard documents rendered as JSON, CSV, Markdown or a LaTeX `tabular`.

A document is what `documents.leaderboard_document` returns and the `leaderboard` command prints as JSON:
{"method", "rounds", "seed", "interval", "criteria", "mean_of", "models": [row, ...]} with the rows
of `leaderboard.leaderboard_rows`. The other formats show the same rows under a line that states
method, rounds, seed and what "mean" averages.
"""

from __future__ import annotations

import csv
import io
import json
import math
from typing import Any, Mapping, Sequence

from .leaderboard import COMBINED, METHOD_NAMES, ROW_FIELDS
from .significance import PAIR_FIELDS
from .versus import ROW_FIELDS as VERSUS_FIELDS

#: Cells a spreadsheet would run as a formula (OWASP's CSV injection list).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

FORMATS = ("json", "csv", "md", "latex")
_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
}


def mean_description(mean_of: Sequence[str]) -> str:
    """'mean of prompt_adherence and image_quality': what the "mean" rows average, in words."""
    names = list(mean_of)
    if not names:
        return "no mean (fewer than two criteria to average)"
    listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
    return f"mean of {listed}"


def describe(document: Mapping[str, Any]) -> str:
    """One line: method, rounds, seed, interval, and what "mean" averages when there is one."""
    method = document["method"]
    unit = "orderings" if method == "elo" else "bootstrap rounds"
    mean = f'; "mean" is the {mean_description(document["mean_of"])}' if document.get("mean_of") else ""
    return (
        f"{METHOD_NAMES.get(method, method)} ({method}), {document['rounds']} {unit}, "
        f"seed {document['seed']}; interval: {document['interval']}{mean}"
    )


def _number(value: float | None, digits: int) -> str:
    return "--" if value is None else f"{value:.{digits}f}"


def _digits(rows: Sequence[Mapping[str, Any]]) -> int:
    """3 decimals for win rates (0 to 1), 1 for Elo-scale ratings."""
    return 3 if all(abs(row["rating"]) <= 1.0 for row in rows) else 1


def render_json(document: Mapping[str, Any]) -> str:
    return json.dumps(document, indent=2, allow_nan=False) + "\n"


def csv_safe(value: Any) -> Any:
    """A text cell a spreadsheet would run as a formula (=, +, -, @, tab, CR first) gets a
    leading apostrophe; numbers pass as they are."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


class _SafeWriter:
    """``csv.writer`` whose every text cell goes through ``csv_safe``."""

    def __init__(self, out):
        self._writer = csv.writer(out, lineterminator="\n")

    def writerow(self, row) -> None:
        self._writer.writerow([csv_safe(value) for value in row])

    def writerows(self, rows) -> None:
        for row in rows:
            self.writerow(row)


class _SafeDictWriter(csv.DictWriter):
    """``csv.DictWriter`` whose every text cell goes through ``csv_safe``."""

    def writerow(self, rowdict):
        return super().writerow({key: csv_safe(value) for key, value in rowdict.items()})

    def writerows(self, rowdicts):
        for row in rowdicts:
            self.writerow(row)


def csv_writer(out, fieldnames: Sequence[str] | None = None):
    """The one CSV writer of every export (leaderboards, votes, participants): a ``csv.writer``
    (rows as lists), or with ``fieldnames`` a ``csv.DictWriter``, on ``out`` with "\n" line
    ends, that neutralises every text cell a spreadsheet would run as a formula (``csv_safe``)."""
    if fieldnames is None:
        return _SafeWriter(out)
    return _SafeDictWriter(out, fieldnames=fieldnames, lineterminator="\n")


def _csv_rows(writer, rows) -> None:
    for row in rows:
        writer.writerow(row)


def render_csv(document: Mapping[str, Any]) -> str:
    """The model rows; then, when the document has them, the pairs (significance) and the rows by
    category, each after a `#` line saying what follows."""
    out = io.StringIO()
    out.write(f"# {describe(document)}\n")
    writer = csv_writer(out, ROW_FIELDS)
    writer.writeheader()
    _csv_rows(writer, document["models"])
    if document.get("pairs"):
        out.write("# pairwise significance: win rate of model_a over model_b (ties half) with its interval; "
                  "exact binomial p on decisive votes; Holm-adjusted over the pairs of each criterion\n")
        writer = csv_writer(out, PAIR_FIELDS)
        writer.writeheader()
        _csv_rows(writer, document["pairs"])
    if document.get("versus_settings"):
        settings = document["versus_settings"]
        out.write(f"# against {settings['reference']} at margin {settings['margin']:g}, alpha {settings['alpha']:g}, "
                  f"unit {settings['unit']}: {settings['decisions']}\n")
        writer = csv.DictWriter(out, fieldnames=VERSUS_FIELDS, lineterminator="\n")
        writer.writeheader()
        _csv_rows(writer, document["versus"])
    if document.get("by_category"):
        out.write("# by prompt category\n")
        writer = csv_writer(out, ("category", *ROW_FIELDS))
        writer.writeheader()
        for category, part in document["by_category"].items():
            _csv_rows(writer, [{"category": category, **row} for row in part["models"]])
    return out.getvalue()


def markdown_escape(text: Any) -> str:
    """Table-cell text with HTML and Markdown's own characters neutralised, except inside code
    spans (`manage.py compute_metrics`): Markdown shows those as they are, backslashes included,
    so only a table's | (GitHub's tables allow \\| inside code) and HTML's <, > and & are escaped there."""
    import html
    import re

    def plain(part: str) -> str:
        escaped = html.escape(part, quote=False)
        for ch in "\\`*_[]|":
            escaped = escaped.replace(ch, "\\" + ch)
        return escaped

    out, position = [], 0
    for span in re.finditer(r"`[^`\n]+`", str(text)):
        # No raw HTML anywhere in the file, code spans included (a model may be named `<script>`).
        out += [plain(str(text)[position:span.start()]), html.escape(span.group(0), quote=False).replace("|", "\\|")]
        position = span.end()
    return "".join([*out, plain(str(text)[position:])])


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
        model = markdown_escape(row["model"])
        interval = f"[{_number(row['ci_low'], digits)}, {_number(row['ci_high'], digits)}]"
        lines.append(
            f"| {markdown_escape(row['criterion'])} | {row['rank']} | {model} | {row['rating']:.{digits}f} "
            f"| {interval} | {row['votes']} |"
        )
    if document.get("pairs"):
        lines += [
            "",
            "Pairwise significance: win rate of A over B (ties half) with its interval, exact binomial p on "
            "decisive votes, Holm-adjusted p over the pairs of each criterion; * marks p_holm < 0.05.",
            "",
            "| criterion | model A | model B | A wins | B wins | ties | win rate of A | interval | p | p (Holm) |",
            "| --- | --- | --- | ---: | ---: | ---: | ---: | --- | ---: | ---: |",
        ]
        for pair in document["pairs"]:
            lines.append(
                f"| {markdown_escape(pair['criterion'])} | {markdown_escape(pair['model_a'])} | {markdown_escape(pair['model_b'])} "
                f"| {pair['wins_a']} | {pair['wins_b']} | {pair['ties']} | {_number(pair['win_rate'], 3)} "
                f"| [{_number(pair['ci_low'], 3)}, {_number(pair['ci_high'], 3)}] | {pair['p_value']:.3g} "
                f"| {pair['p_holm']:.3g}{' *' if pair['significant'] else ''} |"
            )
    if document.get("versus_settings"):
        settings = document["versus_settings"]
        lines += [
            "",
            f"Against {markdown_escape(settings['reference'])} at margin {settings['margin']:g}, alpha {settings['alpha']:g}, "
            f"unit {settings['unit']} ({markdown_escape(settings['interval'])}): {markdown_escape(settings['decisions'])}.",
            "",
            "| model | criterion | win rate | interval | decision | votes |",
            "| --- | --- | ---: | --- | --- | ---: |",
        ]
        for row in document["versus"]:
            lines.append(
                f"| {markdown_escape(row['model'])} | {markdown_escape(row['criterion'])} | {_number(row['win_rate'], 3)} "
                f"| [{_number(row['low'], 3)}, {_number(row['high'], 3)}] | {row['decision']} | {row['votes']} |"
            )
    for category, part in (document.get("by_category") or {}).items():
        lines += ["", f"Category {markdown_escape(category)} ({part['votes']} votes)", ""]
        lines += [f"_Caution: {markdown_escape(w)}_" for w in part["warnings"]]
        lines += ["| criterion | rank | model | rating | interval | votes |", "| --- | ---: | --- | ---: | --- | ---: |"]
        for row in part["models"]:
            lines.append(
                f"| {markdown_escape(row['criterion'])} | {row['rank']} | {markdown_escape(row['model'])} | {row['rating']:.{digits}f} "
                f"| [{_number(row['ci_low'], digits)}, {_number(row['ci_high'], digits)}] | {row['votes']} |"
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


def render_latex_pairs(pairs: Sequence[Mapping[str, Any]]) -> str:
    """The pairwise table as a `tabular`: win rate of A over B with its interval and the
    Holm-adjusted p; a significant pair (p_holm < 0.05) is marked with $^{*}$."""
    if not pairs:
        return ""
    lines = [
        "% pairwise significance: exact binomial test on decisive votes, Holm-adjusted per criterion; * p_holm < 0.05",
        "\\begin{tabular}{lllcr}",
        "\\toprule",
        "criterion & model A & model B & win rate of A & $p_\\mathrm{Holm}$ \\\\",
        "\\midrule",
    ]
    for pair in pairs:
        rate = "--" if pair["win_rate"] is None else f"{pair['win_rate']:.3f}"
        interval = "" if pair["ci_low"] is None else f" [{pair['ci_low']:.3f}, {pair['ci_high']:.3f}]"
        mark = "$^{*}$" if pair["significant"] else ""
        lines.append(
            f"{latex_escape(pair['criterion'])} & {latex_escape(pair['model_a'])} & {latex_escape(pair['model_b'])} "
            f"& {rate}{interval}{mark} & {pair['p_holm']:.3g} \\\\"
        )
    lines += ["\\bottomrule", "\\end{tabular}"]
    return "\n".join(lines) + "\n"


def render_latex_versus(document: Mapping[str, Any]) -> str:
    """The versus table as a `tabular`: win rate against the reference with its interval and the decision."""
    settings = document.get("versus_settings")
    if not settings:
        return ""
    lines = [
        f"% against {settings['reference']} at margin {settings['margin']:g}, alpha {settings['alpha']:g}, unit {settings['unit']}",
        "\\begin{tabular}{llcl}",
        "\\toprule",
        f"model & criterion & win rate vs {latex_escape(settings['reference'])} & decision \\\\",
        "\\midrule",
    ]
    for row in document["versus"]:
        rate = "--" if row["win_rate"] is None else f"{row['win_rate']:.3f}"
        interval = "" if row["low"] is None else f" [{row['low']:.3f}, {row['high']:.3f}]"
        lines.append(f"{latex_escape(row['model'])} & {latex_escape(row['criterion'])} & {rate}{interval} & {row['decision']} \\\\")
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
        return (render_latex(document["models"], header=describe(document)) + render_latex_pairs(document.get("pairs") or [])
                + render_latex_versus(document))
    raise ValueError(f"format must be one of {FORMATS}, got {output_format!r}")
