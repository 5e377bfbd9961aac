"""The rater's page and image serving for raters (results pages are in ``ratings.results``)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.storage import default_storage
from django.db.models import Q
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from generation.models import DisplayCopy

from . import selectors, services
from .models import CRITERION_QUESTIONS, Comparison, Rater, Study


def _study_rater(request: HttpRequest, study_id: int) -> tuple[Study, Rater]:
    study = get_object_or_404(Study.objects.select_related("job"), pk=study_id)
    rater = Rater.objects.filter(user=request.user).first()
    if rater is None or not study.raters.filter(pk=rater.pk).exists():
        raise PermissionDenied("You are not invited to rate this study.")
    return study, rater


@login_required
def home(request: HttpRequest) -> HttpResponse:
    rater = Rater.objects.filter(user=request.user).first()
    rating = list(rater.studies.filter(status=Study.Status.RATING)) if rater else []
    managed = Study.objects.all() if request.user.is_staff else Study.objects.filter(owner=request.user)
    return render(request, "ratings/home.html", {"rating_studies": rating, "managed_studies": managed})


@login_required
def rate(request: HttpRequest, study_id: int) -> HttpResponse:
    study, rater = _study_rater(request, study_id)
    if study.status != Study.Status.RATING:
        return render(request, "ratings/closed.html", {"study": study}, status=409)
    comparison = services.comparison_serve(study=study, rater=rater)
    answered = selectors.rater_answered_count(study=study, rater=rater)
    if comparison is None:
        return render(request, "ratings/finished.html", {"study": study, "answered": answered})
    left, right = (comparison.image_a, comparison.image_b) if comparison.left_is_a else (comparison.image_b, comparison.image_a)
    questions = [
        {
            "criterion": criterion,
            "text": CRITERION_QUESTIONS.get(criterion, criterion.replace("_", " ").capitalize() + "?"),
            "keys": (str(2 * i + 1), str(2 * i + 2)),
        }
        for i, criterion in enumerate(study.criteria)
    ]
    context = {
        "study": study,
        "comparison": comparison,
        "prompt_text": comparison.prompt.text,
        "left_url": f"/rate/{study.pk}/image/{left.public_id}/",
        "right_url": f"/rate/{study.pk}/image/{right.public_id}/",
        "questions": questions,
        "answered": answered,
        "quota": study.quota_per_rater,
        "display_size": study.display_size,
        "error": request.session.pop("vote_error", None),
    }
    return render(request, "ratings/rate.html", context)


@login_required
@require_POST
def vote(request: HttpRequest, study_id: int) -> HttpResponse:
    study, rater = _study_rater(request, study_id)
    answers = {criterion: request.POST.get(criterion, "") for criterion in study.criteria if request.POST.get(criterion)}
    comparison = Comparison.objects.filter(token=request.POST.get("token", "")).first() if _is_uuid(request.POST.get("token")) else None
    if comparison is None or comparison.rater_id != rater.pk or comparison.study_id != study.pk:
        raise PermissionDenied("This pair was not given to you to rate.")
    try:
        response_ms = int(request.POST.get("response_ms", ""))
    except ValueError:
        response_ms = int((timezone.now() - comparison.served_at).total_seconds() * 1000)
    try:
        services.vote_record(token=comparison.token, rater=rater, answers=answers, response_ms=response_ms)
    except ValidationError as error:
        request.session["vote_error"] = " ".join(error.messages)
    return redirect("ratings:rate", study_id=study.pk)


def _is_uuid(value: str | None) -> bool:
    import uuid

    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


@login_required
def image(request: HttpRequest, study_id: int, public_id: str) -> HttpResponse:
    """A display copy, only for a rater who was served a comparison holding it."""
    study, rater = _study_rater(request, study_id)
    shown = Comparison.objects.filter(study=study, rater=rater).filter(
        Q(image_a__public_id=public_id) | Q(image_b__public_id=public_id)
    )
    copy = DisplayCopy.objects.filter(image__public_id=public_id, size=study.display_size).first() if shown.exists() else None
    if copy is None:
        raise Http404("No such image.")
    response = FileResponse(default_storage.open(copy.file.name, "rb"), content_type="image/png")
    response["Cache-Control"] = "private, max-age=3600"
    return response
