"""Pages outside a study: the signed-in home page (the studies to rate and to manage) and the
liveness probe."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from ..models import Participation, Rater, Study


def livez(request: HttpRequest) -> JsonResponse:
    """Liveness: the web process answers, with no database work (``/healthz/`` also checks the
    database); the load benchmark's bare-view baseline."""
    return JsonResponse({"status": "ok"})


@login_required
def home(request: HttpRequest) -> HttpResponse:
    rater = Rater.objects.filter(user=request.user).first()
    rating, finished_count = [], 0
    if rater is not None:
        finished = Participation.objects.filter(rater=rater, finished_at__isnull=False).values("study_id")
        open_studies = rater.studies.filter(status=Study.Status.RATING)
        rating = list(open_studies.exclude(pk__in=finished).order_by("pk"))
        finished_count = open_studies.filter(pk__in=finished).count()
    managed = Study.objects.all() if request.user.is_staff else Study.objects.filter(owner=request.user)
    return render(request, "ratings/home.html", {"rating_studies": rating, "managed_studies": managed, "finished_count": finished_count})
