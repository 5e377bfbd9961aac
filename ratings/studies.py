"""Every change of a study's state, one checked function each: create, start generation, open
for rating, pause, resume, close, share; and API access for researchers.

A transition that the study's status does not allow raises ``StudyStateError`` (the API
answers 409, the admin shows the message) and writes nothing. One that happens drops the study's
cached results (``results.caches``), whose pages say its status, as flags and exclusions do.
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
from generation.models import DisplayCopy, GenerationJob, ModelSpec, PromptSet
from generation.selectors import job_progress

from . import images, sampling, scheduler, selectors, versus
from .models import ATTENTION_CHECK_KINDS, AttentionCheck, CrowdOptions, SamplingOptions, Study
from .results.caches import leaderboards_invalidate
from .slots import pair_slots_sync

# Seeds are stored as 64-bit signed integers; torch takes any of them.
MAX_SEED = 2**63 - 1
# More seeds than this per prompt is a typo, not a study: each seed multiplies every model's images.
MAX_SEEDS = 100


class StudyStateError(Exception):
    """The study's status does not allow this step; the message says why and what to do."""


def _locked(study: Study) -> Study:
    return Study.objects.select_for_update().select_related("job").get(pk=study.pk)


# The settings ``study_create`` takes, by Study field name: every option of the two groups and
# these (the API and the admin set the rest later). One left out takes the model's default:
# defaults are declared on the model only (a group's on its columns, ``ratings/models/options.py``).
OPTION_GROUPS = {"sampling_options": SamplingOptions, "crowd_options": CrowdOptions}
STUDY_OPTIONS = frozenset({
    "criteria", "set_criteria", "allow_ties", "votes_per_pair", "quota_per_rater", "consent_text", "attention_check_rate",
    "min_seconds_per_vote", "flag_after_failed_checks", "reservation_seconds", "repeat_share", "rater_title",
    "attention_check_kinds", "min_self_consistency", "min_repeats_to_judge", "design", "reference", "other_pairs_share",
    "versus_margin", *(name for group in OPTION_GROUPS.values() for name in group.names()),
})


def study_create(
    *,
    name: str,
    specs: Iterable[ModelSpec],
    prompt_set: PromptSet,
    seeds: Sequence[int],
    owner=None,
    display_size: int | None = None,
    sampling_options: SamplingOptions | None = None,
    crowd_options: CrowdOptions | None = None,
    **options,
) -> Study:
    """Create a draft study and its generation job. ``options`` are Study settings named in
    ``STUDY_OPTIONS`` (``sampling_rule`` for ``sampling``, whose name is a module here); a group of
    them may come as one value instead (``sampling_options``, ``crowd_options``). One left out takes
    the model's default, as ``display_size`` takes the job's. Every problem of the design
    (``study_design_errors``) is raised at once as a ``ValidationError`` by field; nothing is written then."""
    if "sampling_rule" in options:
        options["sampling"] = options.pop("sampling_rule")
    unknown = sorted(set(options) - STUDY_OPTIONS)
    if unknown:
        raise TypeError(f"study_create() got unexpected keyword arguments: {', '.join(unknown)}")
    for group, value in (("sampling_options", sampling_options), ("crowd_options", crowd_options)):
        if value is not None:
            twice = sorted(set(options) & set(OPTION_GROUPS[group].names()))
            if twice:
                raise TypeError(f"study_create() got {', '.join(twice)} both alone and in {group}")
            options[group] = value
    specs, seeds = list(specs), list(seeds)
    study = Study(name=name, owner=owner, **options)
    study.rater_title = study.rater_title.strip()
    errors = study_design_errors(study=study, specs=specs, seeds=seeds)
    if errors:
        raise ValidationError(errors)
    if display_size is None:
        display_size = GenerationJob._meta.get_field("display_size").get_default()
    study.criteria, study.set_criteria = list(study.criteria), list(study.set_criteria)
    study.attention_check_kinds = list(study.attention_check_kinds)
    study.bonus_per_pair = Decimal(str(study.bonus_per_pair)).quantize(Decimal("0.0001"))
    with transaction.atomic():
        study.job = generation_jobs.job_create(specs=specs, prompt_set=prompt_set, seeds=seeds, display_size=display_size)
        study.save(force_insert=True)
        return study


def study_design_errors(*, study: Study, specs: Sequence[ModelSpec], seeds: Sequence[int]) -> dict[str, str]:
    """Field -> what is wrong with an unsaved study's design (empty: all fine): its models and
    seeds, criteria, sampling and stopping (``sampling.design_errors``), the versus-reference
    settings (``versus.design_errors``) and the rater side. The one check a new study passes."""
    errors = sampling.design_errors(study.sampling_options, n_models=len(specs), has_reference=study.reference is not None)
    errors.update(versus.design_errors(
        specs=specs, design=study.design, reference=study.reference, other_pairs_share=study.other_pairs_share,
        versus_margin=study.versus_margin,
    ))
    problems = {
        "rater_title": rater_title_problem(rater_title=study.rater_title, specs=specs),
        "specs": specs_problem(specs),
        "seeds": _seeds_problem(seeds),
        "set_criteria": set_criteria_problem(set_criteria=study.set_criteria, criteria=study.criteria, seeds=seeds),
    }
    errors.update({field: problem for field, problem in problems.items() if problem})
    errors.update(_rater_side_errors(study=study))
    errors.update(crowd_options_errors(study.crowd_options))
    return errors


def _seeds_problem(seeds: Sequence[int]) -> str:
    if not seeds:
        return "Give at least one seed."
    if len(seeds) > MAX_SEEDS or len(set(seeds)) != len(seeds) or not all(isinstance(s, int) and 0 <= s <= MAX_SEED for s in seeds):
        return f"Seeds must be at most {MAX_SEEDS} distinct whole numbers from 0 to {MAX_SEED}."
    return ""


def _rater_side_errors(*, study: Study) -> dict[str, str]:
    """Field -> what is wrong with the criteria, attention checks, self-consistency and timing."""
    errors = {}
    kinds = study.attention_check_kinds
    if not kinds or set(kinds) - set(ATTENTION_CHECK_KINDS) or len(set(kinds)) != len(kinds):
        errors["attention_check_kinds"] = f"Give one or more distinct kinds among {', '.join(ATTENTION_CHECK_KINDS)}."
    if not study.criteria or len(set(study.criteria)) != len(study.criteria):
        errors["criteria"] = "Give one or more distinct criteria."
    for field in ("attention_check_rate", "repeat_share"):
        if not 0 <= getattr(study, field) <= 1:
            errors[field] = "Give a share between 0 and 1."
    if study.min_seconds_per_vote < 0:
        errors["min_seconds_per_vote"] = "Give zero or more seconds."
    if study.min_self_consistency is not None and not 0 <= study.min_self_consistency <= 1:
        errors["min_self_consistency"] = "Give a share between 0 and 1, or nothing to never flag for it."
    if study.min_repeats_to_judge < 1:
        errors["min_repeats_to_judge"] = "Judge self-consistency on at least one repeated answer."
    if study.reservation_seconds < 10:
        errors["reservation_seconds"] = "Reserve a pair for at least 10 seconds."
    return errors


def crowd_options_errors(options: CrowdOptions) -> dict[str, str]:
    """Field -> what is wrong with the crowd platform's settings and the pay."""
    errors = {}
    try:
        bonus = Decimal(str(options.bonus_per_pair))
    except InvalidOperation:
        bonus = Decimal(-1)
    if not bonus.is_finite() or bonus < 0 or bonus >= 10_000:
        errors["bonus_per_pair"] = "Give a bonus per pair of 0 or more, in the crowd platform's currency (e.g. 0.02)."
    if options.completion_url and not options.completion_url.startswith(("https://", "http://")):
        errors["completion_url"] = "Give a full http(s) address, or leave it empty to show the code on the page."
    return errors


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
        pair_slots_sync(study=study, rng=rng)
        if not study.attention_checks.exists():
            attention_checks_create(study=study, rng=rng)
        Study.objects.filter(pk=study.pk).update(status=Study.Status.RATING)
        sampling.budget_serves_recount(study=study)  # the vote budget stops serving from the first pair on
    leaderboards_invalidate(study_ids=[study.pk])
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
    leaderboards_invalidate(study_ids=[study.pk])


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
    leaderboards_invalidate(study_ids=[study.pk])
    return status


def study_close(*, study: Study) -> None:
    """Close for good: raters are no longer served; votes and leaderboards stay."""
    with transaction.atomic():
        study = _locked(study)
        if study.status == Study.Status.CLOSED:
            raise StudyStateError(f"Study '{study.name}' is already closed.")
        Study.objects.filter(pk=study.pk).update(status=Study.Status.CLOSED)
    leaderboards_invalidate(study_ids=[study.pk])


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
