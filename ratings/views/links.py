"""A study link from a crowd platform (Prolific, MTurk): joining through it, the MTurk HIT's
frame, and the frame's question whether its worker has finished."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET

from common.network import client_address

from .. import crowd, identity, raters, screening, selectors, stopping
from ..models import Participation, Rater, Study
from .context import instructions_context, platform_exit

PREVIEW_ASSIGNMENT = "ASSIGNMENT_ID_NOT_AVAILABLE"


def _mturk_link(params) -> bool:
    return "PROLIFIC_PID" not in params and ("workerId" in params or params.get("assignmentId") == PREVIEW_ASSIGNMENT)


def _framed(request: HttpRequest) -> bool:
    """Whether the browser loads this page into a frame (Fetch Metadata, sent by every current browser)."""
    return request.headers.get("Sec-Fetch-Dest", "") in {"iframe", "frame"}


def _mturk_frameable(response: HttpResponse) -> HttpResponse:
    """Let MTurk's own pages (``EVALSITE_MTURK_FRAME_ANCESTORS``), and no other site, frame this response."""
    response.xframe_options_exempt = True
    response._csp_replace = {"frame-ancestors": list(settings.EVALSITE_MTURK_FRAME_ANCESTORS) or ["'none'"]}
    return response


@require_GET
def join(request: HttpRequest, study_id: int, signature: str) -> HttpResponse:
    """A study link for a crowd platform: Prolific (PROLIFIC_PID, STUDY_ID, SESSION_ID) or
    MTurk (workerId, assignmentId, hitId, turkSubmitTo; a preview while the HIT is not
    accepted). A study that is full or stopped sends the participant back with its quota-full
    code (``crowd.exit_target``). An MTurk link in MTurk's frame gets the page that opens the
    study in a tab of its own and submits the HIT when the worker is done (``ratings.crowd``)."""
    response = _join(request, study_id, signature)
    if _mturk_link(request.GET) and _framed(request):
        return _mturk_frameable(response)
    return response


def _join(request: HttpRequest, study_id: int, signature: str) -> HttpResponse:
    study = Study.objects.filter(pk=study_id).first()
    if study is None or not selectors.study_link_valid(study=study, signature=signature):
        return render(request, "ratings/bad_link.html", status=403)
    params = request.GET
    submit_to = ""
    if "PROLIFIC_PID" in params:
        source, external_id = Rater.Source.PROLIFIC, params.get("PROLIFIC_PID", "")
        crowd_study_id, crowd_session_id = params.get("STUDY_ID", ""), params.get("SESSION_ID", "")
    elif "workerId" in params or params.get("assignmentId") == PREVIEW_ASSIGNMENT:
        if params.get("assignmentId") == PREVIEW_ASSIGNMENT:
            return render(request, "ratings/instructions.html", {"study": study, "preview": True, **instructions_context(study)})
        source, external_id = Rater.Source.MTURK, params.get("workerId", "")
        crowd_study_id, crowd_session_id = params.get("hitId", ""), params.get("assignmentId", "")
        if params.get("turkSubmitTo"):
            try:
                submit_to = crowd.mturk_submit_origin(params["turkSubmitTo"])
            except ValidationError as error:
                return render(request, "ratings/bad_link.html", {"bad_submit_to": " ".join(error.messages)}, status=400)
    else:
        return render(request, "ratings/bad_link.html", {"missing_id": True}, status=400)
    problems = crowd.platform_ids_problems(source=source, params=params)
    if problems:
        return render(request, "ratings/bad_link.html", {"bad_ids": problems}, status=400)
    if study.status != Study.Status.RATING or screening.crowd_entry_problem(study=study):
        # Not open, or its images not screened yet (ratings/screening.py): a neutral page for strangers.
        return render(request, "ratings/closed.html", {"study": study}, status=409)
    from_frame = source == Rater.Source.MTURK and params.get("via") == "frame"
    if from_frame:
        submit_to = ""  # the HIT's frame posts the assignment; this tab only shows the code
    quota_exit = {
        "study": study, "outcome": crowd.Outcome.QUOTA_FULL, "assignment_id": crowd_session_id, "submit_to": submit_to,
        "mturk_frame": from_frame,
    }
    if stopping.study_serves_nothing_new(study=study) and not Participation.objects.filter(
        study=study, rater__source=source, rater__external_id=external_id
    ).exists():
        # Stopped by its rule or budget (ratings/stopping.py): only raters already in it finish.
        return platform_exit(request, crowd.exit_target(**quota_exit), "ratings/stopped.html", {"study": study}, status=409)
    if source == Rater.Source.MTURK and _framed(request):
        return _mturk_frame_page(request, study, signature, submit_to=submit_to)
    try:
        raters.join_throttle(
            study_id=study.pk, client=client_address(request) or "unknown", source=source, external_id=external_id,
            per_address=settings.EVALSITE_JOINS_PER_ADDRESS_PER_MINUTE, per_id=settings.EVALSITE_JOINS_PER_ID_PER_MINUTE,
        )
        rater, participation = raters.rater_join(
            study=study, source=source, external_id=external_id, crowd_study_id=crowd_study_id, crowd_session_id=crowd_session_id,
            resuming_rater_id=identity.cookie_rater_id(request, study.pk),
        )
    except raters.StudyBusy as busy:
        return render(request, "ratings/busy.html", {"study": study, "message": str(busy)}, status=429)
    except raters.StudyFull as full:
        return platform_exit(request, crowd.exit_target(**quota_exit), "ratings/full.html", {"study": study, "message": str(full)}, status=409)
    except raters.ParticipantTaken as taken:
        return render(request, "ratings/busy.html", {"study": study, "message": str(taken), "taken": True}, status=409)
    except raters.OutcomeFinal as final:
        # The code goes back through this link's own assignment (an MTurk worker on another HIT of the study).
        return _outcome_again(request, study, final.participation, {**quota_exit, "outcome": final.participation.outcome})
    if submit_to:
        crowd.participation_submit_to_set(participation=participation, origin=submit_to)
    response = redirect("ratings:rate", study_id=study.pk)
    identity.rater_cookie_set(response, request, study.pk, rater)
    return response


def _outcome_again(request: HttpRequest, study: Study, participation: Participation, exit_args: dict) -> HttpResponse:
    """A platform id back at a study it already ended: the outcome and code it was given (a
    screened-out id gets the screened-out code again), or, after a withdrawal with no code or
    after completing, the page saying so; never a fresh session."""
    context = {"study": study, "participation": participation, "withdrawn": participation.rater.withdrawn_at is not None}
    if participation.outcome and not (context["withdrawn"] and participation.outcome == crowd.Outcome.COMPLETED):
        return platform_exit(request, crowd.exit_target(**exit_args), "ratings/outcome_again.html", context, status=409)
    return render(request, "ratings/outcome_again.html", context, status=409)


def _mturk_frame_page(request: HttpRequest, study: Study, signature: str, *, submit_to: str) -> HttpResponse:
    params = request.GET
    identifiers = {"workerId": params["workerId"], "assignmentId": params.get("assignmentId", "")}
    return render(request, "ratings/mturk_frame.html", {
        "study": study,
        "open_url": f"{request.path}?{urlencode({**params.dict(), 'via': 'frame'})}",
        "status_url": f"{reverse('ratings:mturk_status', args=[study.pk, signature])}?{urlencode(identifiers)}",
        "action": submit_to + crowd.MTURK_SUBMIT_PATH if submit_to and identifiers["assignmentId"] else "",
        "assignment_id": identifiers["assignmentId"],
    })


@require_GET
def mturk_status(request: HttpRequest, study_id: int, signature: str) -> JsonResponse:
    """Asked every few seconds by an MTurk HIT's frame: has its worker finished in their own tab,
    and with which code (``crowd.mturk_frame_status``)."""
    study = Study.objects.filter(pk=study_id).first()
    if study is None or not selectors.study_link_valid(study=study, signature=signature):
        return JsonResponse({"detail": "This study link is not valid; open the task again from MTurk."}, status=403)
    answer = crowd.mturk_frame_status(
        study=study, worker_id=request.GET.get("workerId", "")[:100], assignment_id=request.GET.get("assignmentId", "")[:100]
    )
    response = JsonResponse(answer)
    response["Cache-Control"] = "no-store"
    return response
