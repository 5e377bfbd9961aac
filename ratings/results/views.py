"""Results pages for a study's owner and staff: the leaderboard, its exports and plots."""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.exceptions import BadRequest, PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from generation.metrics import METRICS
from generation.selectors import job_progress
from ratings.stats import pair_matrix
from ratings.stats.formats import mean_description
from ratings.stats.leaderboard import METHOD_NAMES, METHODS

from .. import payments
from ..models import CRITERION_QUESTIONS, Study
from ..pilots import study_role
from ..stopping import study_sampling_summary
from ..screening import hidden_per_model
from . import automated, exports, leaderboards, plots
from .options import INLINE_ROUNDS, LeaderboardOptions
from .report import REPORT_FORMATS, study_report
from .votes import model_label


def _results_study(request: HttpRequest, study_id: int) -> Study:
    study = get_object_or_404(Study.objects.select_related("job"), pk=study_id)
    if not (request.user.is_staff or study.owner_id == request.user.pk):
        raise PermissionDenied("Only the study's owner and staff see its results.")
    return study


def _options(request: HttpRequest, study: Study) -> LeaderboardOptions:
    """The leaderboard options of a results URL, checked (a bad one is a 400 with the reason);
    no unit asked for: the study's."""
    try:
        rounds = int(request.GET.get("rounds", 1000))
        seed = int(request.GET.get("seed", 0))
    except ValueError:
        raise BadRequest("rounds and seed must be whole numbers.") from None
    try:
        options = LeaderboardOptions(
            method=request.GET.get("method", "bt"), rounds=rounds, seed=seed,
            include_flagged=request.GET.get("include_flagged") in ("1", "true"),
            resample=request.GET.get("resample") or None, by=request.GET.get("by") or None,
        )
    except ValueError as error:
        raise BadRequest(str(error)) from None
    return options.for_study(study)


def _query(options: LeaderboardOptions, **changes) -> str:
    merged = replace(options, **changes)
    query = {
        "method": merged.method, "resample": merged.resample,
        **({"by": merged.by} if merged.by else {}),
        **({"include_flagged": "1"} if merged.include_flagged else {}),
        **({"rounds": merged.rounds} if merged.rounds != 1000 else {}),
        **({"seed": merged.seed} if merged.seed else {}),
    }
    return urlencode(query)


def _pair_matrices(document: dict, study_models: list[str]) -> dict:
    """Per criterion (and the mean): a model x model matrix of cells (win rate of the row over
    the column, its interval, and whether the Holm-adjusted p is below 0.05), from the pairs."""
    models = sorted(set(study_models) | {p[k] for p in document.get("pairs", []) for k in ("model_a", "model_b")})
    matrices = [
        {"name": criterion, "rows": list(zip(models, pair_matrix(document.get("pairs", []), models, criterion)))}
        for criterion in _criteria_shown(document)
    ]
    return {"models": models, "matrices": matrices}


def _criteria_shown(document: dict) -> list[str]:
    """Every criterion of the document, then "mean" when it averages two or more (the pair
    criteria: set criteria have their own tables but are not in the mean)."""
    return [*document["criteria"], *(["mean"] if document.get("mean_of") else [])]


@login_required
def leaderboard(request: HttpRequest, study_id: int) -> HttpResponse:
    study = _results_study(request, study_id)
    options = _options(request, study)
    try:
        document = leaderboards.study_leaderboard(study=study, options=options, recompute=request.GET.get("recompute") == "1")
    except leaderboards.LeaderboardPending as pending:
        return render(request, "ratings/leaderboard.html", {"study": study, "pending": str(pending), "options": options}, status=202)
    method = options.method
    def sections_of(rows):
        return [
            {
                "name": criterion,
                "question": CRITERION_QUESTIONS.get(criterion, f"The {mean_description(document['mean_of'])} (as ADD reports)" if criterion == "mean" else criterion),
                "rows": [row for row in rows if row["criterion"] == criterion],
            }
            for criterion in _criteria_shown(document)
        ]

    spread = {(row["model"], row["criterion"]): row for row in (document.get("ordering_spread") or {}).get("rows", [])}
    sections = sections_of([{**row, "spread": spread.get((row["model"], row["criterion"]))} for row in document["models"]])
    categories = [
        {"name": name, "votes": part["votes"], "warnings": part["warnings"], "sections": sections_of(part["models"])}
        for name, part in (document.get("by_category") or {}).items()
    ]
    context = {
        "study": study,
        "method": method,
        "options": options,
        "methods": [(name, METHOD_NAMES[name][:1].upper() + METHOD_NAMES[name][1:]) for name in METHODS],
        "units": [("comparison", "comparisons (these prompts and raters)"), ("prompt", "prompts (prompts like these)"), ("rater", "raters (raters like these)"), ("prompt_rater", "prompts and raters (prompts and raters like these)")],
        "breakdowns": [("", "none"), ("category", "prompt category"), ("challenge", "prompt challenge")],
        "document": document,
        "provenance": document["provenance"],
        "sections": sections,
        "categories": categories,
        "pairs": _pair_matrices(document, [model_label(spec) for spec in study.job.specs.all()]),
        "progress": job_progress(job=study.job),
        "formats": list(exports.LEADERBOARD_FORMATS),
        # The versus figures only for a study with a reference (they answer 404 otherwise).
        "plots": [plot for plot in plots.PLOTS if plot not in plots.VERSUS_PLOTS or document.get("versus_settings")],
        "automated": document.get("automated") or {},
        "automated_columns": _automated_columns(document.get("automated") or {}),
        "query": _query(options),
        "toggle_flagged": _query(options, include_flagged=not options.include_flagged),
        # The votes-needed forecast the dashboard shows (cached per refresh of the pair weights):
        # the live one while the study runs, the one from the votes at the stop after it stopped.
        "sampling": study_sampling_summary(study=study),
        "heatmap_criterion": "mean" if document.get("mean_of") else (document["criteria"] or ["mean"])[0],
        "pairs_criteria": _criteria_shown(document),
        # Issue 15: which study this is (main or pilot) and what screening hid.
        "role": study_role(study=study),
        "hidden_per_model": [row for row in hidden_per_model(study=study) if row["hidden"]],
    }
    return render(request, "ratings/leaderboard.html", context)


def _automated_columns(section: dict) -> list[dict]:
    """One table per metric and diversity measure: its name, what it is, its per-model rows."""
    columns = [
        {"name": table["label"], "description": f"{METRICS[table['metric']].formula}; weights {table['weights']}, {table['images']} images scored.", "rows": table["models"]}
        for table in section.get("metrics") or []
    ]
    for measure, part in ((section.get("diversity") or {}).get("measures") or {}).items():
        columns.append({"name": f"diversity ({measure})", "description": f"{part['description']}.", "rows": part["models"]})
    return columns


@login_required
def diversity_compute(request: HttpRequest, study_id: int) -> HttpResponse:
    """Queue the study's diversity across seeds; the leaderboard says it is computing until done."""
    study = _results_study(request, study_id)  # who may, before which method: a rater learns nothing
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"], "Computing diversity is a POST, from the button on the study's results page.")
    automated.study_diversity_enqueue(study=study)
    return redirect(f"{reverse('ratings:leaderboard', args=[study.pk])}#automated")


@login_required
def leaderboard_download(request: HttpRequest, study_id: int, fmt: str) -> HttpResponse:
    study = _results_study(request, study_id)
    options = _options(request, study)
    if options.rounds > INLINE_ROUNDS:
        raise BadRequest(f"Downloads use at most {INLINE_ROUNDS} rounds; ask the API for more.")
    try:
        content, content_type, filename = exports.leaderboard_export(study=study, fmt=fmt, **options.as_dict())
    except ValueError as error:
        raise Http404(str(error)) from None
    return _download(content, content_type, filename)


@login_required
def votes_download(request: HttpRequest, study_id: int) -> HttpResponse:
    study = _results_study(request, study_id)
    include = request.GET.get("include_flagged", "1") not in ("0", "false")
    return _download(exports.votes_csv(study=study, include_flagged=include), "text/csv", f"study-{study.pk}-votes.csv")


@login_required
def participants_download(request: HttpRequest, study_id: int) -> HttpResponse:
    """The review and payment export (ratings/payments.py): owner, researchers it is shared with, staff."""
    study = get_object_or_404(Study, pk=study_id)
    if not (request.user.is_staff or study.owner_id == request.user.pk or study.shared_with.filter(pk=request.user.pk).exists()):
        raise PermissionDenied("Only the study's owner, researchers it is shared with and staff see its participants.")
    return _download(payments.participants_csv(study=study), "text/csv", f"study-{study.pk}-participants.csv")


@login_required
def plot_download(request: HttpRequest, study_id: int, plot: str, fmt: str) -> HttpResponse:
    study = _results_study(request, study_id)
    options = _options(request, study)
    try:
        content, content_type, filename = plots.plot_export(
            study=study, plot=plot, fmt=fmt, method=options.method, criterion=request.GET.get("criterion", "mean"),
            model=request.GET.get("model"), resample=options.resample, include_flagged=options.include_flagged,
        )
    except ValueError as error:
        raise Http404(str(error)) from None
    response = HttpResponse(content, content_type=content_type)
    if request.GET.get("download"):
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@login_required
def report_download(request: HttpRequest, study_id: int, fmt: str) -> HttpResponse:
    """The study's self-contained report (``report.py``) as a download, never served as a page:
    its HTML holds inline CSS, which the site's CSP would refuse."""
    study = _results_study(request, study_id)
    if fmt not in REPORT_FORMATS:
        raise Http404(f"Unknown report format '{fmt}': use html or pdf.")
    content, content_type, filename = study_report(study=study, fmt=fmt)
    return _download(content, content_type, filename)


def _download(content: bytes, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
