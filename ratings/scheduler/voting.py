"""Voting and reporting: record one answer per criterion for a served pair (or skip it with a
reason), then serve the next, in one transaction; ``vote_submit`` is one PL/pgSQL call on
PostgreSQL, the ORM code below elsewhere."""

from __future__ import annotations

import json
import random
from collections.abc import Mapping

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from .. import selectors
from ..models import REPORT_REASONS, Comparison, PairSlot, Participation, Rater, Study, Vote
from . import sql
from .attention import attention_check_failed
from .outcomes import BAD_ANSWER, MISSING_ANSWERS, Outcome
from .reservations import release_rows
from .serving import serve_python, serve_result, session_serve, slot_cap

# What a rater's page sends for each criterion, mapped to the stored choice given the sides.
SIDES = ("left", "right", "tie")

# A pair reported this many times is no longer served to anyone.
REPORTS_TO_RETIRE = 2


def vote_submit(*, study_id: int, rater_id: int, token, answers: Mapping[str, str], response_ms: int, rng: random.Random | None = None) -> dict:
    """Record the answers to one served pair and serve the next; one statement on PostgreSQL.

    Returns ``{"status": an Outcome's status, "message"?, "answered", "quota", "pairs"}``; only
    ``recorded`` wrote votes.
    """
    answers = {str(k): str(v) for k, v in answers.items()}
    response_ms = max(0, min(int(response_ms), 2_000_000_000))
    if sql.hot_path_enabled():
        result = sql.call("ratings_vote", [study_id, rater_id, str(token), json.dumps(answers), response_ms])
    else:
        result = _vote_python(study_id=study_id, rater_id=rater_id, token=token, answers=answers, response_ms=response_ms, rng=rng or random.SystemRandom())
    if result.pop("flagged_now", False):  # never shown to the rater
        from ..results.caches import leaderboards_invalidate

        leaderboards_invalidate(study_ids=[study_id])
    return result


def vote_record(*, token, rater: Rater, answers: Mapping[str, str], response_ms: int) -> Comparison:
    """Record one answer per criterion for a comparison served to this rater.

    A second submit of the same comparison counts once; a comparison served to someone else
    raises ``PermissionDenied`` and writes nothing; a refused vote raises ``ValidationError``.
    """
    comparison = Comparison.objects.filter(token=token).only("study_id", "rater_id").first()
    if comparison is None or comparison.rater_id != rater.pk:
        raise PermissionDenied(Outcome.FORBIDDEN.message)
    result = vote_submit(study_id=comparison.study_id, rater_id=rater.pk, token=token, answers=answers, response_ms=response_ms)
    if result["status"] == Outcome.FORBIDDEN.status:
        raise PermissionDenied(Outcome.FORBIDDEN.message)
    if result["status"] not in (Outcome.RECORDED.status, Outcome.DUPLICATE.status):
        raise ValidationError(result["message"])
    return Comparison.objects.get(token=token)


def comparison_report(*, study_id: int, rater_id: int, token, reason: str, note: str = "") -> dict:
    """Skip a pair and say why (a broken or offensive image); its reservation goes back, a pair
    reported ``REPORTS_TO_RETIRE`` times is served no more, and another pair is served."""
    if reason not in dict(REPORT_REASONS):
        raise ValidationError("Choose why you skip this pair: " + ", ".join(dict(REPORT_REASONS)) + ".")
    now = timezone.now()
    with transaction.atomic():
        participation = Participation.objects.select_for_update().filter(study_id=study_id, rater_id=rater_id).first()
        comparison = Comparison.objects.select_for_update().filter(token=token).first()
        if participation is None or comparison is None or comparison.rater_id != rater_id or comparison.study_id != study_id:
            raise PermissionDenied(Outcome.FORBIDDEN.message)
        if comparison.answered_at is None and comparison.reported_at is None:
            if comparison.released_at is None:
                release_rows([(comparison.pk, comparison.slot_id, comparison.is_repeat)], now=now)
            Comparison.objects.filter(pk=comparison.pk).update(
                reported_at=now, report_reason=reason, report_note=note[:500], released_at=now
            )
            if comparison.slot_id is not None and (
                Comparison.objects.filter(slot_id=comparison.slot_id, reported_at__isnull=False).count() >= REPORTS_TO_RETIRE
            ):
                PairSlot.objects.filter(pk=comparison.slot_id).update(retired=True)
    return session_serve(study_id=study_id, rater_id=rater_id)


def answers_problem(study: Study, answers: Mapping[str, str], criteria: list[str] | None = None) -> str | None:
    """Why ``answers`` cannot be recorded for this study's ``criteria`` (default: its pair
    criteria; a criterion unanswered, or an answer that is not a side), or None."""
    criteria = list(study.criteria) if criteria is None else criteria
    missing = [c for c in criteria if not answers.get(c)]
    if missing:
        return MISSING_ANSWERS.format(missing=", ".join(missing))
    allowed = SIDES if study.allow_ties else SIDES[:2]
    for criterion in criteria:
        if answers[criterion] not in allowed:
            return BAD_ANSWER.format(criterion=criterion, allowed="left, right or tie" if study.allow_ties else "left or right")
    return None


# The ORM path: the same steps as ratings_vote in the newest .sql file.

def _vote_python(*, study_id: int, rater_id: int, token, answers: Mapping[str, str], response_ms: int, rng: random.Random) -> dict:
    now = timezone.now()

    def serve_with(outcome: Outcome, message: str | None = None) -> dict:
        result = serve_python(study_id=study_id, rater_id=rater_id, rng=rng)
        message = message or outcome.message
        return {**result, "status": outcome.status, **({"message": message} if message else {})}

    def refused(outcome: Outcome) -> dict:
        return {**serve_result(study, participation), "status": outcome.status, "message": outcome.message}

    with transaction.atomic():
        participation = Participation.objects.select_for_update().filter(study_id=study_id, rater_id=rater_id).first()
        comparison = Comparison.objects.select_for_update().filter(token=token).first()
        if participation is None or comparison is None or comparison.rater_id != rater_id or comparison.study_id != study_id:
            return {"status": Outcome.FORBIDDEN.status}
        if comparison.answered_at is not None:
            return serve_with(Outcome.DUPLICATE)
        if comparison.reported_at is not None:
            return serve_with(Outcome.REPORTED)
        study = Study.objects.get(pk=study_id)
        if study.status != Study.Status.RATING:
            return refused(Outcome.CLOSED)
        if participation.finished_at is not None:
            return refused(Outcome.FINISHED)
        if participation.answered >= study.quota_per_rater:
            return refused(Outcome.QUOTA)
        # A set comparison asks the set criteria (looked up only in studies that have them).
        criteria = selectors.comparison_criteria(study=study, comparison=comparison)
        problem = answers_problem(study, answers, criteria)
        if problem:
            return {"status": Outcome.INVALID.status, "message": problem}
        started = max(comparison.served_at, participation.last_answered_at or comparison.served_at)
        if (now - started).total_seconds() < study.min_seconds_per_vote:
            return serve_with(Outcome.TOO_FAST, Outcome.TOO_FAST.message.format(seconds=f"{study.min_seconds_per_vote:g}"))
        if comparison.released_at is not None and comparison.slot_id is not None and not comparison.is_repeat:
            retaken = PairSlot.objects.filter(
                pk=comparison.slot_id, filled__lt=slot_cap(study), retired=False
            ).update(filled=F("filled") + 1)
            if not retaken:
                return serve_with(Outcome.EXPIRED)

        def choice(side: str) -> str:
            if side == "tie":
                return Vote.Choice.TIE
            return Vote.Choice.A if (side == "left") == comparison.left_is_a else Vote.Choice.B

        choices = {c: choice(answers[c]) for c in criteria}
        Vote.objects.bulk_create(
            Vote(comparison=comparison, criterion=c, choice=choices[c], response_ms=response_ms, created_at=now)
            for c in criteria
        )
        failed = attention_check_failed(comparison, criteria=criteria, choices=choices)
        Comparison.objects.filter(pk=comparison.pk).update(answered_at=now, released_at=None, failed_check=failed)
        Participation.objects.filter(pk=participation.pk).update(
            answered=F("answered") + 1, last_answered_at=now, failed_checks=F("failed_checks") + (1 if failed else 0)
        )
        participation.refresh_from_db(fields=["failed_checks", "flagged"])
        if failed and participation.failed_checks >= study.flag_after_failed_checks and not participation.flagged:
            # Flagged in this study only; vote_submit refreshes the study's cached leaderboards.
            Participation.objects.filter(pk=participation.pk).update(flagged=True, flag_reason=Participation.FlagReason.ATTENTION_CHECKS)
            return {**serve_with(Outcome.RECORDED), "flagged_now": True}
        return serve_with(Outcome.RECORDED)
