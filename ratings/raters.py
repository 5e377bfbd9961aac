"""Raters: how they join a study (accounts, crowd links, the participant cap), consent,
finish and withdraw; their votes through the scheduler (``vote_submit``: a flag refreshes the
cached results). Flags and exclusions are ``rater_flags.py``; the reads about a study's raters
(how much and how fast they vote, agreement, attention checks, self-consistency) are
``rater_reads.py``."""

from __future__ import annotations

import time
import uuid

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac

from . import scheduler
from .models import Comparison, Participation, Rater, Study, Vote
from .results.caches import leaderboards_invalidate, rater_leaderboards_invalidate


class StudyFull(Exception):
    """The study reached its cap on participants."""


class StudyBusy(StudyFull):
    """Too many joins to this study from one client address, or with one participant id, in the
    last minute; try again shortly."""


class ParticipantTaken(Exception):
    """A crowd participant id that already started this study in another browser."""


class OutcomeFinal(Exception):
    """A crowd participant id whose session in this study already ended with an outcome (or who
    withdrew from it): they meet that outcome again, never a fresh session."""

    def __init__(self, participation: Participation):
        super().__init__("This participant id has already taken part in this study.")
        self.participation = participation


PARTICIPANT_TAKEN = (
    "This participant id has already started this study in another browser or session. "
    "Continue in the browser where you started, from the same study link; if you cannot, contact the researcher."
)
JOINS_BUSY = "Many people are joining this study from your network right now. Please wait a minute and open your study link again."
JOINS_BUSY_ID = "This participant id has opened the study link many times in the last minute. Please wait a minute and try again."


def crowd_id_digest(*, study_id: int, source: str, external_id: str) -> str:
    """A keyed digest of a platform id within one study: recognises the id when it comes back
    (also after withdrawal, when the id itself is deleted) without keeping it."""
    return salted_hmac("ratings.crowd-id", f"{study_id}:{source}:{external_id}").hexdigest()


def join_window() -> int:
    """The current minute, the join throttle's window."""
    return int(time.time() // 60)


def join_throttle(*, study_id: int, client: str, source: str, external_id: str, per_address: int | None, per_id: int | None) -> None:
    """Count one join of a study link from ``client`` with a platform id; raises ``StudyBusy``
    past ``per_address`` joins from that address or ``per_id`` with that id in this minute (a
    fixed one-minute window in the cache, shared by every web process)."""
    window = join_window()
    for limit, key, message in (
        (per_address, f"ratings:joins:{study_id}:{window}:address:{client}", JOINS_BUSY),
        (per_id, f"ratings:joins:{study_id}:{window}:id:{crowd_id_digest(study_id=study_id, source=source, external_id=external_id)}", JOINS_BUSY_ID),
    ):
        if limit is None:
            continue
        cache.add(key, 0, timeout=120)
        try:
            count = cache.incr(key)
        except ValueError:  # the key expired between add and incr
            cache.add(key, 1, timeout=120)
            count = 1
        if count > limit:
            raise StudyBusy(message)


def counted_participants(*, study: Study):
    """The participations that count against ``max_participants``: those who consented, except
    who withdrew before any outcome code (they have no submission and take no place). Joining
    alone takes no place, so invented ids that never consent close nothing."""
    return Participation.objects.filter(study=study, consented_at__isnull=False).exclude(
        rater__withdrawn_at__isnull=False, outcome=""
    )


def study_full_message(study: Study) -> str:
    return f"“{study.rater_title}” has all the participants it needs."  # shown to raters: never the study name


def rater_invite(*, study: Study, user) -> Rater:
    rater, _ = Rater.objects.get_or_create(user=user, defaults={"source": Rater.Source.ACCOUNT})
    study.raters.add(rater)
    return rater


def vote_submit(*, study_id: int, rater_id: int, token, answers, response_ms: int, rng=None) -> dict:
    """A rater's answers to one served pair, through ``scheduler.vote_submit`` (the views call
    this): a vote whose failed attention check flags the participation refreshes the study's
    cached leaderboards at once, and the rater is never told (``flagged_now`` is not returned)."""
    result = scheduler.vote_submit(study_id=study_id, rater_id=rater_id, token=token, answers=answers, response_ms=response_ms, rng=rng)
    if result.pop("flagged_now", False):
        leaderboards_invalidate(study_ids=[study_id])
    return result


def participation_start(
    *, study: Study, rater: Rater, crowd_study_id: str = "", crowd_session_id: str = "", crowd_id_digest: str = "",
) -> Participation:
    """The rater's place in the study: resumed if it exists, else started unless the study
    already has all the participants it needs (raises ``StudyFull``; only consented participants
    count, see ``counted_participants``)."""
    existing = Participation.objects.filter(study=study, rater=rater).first()
    if existing is not None:
        return existing
    with transaction.atomic():
        locked = Study.objects.select_for_update().get(pk=study.pk)
        existing = Participation.objects.filter(study=study, rater=rater).first()
        if existing is not None:
            return existing
        if locked.max_participants is not None and counted_participants(study=study).count() >= locked.max_participants:
            raise StudyFull(study_full_message(study))
        return Participation.objects.create(
            study=study, rater=rater, crowd_study_id=crowd_study_id[:200], crowd_session_id=crowd_session_id[:200],
            crowd_id_digest=crowd_id_digest,
        )


def rater_join(
    *, study: Study, source: str, external_id: str, crowd_study_id: str = "", crowd_session_id: str = "",
    resuming_rater_id: int | None = None,
) -> tuple[Rater, Participation]:
    """A crowd participant arriving through a study link: one rater per platform id, one
    participation (one quota) per study. A participant id that already started the study is
    resumed only by the browser holding its cookie (``resuming_rater_id``) or by the same
    crowd session id; anyone else holding the id gets ``ParticipantTaken``, never the identity.

    An id's outcome is final: an id that withdrew from the study, or whose session ended other
    than completed (screened out, no consent, quota full), gets ``OutcomeFinal`` with that
    participation: the same outcome and code again, never a fresh session."""
    if source not in (Rater.Source.PROLIFIC, Rater.Source.MTURK) or not external_id:
        raise ValidationError("A crowd participant needs a platform and a participant id.")
    digest = crowd_id_digest(study_id=study.pk, source=source, external_id=external_id)
    # A withdrawal deletes the id from its rater row; the digest still knows it came before.
    withdrawn = Participation.objects.filter(study=study, crowd_id_digest=digest, rater__withdrawn_at__isnull=False).first()
    if withdrawn is not None:
        raise OutcomeFinal(withdrawn)
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
        if existing.outcome and existing.outcome != Participation.Outcome.COMPLETED:
            # Not a completion code: handing the same code to whoever holds the id gives nothing away.
            raise OutcomeFinal(existing)
        raise ParticipantTaken(PARTICIPANT_TAKEN)
    participation = participation_start(
        study=study, rater=rater, crowd_study_id=crowd_study_id, crowd_session_id=crowd_session_id, crowd_id_digest=digest,
    )
    if participation.crowd_session_id != crowd_session_id[:200] and resuming_rater_id != rater.pk:
        raise ParticipantTaken(PARTICIPANT_TAKEN)  # a concurrent first join with another session won
    return rater, participation


def participation_consent(*, participation: Participation) -> None:
    """The participant agrees to take part, and from now takes one of the study's
    ``max_participants`` places; raises ``StudyFull`` (and records the quota-full outcome, their
    session ending) when the places were taken meanwhile. The study row lock makes the cap exact
    under concurrent consents."""
    with transaction.atomic():
        study = Study.objects.select_for_update().get(pk=participation.study_id)
        current = Participation.objects.select_for_update().get(pk=participation.pk)
        if current.consented_at is not None:
            return
        if current.outcome or current.finished_at is not None:
            return  # their session ended already (e.g. quota full): consenting now changes nothing
        full = study.max_participants is not None and counted_participants(study=study).count() >= study.max_participants
        now = timezone.now()
        if full:
            Participation.objects.filter(pk=current.pk, outcome="").update(
                outcome=Participation.Outcome.QUOTA_FULL, outcome_at=now, outcome_reason="the study filled up before they consented",
                finished_at=now,
            )
        else:
            Participation.objects.filter(pk=current.pk).update(consented_at=now)
    if full:
        raise StudyFull(study_full_message(study))


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
    session id), because the platform holds that submission and must still approve or return it.
    The participation's keyed digest of the platform id (``crowd_id_digest``, not the id) stays, so
    the same id coming back meets this outcome again instead of a fresh session."""
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
