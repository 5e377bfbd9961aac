"""What the rater's pages and JSON answers share: the questions a page asks with their keys, a
served comparison as the page's script reads it, and the way out to the crowd platform."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render

from .. import scheduler, selectors
from ..models import CRITERION_QUESTIONS, Study

FORBIDDEN, INVALID = scheduler.Outcome.FORBIDDEN, scheduler.Outcome.INVALID


def page_questions(study: Study, criteria: list[str] | None = None) -> list[dict]:
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


def set_questions(study: Study) -> list[dict]:
    """The questions a set comparison asks (keys from 1 again: a page shows one kind at a time)."""
    return page_questions(study, list(study.set_criteria or []))


def instructions_context(study: Study) -> dict:
    return {"questions": page_questions(study), "set_questions": set_questions(study), "example": selectors.example_pair(study=study)}


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


def session_payload(study_id: int, result: dict) -> dict:
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


def platform_exit(request: HttpRequest, target: dict, template: str, context: dict, status: int = 200) -> HttpResponse:
    """Send a participant back to their crowd platform with their outcome's code: a redirect to
    the completion URL, or the page with the code (and, for MTurk, the form that posts it)."""
    if "redirect" in target:
        return HttpResponseRedirect(target["redirect"])
    return render(request, template, {**context, "exit": target}, status=status)
