"""Exports of a study: the leaderboard (CSV, JSON, Markdown, a LaTeX table like the papers') and
all votes in the Chatbot Arena CSV format with pseudonymized raters (plots are in ``plots``).
Every export carries how it was made (method, rounds, seed, exclusions, counts, code version)."""

from __future__ import annotations

import csv
import io
import json

from django.utils import timezone

from generation.selectors import spec_seconds_per_image

from ..models import Study
from . import leaderboards
from .votes import model_label, rater_pseudonym, study_votes

LEADERBOARD_FORMATS = {"json": "application/json", "csv": "text/csv", "md": "text/markdown", "latex": "application/x-latex"}
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
            extra[model_label(spec)] = {"steps": spec.steps, "s/img": f"{speed[0]:.3f}" if speed else "--"}
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
                rater_pseudonym(int(votes.rater_ids[i])),
                f"{votes.tstamps[i].timestamp():.3f}",
                csv_safe(category_names[category_codes[i]]),
                csv_safe(challenge_names[challenge_codes[i]]),
                "no" if votes.flagged[i] else "yes",
                "flagged" if votes.flagged[i] else "counted",
            ]
        )
    return out.getvalue().encode()
