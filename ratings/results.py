"""Results pages for a study's owner and staff: the leaderboard, its exports and plots."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from generation.selectors import job_progress

from . import exports, leaderboards, selectors
from .models import CRITERION_QUESTIONS, Study


def _results_study(request: HttpRequest, study_id: int) -> Study:
    study = get_object_or_404(Study.objects.select_related("job"), pk=study_id)
    if not (request.user.is_staff or study.owner_id == request.user.pk):
        raise PermissionDenied("Only the study's owner and staff see its results.")
    return study


def _method(request: HttpRequest) -> str:
    method = request.GET.get("method", "bt")
    if method not in leaderboards.METHODS:
        raise Http404(f"Unknown method '{method}': use one of {', '.join(leaderboards.METHODS)}.")
    return method


@login_required
def leaderboard(request: HttpRequest, study_id: int) -> HttpResponse:
    study = _results_study(request, study_id)
    method = _method(request)
    document = leaderboards.study_leaderboard(study=study, method=method, recompute=request.GET.get("recompute") == "1")
    sections = []
    for criterion in [*document["criteria"], *(["mean"] if len(document["criteria"]) > 1 else [])]:
        sections.append(
            {
                "name": criterion,
                "question": CRITERION_QUESTIONS.get(criterion, "Mean over the criteria (as ADD reports)" if criterion == "mean" else criterion),
                "rows": [row for row in document["models"] if row["criterion"] == criterion],
            }
        )
    win_rates = selectors.study_win_rates(study=study)
    matrices = [
        {"name": criterion, "matrix": list(zip(win_rates["specs"], win_rates["criteria"][criterion]["matrix"]))}
        for criterion in study.criteria
    ]
    context = {
        "study": study,
        "method": method,
        "methods": [("bt", "Bradley-Terry (bootstrap 95% CI)"), ("elo", "ADD online Elo (spread over orderings)"), ("winrate", "Mean win rate")],
        "document": document,
        "provenance": document["provenance"],
        "sections": sections,
        "specs": win_rates["specs"],
        "matrices": matrices,
        "progress": job_progress(job=study.job),
        "formats": list(exports.LEADERBOARD_FORMATS),
        "plots": exports.PLOTS,
    }
    return render(request, "ratings/leaderboard.html", context)


@login_required
def leaderboard_download(request: HttpRequest, study_id: int, fmt: str) -> HttpResponse:
    study = _results_study(request, study_id)
    try:
        content, content_type, filename = exports.leaderboard_export(study=study, method=_method(request), fmt=fmt)
    except ValueError as error:
        raise Http404(str(error)) from None
    return _download(content, content_type, filename)


@login_required
def votes_download(request: HttpRequest, study_id: int) -> HttpResponse:
    study = _results_study(request, study_id)
    return _download(exports.votes_csv(study=study), "text/csv", f"study-{study.pk}-votes.csv")


@login_required
def plot_download(request: HttpRequest, study_id: int, plot: str, fmt: str) -> HttpResponse:
    study = _results_study(request, study_id)
    try:
        content, content_type, filename = exports.plot_export(
            study=study, plot=plot, fmt=fmt, method=_method(request), criterion=request.GET.get("criterion", "mean"), model=request.GET.get("model")
        )
    except ValueError as error:
        raise Http404(str(error)) from None
    response = HttpResponse(content, content_type=content_type)
    if request.GET.get("download"):
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _download(content: bytes, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
