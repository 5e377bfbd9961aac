"""The rating page's JSON endpoints: a vote (both answers in, the next pairs out; also as a plain
form post) and a report (skip a broken or offensive pair)."""

from __future__ import annotations

import json
import uuid

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from .. import identity, raters, scheduler
from .context import FORBIDDEN, INVALID, session_payload


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
    result = raters.vote_submit(study_id=study_id, rater_id=rater_id, token=token, answers=answers, response_ms=response_ms)
    if result["status"] == FORBIDDEN.status:
        if is_json:
            return JsonResponse({"status": FORBIDDEN.status, "message": FORBIDDEN.message}, status=FORBIDDEN.http_status)
        raise PermissionDenied(FORBIDDEN.message)
    if not is_json:
        if "message" in result:
            request.session["vote_error"] = result["message"]
        return redirect("ratings:rate", study_id=study_id)
    return JsonResponse(session_payload(study_id, result), status=scheduler.Outcome.of(result["status"]).http_status)


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
    except scheduler.ReportRefused as refused:
        # Not skipped: the same pairs stay on the page, with why.
        current = scheduler.session_serve(study_id=study_id, rater_id=rater_id)
        payload = session_payload(study_id, {**current, "status": "report_refused", "message": refused.message})
        return JsonResponse(payload, status=refused.http_status)
    return JsonResponse(session_payload(study_id, {**result, "status": scheduler.Outcome.REPORTED.status}))
