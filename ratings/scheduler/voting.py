"""Voting and reporting: record one answer per criterion for a served pair (or skip it with a
reason), then serve the next, in one transaction; ``vote_submit`` is one PL/pgSQL call on
PostgreSQL, the ORM code below elsewhere."""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from datetime import timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from ..models import REPORT_REASONS, Comparison, PairSlot, Participation, Study, Vote
from . import sql
from .attention import attention_check_failed
from .outcomes import BAD_ANSWER, MISSING_ANSWERS, Outcome
from .reservations import release_rows
from .rules import ALLOWED_WITH_TIES, ALLOWED_WITHOUT_TIES, SIDES, Side
from .serving import serve_python, serve_result, session_serve, slot_cap

# Reports are not a lever (issue 25): a pair is retired by reports only when this many distinct
# raters in good standing reported it (not flagged, not withdrawn, each with at least
# REPORTER_MIN_ANSWERED answered pairs in the study), and only while fewer than
# REPORT_RETIRED_SHARE of the study's pairs are retired by reports; past that, reported pairs keep
# being served until staff decide on the operations page (ratings/screening.py).
REPORTS_TO_RETIRE = 3
REPORTER_MIN_ANSWERED = 3
REPORT_RETIRED_SHARE = 0.1
# Skips one participant may make in a study: the larger of these two.
REPORTS_PER_PARTICIPANT = 5
REPORTS_PER_QUOTA = 0.2
# Skips a whole study takes per minute.
REPORTS_PER_STUDY_PER_MINUTE = 30

REPORT_CLOSED = "This study is not taking answers now (it is paused or closed); your report was not recorded."
REPORT_FINISHED = "Your session in this study has ended (you finished or withdrew); your report was not recorded."
REPORT_LIMIT = (
    "You have skipped {count} pairs in this study, as many as it allows; please answer this pair "
    "(or withdraw if you cannot go on)."
)
REPORTS_BUSY = "Many pairs of this study were skipped in the last minute; please answer this pair, or skip it again in a minute."


class ReportRefused(Exception):
    """A report not recorded: the session ended, the study is not rating, or a bound is reached.
    ``message`` is for the rater; ``http_status`` for the endpoint (409 or 429)."""

    def __init__(self, message: str, http_status: int):
        super().__init__(message)
        self.message = message
        self.http_status = http_status


def reports_allowed(study: Study) -> int:
    """How many pairs one participant may skip in this study."""
    return max(REPORTS_PER_PARTICIPANT, int(study.quota_per_rater * REPORTS_PER_QUOTA))


def vote_submit(*, study_id: int, rater_id: int, token, answers: Mapping[str, str], response_ms: int, rng: random.Random | None = None) -> dict:
    """Record the answers to one served pair and serve the next; one statement on PostgreSQL.

    Returns ``{"status": an Outcome's status, "message"?, "answered", "quota", "pairs",
    "flagged_now"?}``; only ``recorded`` wrote votes. ``flagged_now`` (never shown to the rater)
    says this vote's failed attention check flagged the participation: the caller refreshes what
    caches the study's results (``raters.vote_submit`` does).
    """
    answers = {str(k): str(v) for k, v in answers.items()}
    response_ms = max(0, min(int(response_ms), 2_000_000_000))
    if sql.hot_path_enabled():
        return sql.call("ratings_vote", [study_id, rater_id, str(token), json.dumps(answers), response_ms])
    return _vote_python(study_id=study_id, rater_id=rater_id, token=token, answers=answers, response_ms=response_ms, rng=rng or random.SystemRandom())


def comparison_report(*, study_id: int, rater_id: int, token, reason: str, note: str = "") -> dict:
    """Skip a pair and say why (a broken or offensive image); its reservation goes back and
    another pair is served. Raises ``ReportRefused`` (recording nothing) for a session that
    ended, a study not rating, or past ``reports_allowed`` skips of the participant or
    ``REPORTS_PER_STUDY_PER_MINUTE`` of the study. A pair is retired only on evidence
    (``_retire_on_evidence``)."""
    if reason not in dict(REPORT_REASONS):
        raise ValidationError("Choose why you skip this pair: " + ", ".join(dict(REPORT_REASONS)) + ".")
    now = timezone.now()
    with transaction.atomic():
        participation = Participation.objects.select_for_update().select_related("rater").filter(study_id=study_id, rater_id=rater_id).first()
        comparison = Comparison.objects.select_for_update().filter(token=token).first()
        if participation is None or comparison is None or comparison.rater_id != rater_id or comparison.study_id != study_id:
            raise PermissionDenied(Outcome.FORBIDDEN.message)
        if comparison.answered_at is None and comparison.reported_at is None:
            study = Study.objects.get(pk=study_id)
            if study.status != Study.Status.RATING:
                raise ReportRefused(REPORT_CLOSED, Outcome.CLOSED.http_status)
            if participation.finished_at is not None or participation.rater.withdrawn_at is not None:
                raise ReportRefused(REPORT_FINISHED, Outcome.FINISHED.http_status)
            skipped = Comparison.objects.filter(study_id=study_id, rater_id=rater_id, reported_at__isnull=False).count()
            if skipped >= reports_allowed(study):
                raise ReportRefused(REPORT_LIMIT.format(count=skipped), 429)
            recent = Comparison.objects.filter(study_id=study_id, reported_at__gte=now - timedelta(minutes=1)).count()
            if recent >= REPORTS_PER_STUDY_PER_MINUTE:
                raise ReportRefused(REPORTS_BUSY, 429)
            if comparison.released_at is None:
                release_rows([(comparison.pk, comparison.slot_id, comparison.is_repeat)], now=now)
            Comparison.objects.filter(pk=comparison.pk).update(
                reported_at=now, report_reason=reason, report_note=note[:500], released_at=now
            )
            if comparison.slot_id is not None:
                _retire_on_evidence(study_id=study_id, slot_id=comparison.slot_id, now=now)
    return session_serve(study_id=study_id, rater_id=rater_id)


def counted_reporters(*, study_id: int, slot: PairSlot) -> int:
    """Distinct raters whose reports of this slot count: reported since staff last served it
    again, in good standing (not flagged, not withdrawn) and with ``REPORTER_MIN_ANSWERED``
    answered pairs in the study, so that invented participants who answer nothing retire nothing."""
    reports = Comparison.objects.filter(slot_id=slot.pk, reported_at__isnull=False)
    if slot.reports_reviewed_at is not None:
        reports = reports.filter(reported_at__gt=slot.reports_reviewed_at)
    return Participation.objects.filter(
        study_id=study_id, rater_id__in=reports.values("rater_id"), flagged=False, answered__gte=REPORTER_MIN_ANSWERED,
        rater__withdrawn_at__isnull=True,
    ).count()


def _retire_on_evidence(*, study_id: int, slot_id: int, now) -> bool:
    """Retire a reported slot when ``REPORTS_TO_RETIRE`` counted raters reported it and reports
    have retired fewer than ``REPORT_RETIRED_SHARE`` of the study's slots; returns whether it did."""
    slot = PairSlot.objects.select_for_update().filter(pk=slot_id, retired=False).first()
    if slot is None or counted_reporters(study_id=study_id, slot=slot) < REPORTS_TO_RETIRE:
        return False
    slots = PairSlot.objects.filter(study_id=study_id)
    if slots.filter(report_retired_at__isnull=False).count() >= max(1, int(slots.count() * REPORT_RETIRED_SHARE)):
        return False  # reported pairs wait for staff on the operations page
    PairSlot.objects.filter(pk=slot_id).update(retired=True, report_retired_at=now)
    return True


def comparison_criteria(*, study: Study, comparison: Comparison) -> list[str]:
    """The criteria a comparison asks: the study's set criteria for one served from a set slot,
    its (pair) criteria otherwise."""
    if study.set_criteria and comparison.slot_id is not None and (
        PairSlot.objects.filter(pk=comparison.slot_id, kind=PairSlot.Kind.SET).exists()
    ):
        return list(study.set_criteria)
    return list(study.criteria)


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
            return BAD_ANSWER.format(criterion=criterion, allowed=ALLOWED_WITH_TIES if study.allow_ties else ALLOWED_WITHOUT_TIES)
    return None


# The ORM path: the same steps as ratings_vote.sql in the newest version in sql/.

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
        criteria = comparison_criteria(study=study, comparison=comparison)
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
            if side == Side.TIE:
                return Vote.Choice.TIE
            return Vote.Choice.A if (side == Side.LEFT) == comparison.left_is_a else Vote.Choice.B

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
            # Flagged in this study only; the caller refreshes the study's cached leaderboards.
            Participation.objects.filter(pk=participation.pk).update(flagged=True, flag_reason=Participation.FlagReason.ATTENTION_CHECKS)
            return {**serve_with(Outcome.RECORDED), "flagged_now": True}
        return serve_with(Outcome.RECORDED)
