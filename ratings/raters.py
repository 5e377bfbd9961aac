"""Raters: how they join a study (accounts, crowd links, the participant cap), consent,
finish and withdraw; flags and exclusions (never a delete); and the reads about a study's raters
(how much and how fast they vote, agreement, attention checks, self-consistency)."""

from __future__ import annotations

import statistics
import uuid
from collections import Counter, defaultdict
from datetime import timedelta

import numpy as np
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from . import scheduler
from .models import Comparison, Participation, Rater, Study, Vote
from .results.caches import leaderboards_invalidate, rater_leaderboards_invalidate


class StudyFull(Exception):
    """The study reached its cap on participants."""


class StudyBusy(StudyFull):
    """Too many new participants joined the study in the last minute; try again shortly."""


class ParticipantTaken(Exception):
    """A crowd participant id that already started this study in another browser."""


PARTICIPANT_TAKEN = (
    "This participant id has already started this study in another browser or session. "
    "Continue in the browser where you started, from the same study link; if you cannot, contact the researcher."
)


def rater_invite(*, study: Study, user) -> Rater:
    rater, _ = Rater.objects.get_or_create(user=user, defaults={"source": Rater.Source.ACCOUNT})
    study.raters.add(rater)
    return rater


def participation_start(
    *, study: Study, rater: Rater, crowd_study_id: str = "", crowd_session_id: str = "", joins_per_minute: int | None = None
) -> Participation:
    """The rater's place in the study: resumed if it exists, else started unless the study is
    full (raises ``StudyFull``) or ``joins_per_minute`` new participants joined it in the last
    minute (raises ``StudyBusy``)."""
    existing = Participation.objects.filter(study=study, rater=rater).first()
    if existing is not None:
        return existing
    with transaction.atomic():
        # The study row lock makes the participant cap exact under concurrent joins.
        locked = Study.objects.select_for_update().get(pk=study.pk)
        existing = Participation.objects.filter(study=study, rater=rater).first()
        if existing is not None:
            return existing
        if locked.max_participants is not None and Participation.objects.filter(study=study).count() >= locked.max_participants:
            raise StudyFull(f"“{study.rater_title}” has all the participants it needs.")  # shown to raters: never the study name
        if joins_per_minute is not None and (
            Participation.objects.filter(study=study, started_at__gte=timezone.now() - timedelta(minutes=1)).count() >= joins_per_minute
        ):
            raise StudyBusy("Many people are joining this study right now. Please wait a minute and open your study link again.")
        return Participation.objects.create(
            study=study, rater=rater, crowd_study_id=crowd_study_id[:200], crowd_session_id=crowd_session_id[:200]
        )


def rater_join(
    *, study: Study, source: str, external_id: str, crowd_study_id: str = "", crowd_session_id: str = "",
    resuming_rater_id: int | None = None, joins_per_minute: int | None = None,
) -> tuple[Rater, Participation]:
    """A crowd participant arriving through a study link: one rater per platform id, one
    participation (one quota) per study. A participant id that already started the study is
    resumed only by the browser holding its cookie (``resuming_rater_id``) or by the same
    crowd session id; anyone else holding the id gets ``ParticipantTaken``, never the identity."""
    if source not in (Rater.Source.PROLIFIC, Rater.Source.MTURK) or not external_id:
        raise ValidationError("A crowd participant needs a platform and a participant id.")
    with transaction.atomic():
        rater = Rater.objects.filter(source=source, external_id=external_id).first()
        if rater is None:
            try:
                with transaction.atomic():
                    rater = Rater.objects.create(source=source, external_id=external_id)
            except IntegrityError:  # a concurrent first visit made it
                rater = Rater.objects.get(source=source, external_id=external_id)
    existing = Participation.objects.filter(study=study, rater=rater).first()
    if existing is not None:
        same_session = bool(crowd_session_id) and existing.crowd_session_id == crowd_session_id[:200]
        if resuming_rater_id == rater.pk or same_session:
            return rater, existing
        raise ParticipantTaken(PARTICIPANT_TAKEN)
    participation = participation_start(
        study=study, rater=rater, crowd_study_id=crowd_study_id, crowd_session_id=crowd_session_id, joins_per_minute=joins_per_minute
    )
    if participation.crowd_session_id != crowd_session_id[:200] and resuming_rater_id != rater.pk:
        raise ParticipantTaken(PARTICIPANT_TAKEN)  # a concurrent first join with another session won
    return rater, participation


def participation_consent(*, participation: Participation) -> None:
    Participation.objects.filter(pk=participation.pk, consented_at__isnull=True).update(consented_at=timezone.now())


def participation_instructed(*, participation: Participation) -> None:
    Participation.objects.filter(pk=participation.pk, instructed_at__isnull=True).update(instructed_at=timezone.now())


def participation_finish(*, participation: Participation) -> None:
    """No more pairs for this rater: their open reservations go back to the pool."""
    with transaction.atomic():
        scheduler.reservations_release(
            Comparison.objects.filter(study_id=participation.study_id, rater_id=participation.rater_id),
            now=timezone.now(),
        )
        Participation.objects.filter(pk=participation.pk, finished_at__isnull=True).update(finished_at=timezone.now())


def rater_withdraw(*, rater: Rater) -> None:
    """The rater leaves: every vote of theirs is excluded from every leaderboard (kept, as the
    data is append-only), open reservations are given back, and what identifies them (platform
    ids, account name and e-mail) and their feedback are removed; except that a participation
    which was given an outcome code keeps its platform ids (``withdrawn_crowd_id``, the crowd
    session id), because the platform holds that submission and must still approve or return it."""
    now = timezone.now()
    with transaction.atomic():
        Vote.objects.filter(comparison__rater=rater).update(excluded=True)
        scheduler.reservations_release(Comparison.objects.filter(rater=rater), now=now)
        # A participant given an outcome code has a submission on the platform still to approve
        # or return: only their platform ids stay for it (ratings/payments.py shows nothing else).
        external_id = Rater.objects.filter(pk=rater.pk).values_list("external_id", flat=True).first() or ""
        Participation.objects.filter(rater=rater).exclude(outcome="").update(withdrawn_crowd_id=external_id, feedback="")
        Participation.objects.filter(rater=rater, outcome="").update(crowd_study_id="", crowd_session_id="", crowd_submit_to="", feedback="")
        Participation.objects.filter(rater=rater, finished_at__isnull=True).update(finished_at=now)
        Rater.objects.filter(pk=rater.pk).update(external_id="", withdrawn_at=now)
        if rater.user_id is not None:
            user = get_user_model().objects.get(pk=rater.user_id)
            if not (user.is_staff or user.is_superuser):
                user.username = f"withdrawn-{rater.pk}-{uuid.uuid4().hex[:8]}"
                user.email = ""
                user.first_name = user.last_name = ""
                user.is_active = False
                user.set_unusable_password()
                user.save()
    rater_leaderboards_invalidate(rater=rater)


def rater_flag(*, study: Study, rater: Rater, flagged: bool = True, reason: str = "staff") -> int:
    """Flag (or clear) a rater in one study: flagged raters are left out of that study's
    leaderboards by default and still count in their other studies. Returns the participations
    changed; the study's cached leaderboards are refreshed."""
    changed = Participation.objects.filter(study=study, rater=rater).exclude(flagged=flagged).update(
        flagged=flagged, flag_reason=reason if flagged else ""
    )
    leaderboards_invalidate(study_ids=[study.pk])
    return changed


def rater_exclude(*, study: Study, rater: Rater, excluded: bool = True) -> int:
    """Exclude (or include again) every vote of a rater in one study; returns the votes changed.

    Votes are never deleted: excluding is a flag, so any leaderboard can be recomputed."""
    changed = Vote.objects.filter(comparison__study=study, comparison__rater=rater).exclude(excluded=excluded).update(excluded=excluded)
    leaderboards_invalidate(study_ids=[study.pk])
    return changed


def raters_flag_inconsistent(*, study: Study) -> int:
    """Flag, in this study, raters whose share of deliberate repeats answered the same way is
    below the study's ``min_self_consistency``, once they have ``min_repeats_to_judge`` repeated
    answers; returns the raters flagged. Nothing happens when the study sets no threshold."""
    if study.min_self_consistency is None:
        return 0
    below = [
        rater_id for rater_id, row in study_self_consistency(study=study)["raters"].items()
        if row["repeats"] >= study.min_repeats_to_judge and row["share"] is not None and row["share"] < study.min_self_consistency
    ]
    changed = Participation.objects.filter(study=study, rater_id__in=below, flagged=False).update(
        flagged=True, flag_reason=Participation.FlagReason.SELF_CONSISTENCY
    )
    if changed:
        leaderboards_invalidate(study_ids=[study.pk])
    return changed


def votes_exclude(*, votes, excluded: bool = True) -> int:
    """Exclude (or include again) chosen votes; returns the number changed. Never deletes. The
    cached leaderboards of the studies they belong to are refreshed."""
    chosen = Vote.objects.filter(pk__in=[vote.pk for vote in votes])
    study_ids = set(chosen.values_list("comparison__study_id", flat=True))
    changed = chosen.exclude(excluded=excluded).update(excluded=excluded)
    leaderboards_invalidate(study_ids=study_ids)
    return changed


def rater_exclude_everywhere(*, rater: Rater, excluded: bool = True) -> int:
    """Exclude (or include again) every vote of a rater, in every study; returns the votes changed."""
    changed = Vote.objects.filter(comparison__rater=rater).exclude(excluded=excluded).update(excluded=excluded)
    rater_leaderboards_invalidate(rater=rater)
    return changed


# Reads

def study_raters(*, study: Study):
    """Raters invited to the study or who answered in it."""
    return Rater.objects.filter(Q(studies=study) | Q(comparisons__study=study)).select_related("user").distinct().order_by("pk")


def real_comparisons(*, study: Study):
    """The study's comparisons of two models' images: attention checks and repeats left out."""
    return Comparison.objects.filter(study=study, attention_check__isnull=True, is_repeat=False)


def study_attention_checks(*, study: Study) -> dict[int, tuple[int, int]]:
    """rater id -> (answered attention checks passed, failed)."""
    passed: Counter = Counter()
    failed_n: Counter = Counter()
    checks = Comparison.objects.filter(study=study, failed_check__isnull=False).values_list("rater_id", "failed_check")
    for rater_id, failed in checks:
        failed_n[rater_id] += bool(failed)
        passed[rater_id] += not failed
    return {rater_id: (passed[rater_id], failed_n[rater_id]) for rater_id in passed.keys() | failed_n.keys()}


def _attention_accuracy(*, study: Study) -> dict[int, float]:
    """rater id -> share of answered attention checks passed."""
    return {rater_id: passed / (passed + failed) for rater_id, (passed, failed) in study_attention_checks(study=study).items()}


def study_rater_table(*, study: Study) -> list[dict]:
    """One row per rater: answered comparisons, votes, median seconds per comparison,
    attention-check accuracy, agreement with the other raters' majority, self-consistency on
    deliberate repeats (share answered the same way, with Krippendorff's alpha per criterion),
    flagged in this study (and why) and excluded votes.

    Agreement: over this rater's votes on a (pair of images, criterion) that at least one other
    rater answered with a strict majority, the share that matches that majority (None if none).
    """
    rows = list(
        Vote.objects.filter(comparison__in=real_comparisons(study=study)).values_list(
            "comparison__rater_id", "comparison_id", "comparison__image_a_id", "comparison__image_b_id",
            "criterion", "choice", "response_ms", "excluded",
        )
    )
    # The picked image (or a tie), so answers are comparable whichever image was "a".
    answers: dict[tuple, list[tuple[int, object]]] = defaultdict(list)
    for rater_id, _, image_a, image_b, criterion, choice, _, _ in rows:
        picked = image_a if choice == "a" else image_b if choice == "b" else "tie"
        answers[(frozenset((image_a, image_b)), criterion)].append((rater_id, picked))
    agree: Counter = Counter()
    compared: Counter = Counter()
    for entries in answers.values():
        for rater_id, picked in entries:
            others = Counter(p for r, p in entries if r != rater_id)
            if not others:
                continue
            (top, top_n), *rest = others.most_common()
            if rest and rest[0][1] == top_n:
                continue
            compared[rater_id] += 1
            agree[rater_id] += picked == top
    response_ms: dict[int, dict[int, int]] = defaultdict(dict)
    votes: Counter = Counter()
    excluded: Counter = Counter()
    for rater_id, comparison_id, _, _, _, _, ms, is_excluded in rows:
        response_ms[rater_id][comparison_id] = ms
        votes[rater_id] += 1
        excluded[rater_id] += is_excluded
    answered = Counter(real_comparisons(study=study).filter(answered_at__isnull=False).values_list("rater_id", flat=True))
    attention = _attention_accuracy(study=study)
    flags = dict(Participation.objects.filter(study=study, flagged=True).values_list("rater_id", "flag_reason"))
    consistency = study_self_consistency(study=study)["raters"]
    table = []
    for rater in study_raters(study=study):
        times = list(response_ms[rater.pk].values())
        table.append(
            {
                "rater": rater,
                "id": rater.pk,
                "name": str(rater),
                "source": rater.source,
                "comparisons": answered[rater.pk],
                "votes": votes[rater.pk],
                "median_seconds_per_vote": statistics.median(times) / 1000 if times else None,
                "attention_accuracy": attention.get(rater.pk),
                "agreement": agree[rater.pk] / compared[rater.pk] if compared[rater.pk] else None,
                "flagged": rater.pk in flags,
                "flag_reason": flags.get(rater.pk) or "",
                "excluded_votes": excluded[rater.pk],
                "self_consistency": consistency.get(rater.pk, {}).get("share"),
                "repeats": consistency.get(rater.pk, {}).get("repeats", 0),
                "self_consistency_by_criterion": consistency.get(rater.pk, {}).get("criteria", {}),
            }
        )
    return table


def study_self_consistency(*, study: Study) -> dict:
    """Deliberate repeats against the rater's first answer to the same pair, per criterion for
    the study ("criteria": {criterion: {repeats, same, share, alpha}}) and per rater ("raters":
    {rater id: {"repeats", "same", "share", "criteria": {...}}}). Answers are compared by the image
    picked (or a tie), so the side it was shown on does not matter; alpha is Krippendorff's
    alpha with each (first, repeat) as one unit rated twice. Withdrawn raters are left out."""
    from ratings.stats import self_consistency

    criteria = study.all_criteria  # a repeat of a set comparison asks its set criteria again
    repeats = list(
        Vote.objects.filter(
            comparison__study=study, comparison__is_repeat=True, comparison__repeat_of__isnull=False,
            comparison__rater__withdrawn_at__isnull=True,
        ).values_list(
            "comparison__rater_id", "comparison__repeat_of_id", "criterion", "choice", "comparison__image_a_id", "comparison__image_b_id",
        )
    )
    firsts = {
        (comparison_id, criterion): (image_a if choice == "a" else image_b if choice == "b" else "tie")
        for comparison_id, criterion, choice, image_a, image_b in Vote.objects.filter(
            comparison_id__in={row[1] for row in repeats}
        ).values_list("comparison_id", "criterion", "choice", "comparison__image_a_id", "comparison__image_b_id")
    }
    entries = [
        (rater_id, criteria.index(criterion), firsts[(first_id, criterion)], image_a if choice == "a" else image_b if choice == "b" else "tie")
        for rater_id, first_id, criterion, choice, image_a, image_b in repeats
        if criterion in criteria and (first_id, criterion) in firsts
    ]
    rater_ids = sorted({entry[0] for entry in entries})
    code = {rater_id: i for i, rater_id in enumerate(rater_ids)}
    result = self_consistency(
        [code[e[0]] for e in entries], [e[1] for e in entries],
        np.array([str(e[2]) for e in entries], dtype=object), np.array([str(e[3]) for e in entries], dtype=object),
        n_raters=len(rater_ids), n_criteria=len(criteria),
    )

    def cell(repeats_n, same_n, alpha) -> dict:
        return {
            "repeats": int(repeats_n), "same": int(same_n),
            "share": round(same_n / repeats_n, 4) if repeats_n else None,
            "alpha": None if not np.isfinite(alpha) else round(float(alpha), 4),
        }

    raters = {}
    for rater_id, i in code.items():
        total, same = int(result.repeats[i].sum()), int(result.same[i].sum())
        raters[rater_id] = {
            "repeats": total, "same": same, "share": round(same / total, 4) if total else None,
            "criteria": {c: cell(result.repeats[i, k], result.same[i, k], result.alpha[i, k]) for k, c in enumerate(criteria)},
        }
    return {
        "criteria": {c: cell(result.study_repeats[k], result.study_same[k], result.study_alpha[k]) for k, c in enumerate(criteria)},
        "raters": raters,
    }
