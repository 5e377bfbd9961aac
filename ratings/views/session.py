"""A rater's session in a study, page by page: consent, instructions, the screener, the rating
page, finish (with the feedback box) and withdraw. Each is an ``identity.rater_page`` view."""

from __future__ import annotations

import math

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from generation.selectors import job_progress

from .. import crowd, identity, raters, scheduler
from ..identity import rater_page
from ..models import MAX_FEEDBACK_CHARS, REPORT_REASONS, Participation, Rater, Study
from .context import instructions_context, page_questions, platform_exit, session_payload, set_questions


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
        response = render(request, "ratings/instructions.html", {"study": study, **instructions_context(study)})
    elif participation.finished_at is not None:
        response = redirect("ratings:finish", study_id=study.pk)
    elif crowd.screener_pending(study=study, participation=participation):
        response = render(request, "ratings/screener.html", _screener_context(study, participation))
    elif study.status != Study.Status.RATING:
        response = render(request, "ratings/closed.html", {"study": study}, status=409)
    else:
        result = scheduler.session_serve(study_id=study.pk, rater_id=participation.rater_id)
        if not result.get("pairs") and participation.answered == 0:
            response = _stopped(request, study, participation)
        elif not result.get("pairs"):
            response = redirect("ratings:finish", study_id=study.pk)
        else:
            state = session_payload(study.pk, result)
            current = state["pairs"][0]
            set_size = len(study.job.seeds) if study.set_criteria else 0
            response = render(request, "ratings/rate.html", {
                "study": study,
                "state": state,
                "current": current,
                "current_is_set": current.get("kind") == "set",
                "questions": page_questions(study),
                "set_questions": set_questions(study),
                # Each set as a square-ish grid: every image of both sets at one size.
                "set_columns": math.ceil(math.sqrt(set_size)) if set_size else 0,
                "display_size": study.display_size,
                "report_reasons": REPORT_REASONS,
                "csrf_token_value": get_token(request),
                "error": request.session.pop("vote_error", None) if hasattr(request, "session") else None,
            })
    return response


def _stopped(request: HttpRequest, study: Study, participation: Participation) -> HttpResponse:
    """No pairs for a participant who has answered none (the study stopped, or every pair has its
    votes or was retired): the quota-full code, never the completed one, and the page says so."""
    reason = "the study stopped before they rated" if study.stopped_at is not None else crowd.OUT_OF_PAIRS
    outcome = crowd.participation_outcome_record(participation=participation, outcome=crowd.Outcome.QUOTA_FULL, reason=reason)
    raters.participation_finish(participation=participation)
    target = crowd.exit_target(study=study, outcome=outcome, participation=participation)
    context = {"study": study, "joined": True, "out_of_pairs": study.stopped_at is None}
    return platform_exit(request, target, "ratings/stopped.html", context, status=409)


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
        try:
            raters.participation_consent(participation=participation)
        except raters.StudyFull as full:
            # The places went to those who consented first (joining alone takes none).
            participation.refresh_from_db()
            target = crowd.exit_target(study=study, outcome=participation.outcome or crowd.Outcome.QUOTA_FULL, participation=participation)
            return platform_exit(request, target, "ratings/full.html", {"study": study, "message": str(full)}, status=409)
        return redirect("ratings:rate", study_id=study.pk)
    crowd.participation_decline(participation=participation)
    crowd_rater = participation.rater.source != Rater.Source.ACCOUNT
    target = crowd.exit_target(study=study, outcome=crowd.Outcome.NO_CONSENT, participation=participation)
    response = platform_exit(request, target if crowd_rater else {}, "ratings/withdrawn.html", {"study": study, "declined": True, "crowd": crowd_rater})
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


@require_POST
@rater_page
def instructions(request: HttpRequest, study: Study, participation: Participation) -> HttpResponse:
    raters.participation_instructed(participation=participation)
    return redirect("ratings:rate", study_id=study.pk)


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
            if participation.answered == 0:
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
        context = {"study": study, "joined": True, "out_of_pairs": participation.outcome_reason == crowd.OUT_OF_PAIRS}
        return platform_exit(request, target, "ratings/stopped.html", context, status=409)
    target = crowd.exit_target(study=study, outcome=participation.outcome, participation=participation)
    return platform_exit(request, target, "ratings/finished.html", context)


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
