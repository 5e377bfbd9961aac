"""Every change of a study's state, one checked function each: create, start generation, open
for rating, pause, resume, close, share; and API access for researchers.

A transition that the study's status does not allow raises ``StudyStateError`` (the API
answers 409, the admin shows the message) and writes nothing.
"""

from __future__ import annotations

import random
import re
from decimal import Decimal, InvalidOperation
from collections.abc import Iterable, Sequence

from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db import transaction
from rest_framework.authtoken.models import Token

from common.api import RESEARCHERS_GROUP, is_researcher
from generation import jobs as generation_jobs
from generation import storage, uploads
from generation.models import DisplayCopy, ModelSpec, PromptSet
from generation.selectors import job_progress

from . import images, sampling, scheduler, selectors
from .models import ATTENTION_CHECK_KINDS, DEFAULT_CONSENT_TEXT, DEFAULT_CRITERIA, DEFAULT_RATER_TITLE, AttentionCheck, Study

# Seeds are stored as 64-bit signed integers; torch takes any of them.
MAX_SEED = 2**63 - 1
# More seeds than this per prompt is a typo, not a study: each seed multiplies every model's images.
MAX_SEEDS = 100


class StudyStateError(Exception):
    """The study's status does not allow this step; the message says why and what to do."""


def _locked(study: Study) -> Study:
    return Study.objects.select_for_update().select_related("job").get(pk=study.pk)


def study_create(
    *,
    name: str,
    specs: Iterable[ModelSpec],
    prompt_set: PromptSet,
    seeds: Sequence[int],
    criteria: Sequence[str] = DEFAULT_CRITERIA,
    set_criteria: Sequence[str] = (),
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
    bonus_per_pair: Decimal | float | str = 0,
    ask_feedback: bool = False,
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
    specs_error = specs_problem(specs)
    if specs_error:
        errors["specs"] = specs_error
    if not seeds:
        errors["seeds"] = "Give at least one seed."
    elif len(seeds) > MAX_SEEDS or len(set(seeds)) != len(seeds) or not all(isinstance(s, int) and 0 <= s <= MAX_SEED for s in seeds):
        errors["seeds"] = f"Seeds must be at most {MAX_SEEDS} distinct whole numbers from 0 to {MAX_SEED}."
    if not criteria or len(set(criteria)) != len(criteria):
        errors["criteria"] = "Give one or more distinct criteria."
    set_problem = set_criteria_problem(set_criteria=set_criteria, criteria=criteria, seeds=seeds)
    if set_problem:
        errors["set_criteria"] = set_problem
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
    try:
        bonus_per_pair = Decimal(str(bonus_per_pair))
    except InvalidOperation:
        bonus_per_pair = Decimal(-1)
    if not bonus_per_pair.is_finite() or bonus_per_pair < 0 or bonus_per_pair >= 10_000:
        errors["bonus_per_pair"] = "Give a bonus per pair of 0 or more, in the crowd platform's currency (e.g. 0.02)."
    if completion_url and not completion_url.startswith(("https://", "http://")):
        errors["completion_url"] = "Give a full http(s) address, or leave it empty to show the code on the page."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        job = generation_jobs.job_create(specs=specs, prompt_set=prompt_set, seeds=seeds, display_size=display_size)
        return Study.objects.create(
            name=name,
            owner=owner,
            job=job,
            criteria=list(criteria),
            set_criteria=list(set_criteria),
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
            bonus_per_pair=bonus_per_pair.quantize(Decimal("0.0001")),
            ask_feedback=ask_feedback,
        )


def set_criteria_problem(*, set_criteria: Sequence[str], criteria: Sequence[str], seeds: Sequence[int]) -> str:
    """Why a study's set criteria would not do (a name repeated or also a pair criterion, or
    fewer than two seeds to make a set of), or ''."""
    set_criteria = list(set_criteria)
    if not set_criteria:
        return ""
    if not all(isinstance(name, str) and name.strip() and len(name) <= 50 for name in set_criteria):
        return "Give each set criterion a name of 1 to 50 characters, e.g. diversity."
    repeated = sorted({name for name in set_criteria if set_criteria.count(name) > 1} | (set(set_criteria) & set(criteria)))
    if repeated:
        return f"Criteria names must be unique across criteria and set criteria; {', '.join(repeated)} is given twice."
    if len(seeds) < 2:
        named = ", ".join(str(seed) for seed in seeds) or "none"
        return (
            f"A set criterion ({', '.join(set_criteria)}) compares the images of every seed of a prompt, so the study needs "
            f"at least two seeds; it has {len(seeds)} ({named}). Add seeds, or leave set_criteria empty."
        )


def specs_problem(specs: Sequence[ModelSpec]) -> str:
    """Why these models cannot make one study (fewer than two, or images of different shapes), or ''."""
    if len(specs) < 2:
        return "A study compares at least two models."
    if len({(spec.width * specs[0].height) - (spec.height * specs[0].width) for spec in specs} - {0}):
        # Raters would tell a model by its image's shape (every image is shown at one width).
        shapes = ", ".join(f"{spec.slug} {spec.width}x{spec.height}" for spec in specs)
        return f"Every model of a study must make images of one aspect ratio, so raters cannot tell them by shape; got {shapes}."
    return ""


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
    """Queue the study's missing images, once, from a draft; returns the number of batches queued.

    External systems are never generated: all their images must have been uploaded first.
    """
    with transaction.atomic():
        study = _locked(study)
        if study.status != Study.Status.DRAFT:
            raise StudyStateError(
                f"Generation of study '{study.name}' was already started (status: {study.get_status_display()}); "
                "it can be started only once."
            )
        missing = uploads.job_external_missing(job=study.job)
        if missing:
            raise ValidationError(
                {
                    "specs": [
                        f"{spec}: {count} of the study's prompt x seed images are not uploaded yet "
                        f"(POST /api/v1/specs/{spec.pk}/images/)."
                        for spec, count in missing
                    ]
                }
            )
        storage.job_display_copies_ensure(job=study.job)
        Study.objects.filter(pk=study.pk).update(status=Study.Status.GENERATING)
        return generation_jobs.job_enqueue(job=study.job)


def study_open(*, study: Study, rng: random.Random | None = None) -> None:
    """Open the study to raters once every image exists: one pair slot per (prompt, seed, model
    pair) and, with set criteria, one set slot per (prompt, model pair); and the attention
    checks (pairs only), made once."""
    with transaction.atomic():
        study = _locked(study)
        if study.status not in (Study.Status.GENERATING, Study.Status.DRAFT):
            raise StudyStateError(
                f"Study '{study.name}' is {study.get_status_display().lower()}; only a study that is generating "
                "(or a draft whose images all exist) can be opened for rating."
            )
        progress = job_progress(job=study.job)
        if progress["done"] < progress["total"]:
            raise StudyStateError(
                f"Only {progress['done']} of {progress['total']} images are made; open the study for rating when all exist."
            )
        storage.job_display_copies_ensure(job=study.job)
        scheduler.pair_slots_sync(study=study, rng=rng)
        if not study.attention_checks.exists():
            attention_checks_create(study=study, rng=rng)
        Study.objects.filter(pk=study.pk).update(status=Study.Status.RATING)
    scheduler.planner_statistics_refresh()


def study_pause(*, study: Study) -> None:
    """Stop serving pairs to raters. Generation tasks already queued still run."""
    with transaction.atomic():
        study = _locked(study)
        if study.status not in (Study.Status.GENERATING, Study.Status.RATING):
            raise StudyStateError(
                f"Study '{study.name}' is {study.get_status_display().lower()}; only a generating or rating study can be paused."
            )
        Study.objects.filter(pk=study.pk).update(status=Study.Status.PAUSED)


def study_resume(*, study: Study) -> str:
    """Back to rating when every image exists, else back to generating; returns the new status."""
    with transaction.atomic():
        study = _locked(study)
        if study.status != Study.Status.PAUSED:
            raise StudyStateError(f"Study '{study.name}' is {study.get_status_display().lower()}, not paused; nothing to resume.")
        progress = job_progress(job=study.job)
        status = Study.Status.RATING if progress["done"] >= progress["total"] else Study.Status.GENERATING
        if status == Study.Status.RATING:
            storage.job_display_copies_ensure(job=study.job)
        Study.objects.filter(pk=study.pk).update(status=status)
        return status


def study_close(*, study: Study) -> None:
    """Close for good: raters are no longer served; votes and leaderboards stay."""
    with transaction.atomic():
        study = _locked(study)
        if study.status == Study.Status.CLOSED:
            raise StudyStateError(f"Study '{study.name}' is already closed.")
        Study.objects.filter(pk=study.pk).update(status=Study.Status.CLOSED)


def study_share(*, study: Study, users: Iterable) -> None:
    """Let other researchers see and run the study."""
    users = list(users)
    refused = [user.get_username() for user in users if not is_researcher(user)]
    if refused:
        raise ValidationError({"users": [f"'{name}' is not a researcher; share studies only with researchers." for name in refused]})
    for member in (study, *Study.objects.filter(pilot_of=study)):  # a pilot is shared as its main study
        member.shared_with.add(*users)


def study_unshare(*, study: Study, users: Iterable) -> None:
    users = list(users)
    for member in (study, *Study.objects.filter(pilot_of=study)):
        member.shared_with.remove(*users)


def researcher_grant(*, user) -> Token:
    """Give a user API access (the researchers group) and return their API token."""
    group, _ = Group.objects.get_or_create(name=RESEARCHERS_GROUP)
    user.groups.add(group)
    token, _ = Token.objects.get_or_create(user=user)
    return token


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
        name = storage.decoy_save(content=degraded)
        made.append(AttentionCheck.objects.create(
            study=study, kind=AttentionCheck.Kind.DEGRADED, prompt_id=prompt_id, seed=seed,
            image_id=image_id, decoy_file=name, criteria=known("image_quality"),
        ))
    return made
