"""The rater's pages (consent, instructions, the voting page, finish, withdraw), the JSON vote
and report endpoints, and image serving for raters (results pages are in ``ratings.results``).

A rater is known by a signed cookie per study (``ratings.identity``); pages that need the
rater's participation are ``identity.rater_page`` views.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.storage import default_storage
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from generation import png
from generation.selectors import job_progress

from . import crowd, identity, images, raters, scheduler, screening, selectors
from .identity import rater_page
from .models import CRITERION_QUESTIONS, MAX_FEEDBACK_CHARS, REPORT_REASONS, Participation, Rater, Study

PREVIEW_ASSIGNMENT = "ASSIGNMENT_ID_NOT_AVAILABLE"
EXAMPLE_CACHE_SECONDS = 24 * 3600
PARTICIPANT_ID = re.compile(r"^[A-Za-z0-9_-]{1,100}$")
FORBIDDEN, INVALID = scheduler.Outcome.FORBIDDEN, scheduler.Outcome.INVALID


def livez(request: HttpRequest) -> JsonResponse:
    """Liveness: the web process answers, with no database work (``/healthz/`` also checks the
    database); the load benchmark's bare-view baseline."""
    return JsonResponse({"status": "ok"})


def _questions(study: Study, criteria: list[str] | None = None) -> list[dict]:
    """The questions of ``criteria`` (default: the study's pair criteria) with their keys."""
    per_question = 3 if study.allow_ties else 2
    questions = []
    for i, criterion in enumerate(study.criteria if criteria is None else criteria):
        first = i * per_question + 1
        keys = {"left": str(first), "right": str(first + 1)}
        if study.allow_ties:
            keys["tie"] = str(first + 2)
        questions.append({
            "criterion": criterion,
            "text": CRITERION_QUESTIONS.get(criterion, criterion.replace("_", " ").capitalize() + "?"),
            "keys": keys,
        })
    return questions


def _set_questions(study: Study) -> list[dict]:
    """The questions a set comparison asks (keys from 1 again: a page shows one kind at a time)."""
    return _questions(study, list(study.set_criteria or []))


def _pair_payload(study_id: int, pair: dict) -> dict:
    """What the page needs of one served comparison: its token, prompt and opaque image URLs (a
    set comparison's: one per seed and side, by position)."""
    base = f"/rate/{study_id}/image/{pair['token']}"
    if "set_size" in pair:
        return {
            "token": pair["token"],
            "prompt": pair["prompt"],
            "kind": "set",
            "left_set": [f"{base}/left/{i}/" for i in range(pair["set_size"])],
            "right_set": [f"{base}/right/{i}/" for i in range(pair["set_size"])],
        }
    return {"token": pair["token"], "prompt": pair["prompt"], "left": f"{base}/left/", "right": f"{base}/right/"}


def _pairs_payload(study_id: int, pairs: list[dict]) -> list[dict]:
    return [_pair_payload(study_id, pair) for pair in pairs]


def _session_payload(study_id: int, result: dict) -> dict:
    payload = {
        "status": result["status"],
        "answered": result.get("answered", 0),
        "quota": result.get("quota", 0),
        "pairs": _pairs_payload(study_id, result.get("pairs", [])),
    }
    if "message" in result:
        payload["message"] = result["message"]
    if not payload["pairs"] and result["status"] not in (FORBIDDEN.status, INVALID.status):
        payload["finish_url"] = f"/rate/{study_id}/finish/"
    return payload


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
            return render(request, "ratings/instructions.html", {"study": study, "preview": True, **_instructions_context(study)})
        source, external_id = Rater.Source.MTURK, params.get("workerId", "")
        crowd_study_id, crowd_session_id = params.get("hitId", ""), params.get("assignmentId", "")
        if params.get("turkSubmitTo"):
            try:
                submit_to = crowd.mturk_submit_origin(params["turkSubmitTo"])
            except ValidationError as error:
                return render(request, "ratings/bad_link.html", {"bad_submit_to": " ".join(error.messages)}, status=400)
    else:
        return render(request, "ratings/bad_link.html", {"missing_id": True}, status=400)
    if not PARTICIPANT_ID.match(external_id):
        return render(request, "ratings/bad_link.html", {"missing_id": True}, status=400)
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
    if study.stopped_at is not None and not Participation.objects.filter(
        study=study, rater__source=source, rater__external_id=external_id
    ).exists():
        # Stopped by its rule or budget (ratings/sampling.py): only raters already in it finish.
        return _exit(request, crowd.exit_target(**quota_exit), "ratings/stopped.html", {"study": study}, status=409)
    if source == Rater.Source.MTURK and _framed(request):
        return _mturk_frame_page(request, study, signature, submit_to=submit_to)
    try:
        rater, participation = raters.rater_join(
            study=study, source=source, external_id=external_id, crowd_study_id=crowd_study_id, crowd_session_id=crowd_session_id,
            resuming_rater_id=identity.cookie_rater_id(request, study.pk), joins_per_minute=settings.EVALSITE_JOINS_PER_MINUTE,
        )
    except raters.StudyBusy as busy:
        return render(request, "ratings/busy.html", {"study": study, "message": str(busy)}, status=429)
    except raters.StudyFull as full:
        return _exit(request, crowd.exit_target(**quota_exit), "ratings/full.html", {"study": study, "message": str(full)}, status=409)
    except raters.ParticipantTaken as taken:
        return render(request, "ratings/busy.html", {"study": study, "message": str(taken), "taken": True}, status=409)
    if submit_to:
        crowd.participation_submit_to_set(participation=participation, origin=submit_to)
    response = redirect("ratings:rate", study_id=study.pk)
    identity.rater_cookie_set(response, request, study.pk, rater)
    return response


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


@rater_page
def rate(request: HttpRequest, study: Study, participation: Participation) -> HttpResponse:
    if study.status == Study.Status.GENERATING and participation.finished_at is None:
        # Before its images exist: how far they have got (numbers only), refreshing itself.
        progress = job_progress(job=study.job)
        context = {"study": study, "images": {"done": progress["done"], "total": progress["total"]}}
        response = render(request, "ratings/closed.html", context, status=409)
    elif participation.consented_at is None:
        response = render(request, "ratings/consent.html", {"study": study})
    elif participation.instructed_at is None:
        response = render(request, "ratings/instructions.html", {"study": study, **_instructions_context(study)})
    elif participation.finished_at is not None:
        response = redirect("ratings:finish", study_id=study.pk)
    elif crowd.screener_pending(study=study, participation=participation):
        response = render(request, "ratings/screener.html", _screener_context(study, participation))
    elif study.status != Study.Status.RATING:
        response = render(request, "ratings/closed.html", {"study": study}, status=409)
    else:
        result = scheduler.session_serve(study_id=study.pk, rater_id=participation.rater_id)
        if not result.get("pairs") and study.stopped_at is not None and participation.answered == 0:
            response = _stopped(request, study, participation)
        elif not result.get("pairs"):
            response = redirect("ratings:finish", study_id=study.pk)
        else:
            state = _session_payload(study.pk, result)
            current = state["pairs"][0]
            set_size = len(study.job.seeds) if study.set_criteria else 0
            response = render(request, "ratings/rate.html", {
                "study": study,
                "state": state,
                "current": current,
                "current_is_set": current.get("kind") == "set",
                "questions": _questions(study),
                "set_questions": _set_questions(study),
                # Each set as a square-ish grid: every image of both sets at one size.
                "set_columns": math.ceil(math.sqrt(set_size)) if set_size else 0,
                "display_size": study.display_size,
                "report_reasons": REPORT_REASONS,
                "csrf_token_value": get_token(request),
                "error": request.session.pop("vote_error", None) if hasattr(request, "session") else None,
            })
    return response


def _instructions_context(study: Study) -> dict:
    return {"questions": _questions(study), "set_questions": _set_questions(study), "example": selectors.example_pair(study=study)}


def _exit(request: HttpRequest, target: dict, template: str, context: dict, status: int = 200) -> HttpResponse:
    """Send a participant back to their crowd platform with their outcome's code: a redirect to
    the completion URL, or the page with the code (and, for MTurk, the form that posts it)."""
    if "redirect" in target:
        return HttpResponseRedirect(target["redirect"])
    return render(request, template, {**context, "exit": target}, status=status)


def _stopped(request: HttpRequest, study: Study, participation: Participation) -> HttpResponse:
    """The study stopped before this participant rated anything: the quota-full code."""
    outcome = crowd.participation_outcome_record(
        participation=participation, outcome=crowd.Outcome.QUOTA_FULL, reason="the study stopped before they rated"
    )
    raters.participation_finish(participation=participation)
    target = crowd.exit_target(study=study, outcome=outcome, participation=participation)
    return _exit(request, target, "ratings/stopped.html", {"study": study, "joined": True}, status=409)


def _screener_context(study: Study, participation: Participation, error: str = "", answers: dict | None = None) -> dict:
    questions = [
        {"number": number, "text": question["question"], "prompt": question.get("prompt", ""), "answer": (answers or {}).get(f"q{number}")}
        for number, question in enumerate(study.screener_questions or [])
    ]
    return {"study": study, "screener": questions, "error": error, "display_size": study.display_size}


@require_POST
@rater_page
def consent(request: HttpRequest, study: Study, participation: Participation) -> HttpResponse:
    if request.POST.get("answer") == "agree":
        raters.participation_consent(participation=participation)
        return redirect("ratings:rate", study_id=study.pk)
    crowd.participation_decline(participation=participation)
    crowd_rater = participation.rater.source != Rater.Source.ACCOUNT
    target = crowd.exit_target(study=study, outcome=crowd.Outcome.NO_CONSENT, participation=participation)
    response = _exit(request, target if crowd_rater else {}, "ratings/withdrawn.html", {"study": study, "declined": True, "crowd": crowd_rater})
    identity.rater_cookie_delete(response, study.pk)
    return response


@require_POST
@rater_page
def screener(request: HttpRequest, study: Study, participation: Participation) -> HttpResponse:
    """The screener's answers: all right, on to rating; one wrong, the screened-out code."""
    if not study.screener_questions or participation.instructed_at is None:
        return redirect("ratings:rate", study_id=study.pk)
    try:
        crowd.screener_answer(study=study, participation=participation, answers=request.POST)
    except ValidationError as error:
        context = _screener_context(study, participation, error=" ".join(error.messages), answers=request.POST)
        return render(request, "ratings/screener.html", context, status=400)
    return redirect("ratings:rate", study_id=study.pk)


@require_GET
@rater_page
def screener_image(request: HttpRequest, study: Study, participation: Participation, number: int, side: str) -> HttpResponse:
    """An image of a screener question: one of the study's images (display copy, blinded) or
    a degraded copy of it, on the side this participant sees it."""
    shown = crowd.screener_image(study=study, participation=participation, number=number, side=side)
    if shown is None or not crowd.screener_pending(study=study, participation=participation):
        raise Http404("No such image.")
    image_id, degraded = shown
    key = f"ratings:screener:{study.pk}:{study.display_size}:{image_id}:{int(degraded)}"
    content = cache.get(key)
    if content is None:
        name = selectors.display_copy_file(image_id=image_id, size=study.display_size)
        if name is None:
            raise Http404("No such image.")
        with default_storage.open(name, "rb") as handle:
            content = handle.read()
        content = images.degrade_png(content, seed=study.pk) if degraded else png.blind(content)
        cache.set(key, content, EXAMPLE_CACHE_SECONDS)
    response = HttpResponse(content, content_type="image/png")
    response["Cache-Control"] = "private, max-age=3600"
    return response


@require_POST
@rater_page
def instructions(request: HttpRequest, study: Study, participation: Participation) -> HttpResponse:
    raters.participation_instructed(participation=participation)
    return redirect("ratings:rate", study_id=study.pk)


@require_POST
def vote(request: HttpRequest, study_id: int) -> HttpResponse:
    """One submit: both answers in, the next pairs out. JSON from the page's script; a plain
    form post (no JavaScript) records the same way and redirects back to the page."""
    rater_id = identity.cookie_rater_id(request, study_id)
    is_json = request.content_type == "application/json"
    try:
        body = json.loads(request.body) if is_json else request.POST
        token = uuid.UUID(str(body.get("token", "")))
        answers = body.get("answers") if is_json else {key: body.get(key) for key in body if key not in ("token", "response_ms", "csrfmiddlewaretoken")}
        if not isinstance(answers, dict):
            raise ValueError
        response_ms = int(body.get("response_ms") or 0)
    except (ValueError, TypeError, AttributeError):
        if rater_id is None:
            return JsonResponse({"status": FORBIDDEN.status, "message": FORBIDDEN.message}, status=FORBIDDEN.http_status)
        return JsonResponse({"status": INVALID.status, "message": INVALID.message}, status=INVALID.http_status)
    if rater_id is None:
        return JsonResponse({"status": FORBIDDEN.status, "message": FORBIDDEN.message}, status=FORBIDDEN.http_status)
    result = scheduler.vote_submit(study_id=study_id, rater_id=rater_id, token=token, answers=answers, response_ms=response_ms)
    if result["status"] == FORBIDDEN.status:
        if is_json:
            return JsonResponse({"status": FORBIDDEN.status, "message": FORBIDDEN.message}, status=FORBIDDEN.http_status)
        raise PermissionDenied(FORBIDDEN.message)
    if not is_json:
        if "message" in result:
            request.session["vote_error"] = result["message"]
        return redirect("ratings:rate", study_id=study_id)
    return JsonResponse(_session_payload(study_id, result), status=scheduler.Outcome.of(result["status"]).http_status)


@require_POST
def report(request: HttpRequest, study_id: int) -> JsonResponse:
    """Skip / report a pair (broken or offensive image): recorded, another pair served."""
    rater_id = identity.cookie_rater_id(request, study_id)
    if rater_id is None:
        raise PermissionDenied(FORBIDDEN.message)
    try:
        body = json.loads(request.body)
        token = uuid.UUID(str(body.get("token", "")))
        result = scheduler.comparison_report(
            study_id=study_id, rater_id=rater_id, token=token, reason=str(body.get("reason", "")), note=str(body.get("note", ""))
        )
    except (ValueError, TypeError, AttributeError):
        return JsonResponse({"status": INVALID.status, "message": scheduler.outcomes.REPORT_UNREADABLE}, status=INVALID.http_status)
    except ValidationError as error:
        return JsonResponse({"status": INVALID.status, "message": " ".join(error.messages)}, status=INVALID.http_status)
    return JsonResponse(_session_payload(study_id, {**result, "status": scheduler.Outcome.REPORTED.status}))


@require_GET
def image(request: HttpRequest, study_id: int, token: uuid.UUID, side: str) -> HttpResponse:
    """The left or right image of a pair served to this rater: PNG bytes at the study's display
    size, with no file name, date or validator that could tell two models apart."""
    rater_id = identity.cookie_rater_id(request, study_id)
    name = selectors.comparison_image_file(study_id=study_id, rater_id=rater_id, token=token, side=side) if rater_id else None
    if name is None:
        raise Http404("No such image.")
    with default_storage.open(name, "rb") as handle:
        # Fixed length for its size: Content-Length tells no model or decoy apart (issue 18).
        response = HttpResponse(png.blind(handle.read()), content_type="image/png")
    response["Cache-Control"] = "private, max-age=3600"
    return response


@require_GET
def set_image(request: HttpRequest, study_id: int, token: uuid.UUID, side: str, index: int) -> HttpResponse:
    """Image ``index`` (in the order of the study's seeds) of the left or right set of a set
    comparison served to this rater: blinded as ``image`` is (same size, same length, no name)."""
    rater_id = identity.cookie_rater_id(request, study_id)
    name = (
        selectors.comparison_set_image_file(study_id=study_id, rater_id=rater_id, token=token, side=side, index=index)
        if rater_id else None
    )
    if name is None:
        raise Http404("No such image.")
    with default_storage.open(name, "rb") as handle:
        response = HttpResponse(png.blind(handle.read()), content_type="image/png")
    response["Cache-Control"] = "private, max-age=3600"
    return response


@require_GET
@rater_page
def example_image(request: HttpRequest, study: Study, participation: Participation, kind: str) -> HttpResponse:
    """The instructions' example pairs: a clear image, a degraded copy of it, and an image made
    for another prompt. Only for the study's participants: they are the study's own images."""
    if study.status != Study.Status.RATING:
        raise Http404("No such example.")
    if kind not in ("clear", "degraded", "unrelated"):
        raise Http404("No such example.")
    # Made once per study and kept: a degraded copy costs a blur of a full-size image.
    key = f"ratings:example:{study.pk}:{study.display_size}:{kind}"
    content = cache.get(key)
    if content is None:
        example = selectors.example_pair(study=study)
        if example is None:
            raise Http404("No such example.")
        name = example["unrelated_file"] if kind == "unrelated" else example["clear_file"]
        with default_storage.open(name, "rb") as handle:
            content = handle.read()
        content = images.degrade_png(content, seed=study.pk) if kind == "degraded" else png.blind(content)
        cache.set(key, content, EXAMPLE_CACHE_SECONDS)
    response = HttpResponse(content, content_type="image/png")
    response["Cache-Control"] = "private, max-age=3600"
    return response


@rater_page
def finish(request: HttpRequest, study: Study, participation: Participation) -> HttpResponse:
    """The end of a session: the participant's outcome (recorded once) and its code, after the
    feedback box if the study asks for feedback. The outcome is never taken from the request."""
    asked = request.GET.get("outcome") or request.POST.get("outcome")
    if asked and asked != participation.outcome:
        # Someone editing the address to get another code: say plainly that it does not work.
        message = "Your outcome is recorded by the study and cannot be chosen; open this page without “outcome” to see your code."
        return render(request, "ratings/bad_request.html", {"study": study, "message": message}, status=400)
    if participation.consented_at is None:
        # No completion code for someone who never agreed to take part (a paused or closed
        # study serves no pairs, which would otherwise look like a finished session).
        return redirect("ratings:rate", study_id=study.pk)
    if not participation.outcome:
        if crowd.screener_pending(study=study, participation=participation):
            return redirect("ratings:rate", study_id=study.pk)
        if participation.finished_at is None:
            if scheduler.session_serve(study_id=study.pk, rater_id=participation.rater_id).get("pairs"):
                return redirect("ratings:rate", study_id=study.pk)
            if study.stopped_at is not None and participation.answered == 0:
                return _stopped(request, study, participation)
            raters.participation_finish(participation=participation)
        outcome, reason = crowd.finished_outcome(study=study, participation=participation)
        crowd.participation_outcome_record(participation=participation, outcome=outcome, reason=reason)
    participation.refresh_from_db()
    context = {"study": study, "participation": participation, "max_feedback": MAX_FEEDBACK_CHARS}
    if crowd.feedback_wanted(study=study, participation=participation):
        return render(request, "ratings/finished.html", {**context, "ask_feedback": True})
    if participation.outcome == crowd.Outcome.QUOTA_FULL:
        target = crowd.exit_target(study=study, outcome=participation.outcome, participation=participation)
        return _exit(request, target, "ratings/stopped.html", {"study": study, "joined": True}, status=409)
    target = crowd.exit_target(study=study, outcome=participation.outcome, participation=participation)
    return _exit(request, target, "ratings/finished.html", context)


@require_POST
@rater_page
def feedback(request: HttpRequest, study: Study, participation: Participation) -> HttpResponse:
    """The finish page's feedback box (``skip`` sends nothing); then on to the code."""
    if crowd.feedback_wanted(study=study, participation=participation):
        text = "" if "skip" in request.POST else request.POST.get("feedback", "")
        try:
            crowd.participation_feedback(participation=participation, text=text)
        except ValidationError as error:
            context = {
                "study": study, "participation": participation, "max_feedback": MAX_FEEDBACK_CHARS,
                "ask_feedback": True, "feedback_error": " ".join(error.messages), "feedback_text": text,
            }
            return render(request, "ratings/finished.html", context, status=400)
    return redirect("ratings:finish", study_id=study.pk)


@rater_page
def withdraw(request: HttpRequest, study: Study, participation: Participation) -> HttpResponse:
    """Ask, then withdraw: the rater's votes leave every leaderboard and their ids are removed."""
    if request.method != "POST":
        return render(request, "ratings/withdraw.html", {"study": study})
    raters.rater_withdraw(rater=participation.rater)
    response = render(request, "ratings/withdrawn.html", {"study": study})
    identity.rater_cookie_delete(response, study.pk)
    return response


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
