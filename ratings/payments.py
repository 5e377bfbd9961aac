"""Reviewing and paying a study's participants: one row per participant with what a crowd
platform's review needs (ids, times, work, checks, outcome), a suggested decision with its
reason, staff's override, and the bonus; as rows (the API), CSV (the download) and the
override service (the admin).

Rules:

- **Active minutes**: the events of a session are the end of the instructions (or of the
  screener) and each answered pair; active time is the sum of the gaps between consecutive
  events, each gap counted at most ``ACTIVE_GAP_CAP`` (5 minutes), so a break counts as 5
  minutes, not its length.
- **Suggested decision**: completed → approve (the reason notes a flag for self-consistency or
  by staff, to review), but never with no counted pairs (answered pairs, attention checks and
  repeats included as the work asked of them, with a vote not excluded by staff; a withdrawn
  participant's answered pairs, since the withdrawal is what excluded them): then return, saying
  so; screened out by failed attention checks → reject, saying how many
  failed; screened out by the screener → return (they never rated); no consent, the study full
  or stopped, or left before finishing → return. Staff's override (``PaymentDecision``) wins.
- **Bonus**: ``Study.bonus_per_pair`` times the pairs answered, for a final decision of
  approve; 0 otherwise. Rounded to cents (half up), in the crowd platform's currency.
- **Withdrawn participants** appear only when they had been given an outcome code before
  withdrawing (the platform holds their submission, so it must still be approved or returned):
  with their platform ids, outcome, decision and bonus, and nothing else (no times, answers,
  checks, consistency or feedback). A participant who withdrew before any code has no
  submission to pay; their row says only that they withdrew.
"""

from __future__ import annotations

import io
from collections import defaultdict
from datetime import timedelta
from datetime import timezone as dt_timezone
from decimal import ROUND_HALF_UP, Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from . import rater_reads
from .models import Comparison, Participation, PaymentDecision, Rater, Study

ACTIVE_GAP_CAP = timedelta(minutes=5)
Decision = PaymentDecision.Decision
Outcome = Participation.Outcome
CENT = Decimal("0.01")

COLUMNS = [
    "participation_id", "platform", "crowd_id", "crowd_study_id", "crowd_session_id", "withdrawn", "started_at", "finished_at",
    "active_minutes", "pairs_answered", "attention_checks_passed", "attention_checks_failed", "self_consistency", "flagged",
    "outcome", "outcome_reason", "suggested_decision", "suggested_reason", "decision", "decision_reason", "decided_by",
    "decided_at", "bonus", "feedback",
]


def active_minutes(events: list) -> float:
    """Sum of the gaps between consecutive datetimes (sorted here), each capped at ``ACTIVE_GAP_CAP``."""
    events = sorted(event for event in events if event is not None)
    active = sum((min(b - a, ACTIVE_GAP_CAP) for a, b in zip(events, events[1:])), timedelta())
    return round(active.total_seconds() / 60, 2)


def suggested_decision(*, study: Study, participation: Participation, counted_pairs: int | None = None) -> tuple[str, str]:
    """(decision, reason) for one participant, from their outcome, flags and ``counted_pairs``
    (see the module docstring; None: read here)."""
    outcome, answered = participation.outcome, participation.answered
    if counted_pairs is None:
        counted_pairs = study_counted_pairs(study=study).get(participation.rater_id, 0)
    if outcome == Outcome.COMPLETED and counted_pairs == 0:
        return Decision.RETURN, (
            f"no counted pairs: {answered} answered, none with a vote that counts; review before approving"
        )
    if outcome == Outcome.COMPLETED:
        reason = f"completed {answered} pair{'s' if answered != 1 else ''}"
        if participation.flagged:
            reason += f"; flagged ({participation.get_flag_reason_display()}): review before approving"
        return Decision.APPROVE, reason
    if outcome == Outcome.SCREENED_OUT:
        if participation.flag_reason == Participation.FlagReason.ATTENTION_CHECKS or participation.failed_checks:
            return Decision.REJECT, (
                f"{participation.outcome_reason or 'failed attention checks'} "
                f"(the study screens out at {study.flag_after_failed_checks})"
            )
        return Decision.RETURN, participation.outcome_reason or "failed the screener before rating"
    if outcome == Outcome.NO_CONSENT:
        return Decision.RETURN, "did not consent"
    if outcome == Outcome.QUOTA_FULL:
        return Decision.RETURN, participation.outcome_reason or "the study was full or stopped before they rated"
    if participation.rater.withdrawn_at is not None:
        return Decision.RETURN, "withdrew before finishing"
    if answered == 0:
        return Decision.RETURN, "left before answering"
    return Decision.RETURN, f"left after {answered} pair{'s' if answered != 1 else ''} without finishing (no code given)"


def study_counted_pairs(*, study: Study) -> dict[int, int]:
    """rater id -> answered pairs that count as work (attention checks and repeats included: they
    were asked of the participant): with a vote not excluded by staff, or any answered pair of a
    rater who withdrew (withdrawing is what excluded them)."""
    answered = Comparison.objects.filter(study=study, answered_at__isnull=False)
    counted = answered.filter(Q(votes__excluded=False) | Q(rater__withdrawn_at__isnull=False)).values("rater_id")
    return {
        row["rater_id"]: row["pairs"] for row in counted.annotate(pairs=Count("pk", distinct=True)).values("rater_id", "pairs")
    }


def study_participants(*, study: Study) -> list[dict]:
    """One row per participant of the study (``COLUMNS``), oldest first."""
    participations = list(
        Participation.objects.filter(study=study).select_related("rater__user", "payment_decision__decided_by").order_by("started_at", "pk")
    )
    answered_at: dict[int, list] = defaultdict(list)
    for rater_id, at in Comparison.objects.filter(study=study, answered_at__isnull=False).values_list("rater_id", "answered_at"):
        answered_at[rater_id].append(at)
    checks = rater_reads.study_attention_checks(study=study)
    counted_pairs = study_counted_pairs(study=study)
    consistency = rater_reads.study_self_consistency(study=study)["raters"]
    rows = []
    for participation in participations:
        rater = participation.rater
        suggested, suggested_reason = suggested_decision(
            study=study, participation=participation, counted_pairs=counted_pairs.get(rater.pk, 0)
        )
        override = getattr(participation, "payment_decision", None)
        decision = override.decision if override else suggested
        bonus = (study.bonus_per_pair * participation.answered).quantize(CENT, ROUND_HALF_UP) if decision == Decision.APPROVE else Decimal("0.00")
        row = dict.fromkeys(COLUMNS)
        row.update({
            "participation_id": participation.pk,
            "platform": rater.source,
            "outcome": participation.outcome,
            "suggested_decision": suggested,
            "suggested_reason": suggested_reason,
            "decision": decision,
            "decision_reason": override.reason if override else suggested_reason,
            "decided_by": (override.decided_by.get_username() if override.decided_by else "") if override else "",
            "decided_at": override.decided_at if override else None,
            "bonus": bonus,
            "withdrawn": rater.withdrawn_at is not None,
        })
        if rater.withdrawn_at is not None:
            # Only what the platform needs to settle a submission it holds (see the module docstring).
            if participation.withdrawn_crowd_id:
                row.update(crowd_id=participation.withdrawn_crowd_id, crowd_study_id=participation.crowd_study_id,
                           crowd_session_id=participation.crowd_session_id)
            else:
                row.update(bonus=Decimal("0.00"))
            rows.append(row)
            continue
        passed, failed = checks.get(rater.pk, (0, 0))
        start = participation.screener_passed_at or participation.instructed_at
        row.update({
            "crowd_id": rater.external_id if rater.source != Rater.Source.ACCOUNT else (rater.user.get_username() if rater.user_id else ""),
            "crowd_study_id": participation.crowd_study_id,
            "crowd_session_id": participation.crowd_session_id,
            "started_at": participation.started_at,
            "finished_at": participation.finished_at,
            "active_minutes": active_minutes([start, *answered_at[rater.pk]]) if answered_at[rater.pk] else 0.0,
            "pairs_answered": participation.answered,
            "attention_checks_passed": passed,
            "attention_checks_failed": failed,
            "self_consistency": consistency.get(rater.pk, {}).get("share"),
            "flagged": participation.flagged,
            "outcome_reason": participation.outcome_reason,
            "feedback": participation.feedback,
        })
        rows.append(row)
    return rows


def study_feedback(*, study: Study) -> dict:
    """For the staff page: participants per outcome, and the feedback left on the finish page
    (newest first; withdrawn participants' feedback is deleted with their data)."""
    outcomes = dict.fromkeys([*Outcome.values, ""], 0)
    for outcome in Participation.objects.filter(study=study).values_list("outcome", flat=True):
        outcomes[outcome] += 1
    feedback = list(
        Participation.objects.filter(study=study, rater__withdrawn_at__isnull=True).exclude(feedback="")
        .order_by("-feedback_at").values("pk", "outcome", "feedback", "feedback_at")[:200]
    )
    return {"outcomes": [(Outcome(k).label if k else "still rating or left", n) for k, n in outcomes.items()], "feedback": feedback}


def participants_csv(*, study: Study) -> bytes:
    """The participants export as CSV (``COLUMNS``; times in UTC ISO 8601, empty where unknown)."""
    from ratings.stats.formats import csv_writer

    buffer = io.StringIO()
    writer = csv_writer(buffer, COLUMNS)  # crowd ids and feedback are the participants' text: no formulas
    writer.writeheader()
    for row in study_participants(study=study):
        writer.writerow({key: _cell(value) for key, value in row.items()})
    return buffer.getvalue().encode()


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if hasattr(value, "isoformat"):
        return value.astimezone(dt_timezone.utc).isoformat()
    return str(value)


def payment_decision_override(*, participation: Participation, decision: str, reason: str, by) -> PaymentDecision:
    """Staff decide a participant's payment, replacing the suggestion (and any earlier override);
    who and when are recorded and go into the export."""
    if decision not in Decision.values:
        raise ValidationError({"decision": f"Choose one of {', '.join(Decision.values)}; not {decision!r}."})
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why, in a few words: the export and the participant's review show it."})
    with transaction.atomic():
        override, _ = PaymentDecision.objects.update_or_create(
            participation=participation,
            defaults={"decision": decision, "reason": reason[:300], "decided_by": by, "decided_at": timezone.now()},
        )
    return override


def payment_decision_clear(*, participation: Participation) -> int:
    """Back to the suggested decision; returns the overrides removed."""
    deleted, _ = PaymentDecision.objects.filter(participation=participation).delete()
    return deleted
