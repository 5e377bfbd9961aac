"""Exports of a study: the leaderboard (CSV, JSON, Markdown, a LaTeX table like the papers') and
all votes in the Chatbot Arena CSV format with pseudonymized raters (plots are in ``plots``).
Every export carries how it was made (method, rounds, seed, exclusions, counts, code version)."""

from __future__ import annotations

import io
import json

from django.utils import timezone

from generation.selectors import spec_seconds_per_image
from ratings.stats import render, render_latex
from ratings.stats.formats import csv_writer, latex_escape, markdown_escape, mean_description, render_latex_pairs, render_latex_versus

from ..models import Study
from ..screening import hidden_per_model
from . import leaderboards
from .plots import cpu_timing_note
from .votes import model_label, rater_pseudonym, study_votes

LEADERBOARD_FORMATS = {"json": "application/json", "csv": "text/csv", "md": "text/markdown", "latex": "application/x-latex"}
ARENA_WINNER = {"a": "model_a", "b": "model_b", "tie": "tie"}


def _number(value, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _consistency_text(name: str, cell: dict) -> str:
    return f"{name} {_number(cell['share'])} of {cell['repeats']} (alpha {_number(cell['alpha'])})"


def _mean_line(document: dict, study: Study) -> list[str]:
    """What the combined rating averages, and which criteria are rated on their own beside it."""
    if not document.get("mean_of"):
        return []
    apart = [name for name in study.set_criteria or [] if name in document["criteria"]]
    line = f'combined rating "mean": the {mean_description(document["mean_of"])}'
    if apart:
        line += f"; set criteria rated on their own, not in the mean: {', '.join(apart)}"
    return [line]


def _hidden_line(hidden_images: list[dict]) -> str:
    hidden = [row for row in hidden_images if row["hidden"]]
    counts = ", ".join(f"{row['model']} {row['hidden']} of {row['images']}" for row in hidden) or "none"
    return f"images hidden in screening (never served to raters), per model: {counts}"


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
        *_at_stop_lines(document.get("at_stop")),
        *(
            f"weights of {model}: " + ", ".join(f"{w['role']} {w['repo']}@{w['commit'] or w['revision']}" for w in weights)
            for model, weights in (p.get("weights") or {}).items()
        ),
    ]


def _design_lines(design: dict | None) -> list[str]:
    if not design:
        return []
    line = f"pairs chosen by {design['sampling']} sampling; stops on {design['stop_when']}"
    words = [design[key] for key in ("unit_text", "stopping_rule") if design.get(key)]
    if design.get("vote_budget"):
        line += f" (budget {design['vote_budget']} comparisons)"
    if design.get("stop_reason"):
        line += f"; stopped: {design['stop_reason']}"
    return [line, *words, *([f"caution: {design['note']}"] if design.get("note") else [])]


def _at_stop_lines(at_stop: dict | None) -> list[str]:
    """The gaps at a rule's stop: fitted, bias-adjusted, anytime-valid interval."""
    if not at_stop:
        return []

    def pair(row) -> str:
        adjusted = "not adjusted" if row["gap_adjusted"] is None else f"adjusted {row['gap_adjusted']:+.1f}"
        low, high = row["interval"]
        return (f"{row['upper']} over {row['lower']} {row['gap']:+.1f} ({adjusted}, interval {low:+.1f} to {high:+.1f}"
                f"{', separated' if row['separated'] else ''})")

    return [at_stop["text"], *(f"at the stop, {criterion}: " + "; ".join(pair(row) for row in rows)
                               for criterion, rows in at_stop["criteria"].items())]


def _comment_safe(line: str, fmt: str) -> str:
    """A provenance line that cannot end its comment early (Markdown's -->) or start a new line."""
    line = " ".join(str(line).splitlines())
    return line.replace("--", "- -") if fmt == "md" else line


def leaderboard_export(
    *, study: Study, method: str = "bt", fmt: str = "json", rounds: int = 1000, seed: int = 0,
    include_flagged: bool = False, resample: str | None = None, by: str | None = None,
) -> tuple[bytes, str, str]:
    """(content, content type, file name) of the study's leaderboard in ``fmt``: the rows, the
    pairwise significance table, and with ``by`` the rows per category, under the provenance
    (which says what "mean" averages); and per model the images made and those hidden in
    screening (JSON ``hidden_images``, as the API has it; a CSV section and a Markdown table;
    LaTeX columns "images" and "hidden")."""
    if fmt not in LEADERBOARD_FORMATS:
        raise ValueError(f"Unknown format '{fmt}': use one of {', '.join(LEADERBOARD_FORMATS)}.")
    document = leaderboards.study_leaderboard(
        study=study, method=method, rounds=rounds, seed=seed, include_flagged=include_flagged, resample=resample, by=by
    )
    # Read now, not cached with the ratings: hiding an image does not change the votes.
    hidden_images = hidden_per_model(study=study)
    filename = f"study-{study.pk}-leaderboard-{method}.{ {'latex': 'tex'}.get(fmt, fmt) }"
    if fmt == "json":
        return json.dumps({**document, "hidden_images": hidden_images}, indent=2).encode(), LEADERBOARD_FORMATS[fmt], filename
    comment = {"csv": "# ", "md": "<!-- ", "latex": "% "}[fmt]
    close = " -->" if fmt == "md" else ""
    lines = [*_provenance_lines(document), *_mean_line(document, study), _hidden_line(hidden_images)]
    header = "".join(f"{comment}{_comment_safe(line, fmt)}{close}\n" for line in lines)
    automated = document.get("automated") or {}
    if fmt == "latex":
        extra = {}
        hidden = {row["model"]: row for row in hidden_images}
        devices = set()
        for spec in study.job.specs.all():
            speed = spec_seconds_per_image(spec)
            devices |= {speed[1]} if speed else set()
            label = model_label(spec)
            extra[label] = {"steps": spec.steps, "s/img": f"{speed[0]:.3f}" if speed else "--"}
            if label in hidden:
                extra[label].update(images=hidden[label]["images"], hidden=hidden[label]["hidden"])
        for name, rows in _automated_columns(automated).items():
            for row in rows:
                extra.setdefault(row["model"], {})[name] = _latex_value(row)
        if document["models"]:
            body = (render_latex(document["models"], extra_columns=extra) + render_latex_pairs(document.get("pairs") or [])
                    + render_latex_versus(document))
        else:
            body = _latex_metric_only(extra)
        body += _latex_agreement(automated.get("agreement") or [])
        note = cpu_timing_note(devices)
        if note:
            body = f"% s/img: {note}.\n" + body
    else:
        body = render(document, fmt)
        if fmt == "csv":
            body += _csv_hidden(hidden_images) + _csv_automated(automated)
        elif fmt == "md":
            body += _markdown_hidden(hidden_images) + _markdown_automated(automated)
    return (header + body).encode(), LEADERBOARD_FORMATS[fmt], filename


HIDDEN_NOTE = "images per model: made for the study, and hidden in screening (never served to raters)"


def _csv_hidden(hidden_images: list[dict]) -> str:
    out = io.StringIO()
    out.write(f"# {HIDDEN_NOTE}\n")
    writer = csv_writer(out)
    writer.writerow(["model", "images", "hidden"])
    for row in hidden_images:
        writer.writerow([row["model"], row["images"], row["hidden"]])
    return out.getvalue()


def _markdown_hidden(hidden_images: list[dict]) -> str:
    lines = ["", f"{HIDDEN_NOTE[0].upper()}{HIDDEN_NOTE[1:]}.", "", "| model | images | hidden |", "| --- | ---: | ---: |"]
    lines += [f"| {markdown_escape(row['model'])} | {row['images']} | {row['hidden']} |" for row in hidden_images]
    return "\n".join(lines) + "\n"


AGREEMENT_FIELDS = ["metric", "criterion", "accuracy", "ci_low", "ci_high", "votes", "metric_ties", "spearman", "spearman_p", "kendall", "kendall_p", "models"]


def _automated_columns(automated: dict) -> dict[str, list[dict]]:
    """{column name: per-model rows (model, mean, ci_low, ci_high, prompts)}: each metric, then each
    diversity measure."""
    columns = {table["label"]: table["models"] for table in automated.get("metrics") or []}
    for measure, part in ((automated.get("diversity") or {}).get("measures") or {}).items():
        columns[f"diversity ({measure})"] = part["models"]
    return columns


def _automated_notes(automated: dict) -> list[str]:
    return [*(automated.get("notes") or []), *((automated.get("diversity") or {}).get("notes") or [])]


def _csv_automated(automated: dict) -> str:
    if not automated:
        return ""
    out = io.StringIO()
    writer = csv_writer(out)
    for note in _automated_notes(automated):
        out.write(f"# note: {_comment_safe(note, 'csv')}\n")
    columns = _automated_columns(automated)
    if columns:
        out.write("# automated metrics and diversity across seeds per model: mean over prompts with a 95% bootstrap interval over prompts\n")
        writer.writerow(["measure", "model", "mean", "ci_low", "ci_high", "prompts"])
        for name, rows in columns.items():
            for row in rows:
                writer.writerow([name, row["model"], row["mean"], row["ci_low"], row["ci_high"], row["prompts"]])
    if automated.get("agreement"):
        out.write(f"# agreement with the raters: {automated['agreement_description']}\n")
        writer.writerow(AGREEMENT_FIELDS)
        for row in automated["agreement"]:
            writer.writerow([row[k] for k in AGREEMENT_FIELDS])
    return out.getvalue()


def _interval(row: dict) -> str:
    return f"[{_number(row['ci_low'])}, {_number(row['ci_high'])}]"


def _markdown_automated(automated: dict) -> str:
    if not automated:
        return ""
    lines = [""]
    lines += [f"_{markdown_escape(note)}_" for note in _automated_notes(automated)]
    columns = _automated_columns(automated)
    if columns:
        lines += ["", "Automated metrics and diversity across seeds: per model, mean over prompts with a 95% bootstrap interval over prompts.", "",
                  "| measure | model | mean | interval | prompts |", "| --- | --- | ---: | --- | ---: |"]
        for name, rows in columns.items():
            lines += [f"| {markdown_escape(name)} | {markdown_escape(row['model'])} | {_number(row['mean'])} | {_interval(row)} | {row['prompts']} |" for row in rows]
    if automated.get("agreement"):
        lines += ["", f"Agreement with the raters: {markdown_escape(automated['agreement_description'])}.", "",
                  "| metric | criterion | accuracy | interval | votes | Spearman | Kendall | models |", "| --- | --- | ---: | --- | ---: | ---: | ---: | ---: |"]
        lines += [
            f"| {markdown_escape(row['metric'])} | {markdown_escape(row['criterion'])} | {_number(row['accuracy'])} | {_interval(row)} | {row['votes']} "
            f"| {_number(row['spearman'])} | {_number(row['kendall'])} | {row['models']} |"
            for row in automated["agreement"]
        ]
    return "\n".join(lines) + "\n"


def _latex_value(row: dict) -> str:
    if row["mean"] is None:
        return "--"
    if row["ci_low"] is None or row["ci_high"] is None:
        return f"{row['mean']:.3f}"
    return f"{row['mean']:.3f} [{row['ci_low']:.3f}, {row['ci_high']:.3f}]"


def _latex_text(text) -> str:
    return latex_escape(str(text))


def _latex_metric_only(extra: dict[str, dict]) -> str:
    """The metric-only table of a study without votes: one line per model, a column per measure."""
    names = list(dict.fromkeys(name for values in extra.values() for name in values))
    lines = [
        "% metric-only leaderboard (no votes yet): mean over prompts [95% bootstrap interval over prompts]",
        f"\\begin{{tabular}}{{l{'c' * len(names)}}}", "\\toprule",
        " & ".join(["model", *map(_latex_text, names)]) + " \\\\", "\\midrule",
    ]
    for model, values in extra.items():
        lines.append(" & ".join([_latex_text(model), *(_latex_text(values.get(name, "--")) for name in names)]) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}", ""]
    return "\n".join(lines)


def _latex_agreement(agreement: list[dict]) -> str:
    if not agreement:
        return ""
    lines = [
        "% agreement with the raters: pairwise accuracy on decisive votes [95% bootstrap interval over prompts]; rank correlation of model means with the ratings",
        "\\begin{tabular}{llccc}", "\\toprule", "metric & criterion & accuracy & Spearman $\\rho$ & Kendall $\\tau$ \\\\", "\\midrule",
    ]
    for row in agreement:
        lines.append(
            f"{_latex_text(row['metric'])} & {_latex_text(row['criterion'])} & {_latex_text(_number(row['accuracy']) + ' ' + _interval(row))} "
            f"& {_number(row['spearman'])} & {_number(row['kendall'])} \\\\"
        )
    lines += ["\\bottomrule", "\\end{tabular}", ""]
    return "\n".join(lines)


VOTE_COLUMNS = ["model_a", "model_b", "winner", "criterion", "prompt_id", "rater_id", "tstamp", "category", "challenge", "counted", "rater_status"]


def votes_csv(*, study: Study, include_flagged: bool = True) -> bytes:
    """Every vote in the Chatbot Arena CSV format (``model_a``, ``model_b``, ``winner``,
    ``criterion``, ``prompt_id``, ``rater_id``, ``tstamp``, plus the prompt's ``category`` and
    ``challenge``, ``counted`` yes/no and ``rater_status`` counted/flagged), models by slug as in
    the leaderboards, raters pseudonymized, under ``#`` provenance lines. Votes of raters flagged
    in this study are included (counted = no) by default: the file is the raw record, and
    ``manage.py leaderboard --votes`` on it leaves them out as the leaderboard does. Votes that
    never count (excluded by staff, withdrawn raters, attention checks, repeats) are not here."""
    votes = study_votes(study=study, include_flagged=include_flagged)
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
    out.write(f"# unit {study.unit}: {leaderboards.unit_text(study=study)}\n")
    rule = leaderboards.stopping_rule_text(study=study)
    out.write(f"# rule: {rule}{f' Stopped: {study.stop_reason}' if study.stop_reason else ''}\n")
    writer = csv_writer(out)
    writer.writerow(VOTE_COLUMNS)
    outcome_to_winner = {1.0: "model_a", 0.0: "model_b", 0.5: "tie"}
    category_codes, category_names = votes.categories["category"]
    challenge_codes, challenge_names = votes.categories["challenge"]
    for i in range(arrays.n_votes):
        writer.writerow(
            [
                arrays.model_names[arrays.model_a[i]],
                arrays.model_names[arrays.model_b[i]],
                outcome_to_winner[float(arrays.outcome[i])],
                arrays.criterion_names[arrays.criterion[i]],
                int(votes.prompt_ids[i]),
                rater_pseudonym(int(votes.rater_ids[i])),
                f"{votes.tstamps[i].timestamp():.3f}",
                category_names[category_codes[i]],
                challenge_names[challenge_codes[i]],
                "no" if votes.flagged[i] else "yes",
                "flagged" if votes.flagged[i] else "counted",
            ]
        )
    return out.getvalue().encode()
