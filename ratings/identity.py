"""Who is rating: one signed cookie per study (``rater_<study id>``), the only place the rater's
pages learn their identity.

The cookie is set when a rater arrives through a signed study link or opens the study while
logged in as an invited account; an account rater's cookie is tied to their login session, so
logging out ends it. The vote endpoint reads only the cookie, so a vote costs no session or user
query. Pages that need the rater's participation use ``rater_page``.
"""

from __future__ import annotations

import functools

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.crypto import salted_hmac

from .models import Participation, Rater, Study
from .raters import StudyFull, participation_start

COOKIE_MAX_AGE = 30 * 24 * 3600


def cookie_name(study_id: int) -> str:
    return f"rater_{study_id}"


def _session_binding(request: HttpRequest) -> str:
    key = request.COOKIES.get(settings.SESSION_COOKIE_NAME, "")
    return salted_hmac("ratings.rater-session", key).hexdigest()[:16] if key else ""


def rater_cookie_value(*, study_id: int, rater_id: int, session_binding: str = "") -> str:
    """The signed value of a rater's cookie for one study (also used by the load benchmark)."""
    return signing.Signer(salt=f"ratings.rater.{study_id}").sign(f"{rater_id}.{session_binding}")


def cookie_rater_id(request: HttpRequest, study_id: int) -> int | None:
    """The rater id of the request's cookie for this study, or None (absent, forged, or an
    account's cookie from another login session)."""
    value = request.COOKIES.get(cookie_name(study_id))
    if not value:
        return None
    try:
        rater_id, binding = signing.Signer(salt=f"ratings.rater.{study_id}").unsign(value).split(".", 1)
    except (signing.BadSignature, ValueError):
        return None
    if binding and binding != _session_binding(request):
        return None
    return int(rater_id)


def rater_cookie_set(response: HttpResponse, request: HttpRequest, study_id: int, rater: Rater) -> None:
    binding = _session_binding(request) if rater.source == Rater.Source.ACCOUNT else ""
    response.set_cookie(
        cookie_name(study_id), rater_cookie_value(study_id=study_id, rater_id=rater.pk, session_binding=binding),
        max_age=COOKIE_MAX_AGE, path=f"/rate/{study_id}/", httponly=True, samesite="Lax", secure=request.is_secure(),
    )


def rater_cookie_delete(response: HttpResponse, study_id: int) -> None:
    response.delete_cookie(cookie_name(study_id), path=f"/rate/{study_id}/")


def _participation(request: HttpRequest, study: Study) -> tuple[Participation | None, bool]:
    """(the rater's participation, whether the cookie must be (re)set); raises PermissionDenied
    for a logged-in account that is not invited."""
    rater_id = cookie_rater_id(request, study.pk)
    if rater_id is not None:
        participation = Participation.objects.select_related("rater").filter(study=study, rater_id=rater_id).first()
        if participation is not None:
            return participation, False
    if not request.user.is_authenticated:
        return None, False
    rater = Rater.objects.filter(user=request.user).first()
    if rater is None or not study.raters.filter(pk=rater.pk).exists():
        raise PermissionDenied("You are not invited to rate this study.")
    return participation_start(study=study, rater=rater), True


def rater_page(view):
    """A rater's page: ``view(request, study, participation, ...)`` runs only for a participant of
    the study (else: the login page, the study-full page, or the withdrawn page), and an account
    rater's first visit sets their cookie on whatever the view answers (unless it deletes it)."""

    @functools.wraps(view)
    def page(request: HttpRequest, study_id: int, *args, **kwargs) -> HttpResponse:
        study = get_object_or_404(Study.objects.select_related("job"), pk=study_id)
        try:
            participation, set_cookie = _participation(request, study)
        except StudyFull as full:
            return render(request, "ratings/full.html", {"study": study, "message": str(full)}, status=409)
        if participation is None:
            return redirect_to_login(request.get_full_path())
        if participation.rater.withdrawn_at is not None:
            return render(request, "ratings/withdrawn.html", {"study": study})
        response = view(request, study, participation, *args, **kwargs)
        if set_cookie and cookie_name(study.pk) not in response.cookies:
            rater_cookie_set(response, request, study.pk, participation.rater)
        return response

    return page
