"""Writes of the ratings app: studies, raters and their sessions.

The rater's hot path (serve, vote, report, release) and the pair slots live in ``scheduler/``.
"""

from __future__ import annotations

import random
import re
import uuid
from collections.abc import Iterable, Sequence
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.utils import timezone

from generation import services as generation_services
from generation.models import DisplayCopy, ModelSpec, PromptSet

from . import images, sampling, scheduler, selectors
from .models import (
    ATTENTION_CHECK_KINDS,
    DEFAULT_CONSENT_TEXT,
    DEFAULT_CRITERIA,
    DEFAULT_RATER_TITLE,
    AttentionCheck,
    Comparison,
    Participation,
    Rater,
    Study,
    Vote,
)

# Seeds are stored as 64-bit signed integers; torch takes any of them.
MAX_SEED = 2**63 - 1
# More seeds than this per prompt is a typo, not a study: each seed multiplies every model's images.
MAX_SEEDS = 100


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


def study_create(
    *,
    name: str,
    specs: Iterable[ModelSpec],
    prompt_set: PromptSet,
    seeds: Sequence[int],
    criteria: Sequence[str] = DEFAULT_CRITERIA,
    allow_ties: bool = False,
    display_size: int = 512,
    votes_per_pair: int = 3,
    quota_per_rater: int = 50,
    owner=None,
    consent_text: str = DEFAULT_CONSENT_TEXT,
    completion_url: str = "",
    max_participants: int | None = None,
    attention_check_rate: float = 0.1,
    min_seconds_per_vote: float = 3.0,
    flag_after_failed_checks: int = 2,
    reservation_seconds: int = 600,
    repeat_share: float = 0.05,
    rater_title: str = DEFAULT_RATER_TITLE,
    attention_check_kinds: Sequence[str] = tuple(ATTENTION_CHECK_KINDS),
    min_self_consistency: float | None = None,
    min_repeats_to_judge: int = 6,
    sampling_rule: str = "uniform",
    exploration: float = 0.2,
    stop_when: str = "target",
    stop_alpha: float = 0.05,
    stop_top_k: int | None = None,
    stop_width: float | None = None,
    vote_budget: int | None = None,
) -> Study:
    specs = list(specs)
    errors = sampling.design_errors(
        n_models=len(specs), sampling_rule=sampling_rule, exploration=exploration, stop_when=stop_when,
        stop_alpha=stop_alpha, stop_top_k=stop_top_k, stop_width=stop_width, vote_budget=vote_budget,
    )
    rater_title = rater_title.strip()
    title_problem = rater_title_problem(rater_title=rater_title, specs=specs)
    if title_problem:
        errors["rater_title"] = title_problem
    if not attention_check_kinds or set(attention_check_kinds) - set(ATTENTION_CHECK_KINDS) or len(set(attention_check_kinds)) != len(attention_check_kinds):
        errors["attention_check_kinds"] = f"Give one or more distinct kinds among {', '.join(ATTENTION_CHECK_KINDS)}."
    if len(specs) < 2:
        errors["specs"] = "A study compares at least two models."
    elif len({(spec.width * specs[0].height) - (spec.height * specs[0].width) for spec in specs} - {0}):
        # Raters would tell a model by its image's shape (every image is shown at one width).
        shapes = ", ".join(f"{spec.slug} {spec.width}x{spec.height}" for spec in specs)
        errors["specs"] = f"Every model of a study must make images of one aspect ratio, so raters cannot tell them by shape; got {shapes}."
    if not seeds:
        errors["seeds"] = "Give at least one seed."
    elif len(seeds) > MAX_SEEDS or len(set(seeds)) != len(seeds) or not all(isinstance(s, int) and 0 <= s <= MAX_SEED for s in seeds):
        errors["seeds"] = f"Seeds must be at most {MAX_SEEDS} distinct whole numbers from 0 to {MAX_SEED}."
    if not criteria or len(set(criteria)) != len(criteria):
        errors["criteria"] = "Give one or more distinct criteria."
    for field, value in (("attention_check_rate", attention_check_rate), ("repeat_share", repeat_share)):
        if not 0 <= value <= 1:
            errors[field] = "Give a share between 0 and 1."
    if min_seconds_per_vote < 0:
        errors["min_seconds_per_vote"] = "Give zero or more seconds."
    if min_self_consistency is not None and not 0 <= min_self_consistency <= 1:
        errors["min_self_consistency"] = "Give a share between 0 and 1, or nothing to never flag for it."
    if min_repeats_to_judge < 1:
        errors["min_repeats_to_judge"] = "Judge self-consistency on at least one repeated answer."
    if reservation_seconds < 10:
        errors["reservation_seconds"] = "Reserve a pair for at least 10 seconds."
    if completion_url and not completion_url.startswith(("https://", "http://")):
        errors["completion_url"] = "Give a full http(s) address, or leave it empty to show the code on the page."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        job = generation_services.job_create(specs=specs, prompt_set=prompt_set, seeds=seeds, display_size=display_size)
        return Study.objects.create(
            name=name,
            owner=owner,
            job=job,
            criteria=list(criteria),
            allow_ties=allow_ties,
            votes_per_pair=votes_per_pair,
            quota_per_rater=quota_per_rater,
            consent_text=consent_text,
            completion_url=completion_url,
            max_participants=max_participants,
            attention_check_rate=attention_check_rate,
            min_seconds_per_vote=min_seconds_per_vote,
            flag_after_failed_checks=flag_after_failed_checks,
            reservation_seconds=reservation_seconds,
            repeat_share=repeat_share,
            rater_title=rater_title,
            attention_check_kinds=list(attention_check_kinds),
            min_self_consistency=min_self_consistency,
            min_repeats_to_judge=min_repeats_to_judge,
            sampling=sampling_rule,
            exploration=exploration,
            stop_when=stop_when,
            stop_alpha=stop_alpha,
            stop_top_k=stop_top_k,
            stop_width=stop_width,
            vote_budget=vote_budget,
        )


def rater_title_problem(*, rater_title: str, specs: Iterable[ModelSpec]) -> str:
    """Why a rater-facing title would not do (empty, or naming a model of the study), or ''."""
    if not rater_title.strip():
        return "Give the title raters see, e.g. \"Image comparison study\"."
    # Whole words only: a model named "A" does not make "Image comparison study" name it.
    named = [
        spec.slug for spec in specs
        if any(re.search(rf"(?<!\w){re.escape(term)}(?!\w)", rater_title, re.IGNORECASE) for term in (spec.name, spec.slug) if term.strip())
    ]
    if named:
        return f"Raters see this title, so it must not name a model of the study (it names {', '.join(named)})."
    return ""


def study_start_generation(*, study: Study) -> int:
    """Queue the generation of every missing image; returns the number of batches queued."""
    with transaction.atomic():
        Study.objects.filter(pk=study.pk).update(status=Study.Status.GENERATING)
        return generation_services.job_enqueue(job=study.job)


def study_open(*, study: Study, rng: random.Random | None = None) -> None:
    """Open for rating: one pair slot per (prompt, seed, model pair) whose images exist, and
    the attention checks, made once."""
    scheduler.pair_slots_sync(study=study, rng=rng)
    if not study.attention_checks.exists():
        attention_checks_create(study=study, rng=rng)
    Study.objects.filter(pk=study.pk).update(status=Study.Status.RATING)
    scheduler.planner_statistics_refresh()


def attention_checks_create(*, study: Study, count: int | None = None, rng: random.Random | None = None) -> list[AttentionCheck]:
    """Gold pairs with a known answer, alternating the study's kinds: a real image against a
    degraded copy of itself (known answer: image quality), and against the same model's image
    for an unrelated prompt (known answer: prompt adherence)."""
    rng = rng or random.SystemRandom()
    items = selectors.study_items(study=study)
    keys = sorted(items)
    rng.shuffle(keys)
    count = min(len(keys), 12 if count is None else count)
    criteria = list(study.criteria)
    kinds = set(study.attention_check_kinds)

    def known(preferred: str) -> list[str]:
        return [preferred] if preferred in criteria else criteria

    made = []
    for index, (prompt_id, seed) in enumerate(keys[:count]):
        spec_id = rng.choice(sorted(items[(prompt_id, seed)]))
        image_id = items[(prompt_id, seed)][spec_id]
        decoys = [images[spec_id] for (p, s), images in items.items() if p != prompt_id and spec_id in images]
        unrelated = kinds == {AttentionCheck.Kind.UNRELATED_PROMPT} or (index % 2 == 1 and AttentionCheck.Kind.UNRELATED_PROMPT in kinds)
        if unrelated and decoys:
            made.append(AttentionCheck.objects.create(
                study=study, kind=AttentionCheck.Kind.UNRELATED_PROMPT, prompt_id=prompt_id, seed=seed,
                image_id=image_id, decoy_image_id=rng.choice(decoys), criteria=known("prompt_adherence"),
            ))
            continue
        copy = DisplayCopy.objects.filter(image_id=image_id, size=study.display_size).first()
        if copy is None or AttentionCheck.Kind.DEGRADED not in kinds:
            continue
        with default_storage.open(copy.file.name, "rb") as handle:
            degraded = images.degrade_png(handle.read(), seed=rng.randrange(2**32))
        # Saved beside the real display copies, with the same kind of opaque name.
        name = default_storage.save(f"display/{uuid.uuid4().hex}.png", ContentFile(degraded))
        made.append(AttentionCheck.objects.create(
            study=study, kind=AttentionCheck.Kind.DEGRADED, prompt_id=prompt_id, seed=seed,
            image_id=image_id, decoy_file=name, criteria=known("image_quality"),
        ))
    return made


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
    ids, account name and e-mail) is removed."""
    now = timezone.now()
    with transaction.atomic():
        Vote.objects.filter(comparison__rater=rater).update(excluded=True)
        scheduler.reservations_release(Comparison.objects.filter(rater=rater), now=now)
        Participation.objects.filter(rater=rater).update(crowd_study_id="", crowd_session_id="")
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
    from .leaderboards import rater_leaderboards_invalidate

    rater_leaderboards_invalidate(rater=rater)
