"""Writes of the ratings app: studies, raters, comparisons and votes."""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from generation import services as generation_services
from generation.models import ModelSpec, PromptSet

from . import selectors
from .models import DEFAULT_CRITERIA, Comparison, Rater, Study, Vote

# Seeds are stored as 64-bit signed integers; torch takes any of them.
MAX_SEED = 2**63 - 1
# More seeds than this per prompt is a typo, not a study: each seed multiplies every model's images.
MAX_SEEDS = 100

# What a rater's page sends for each criterion, mapped to the stored choice given the sides.
SIDES = ("left", "right", "tie")


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
) -> Study:
    specs = list(specs)
    if len(specs) < 2:
        raise ValidationError({"specs": "A study compares at least two models."})
    if not seeds:
        raise ValidationError({"seeds": "Give at least one seed."})
    if len(seeds) > MAX_SEEDS or len(set(seeds)) != len(seeds) or not all(isinstance(s, int) and 0 <= s <= MAX_SEED for s in seeds):
        raise ValidationError({"seeds": f"Seeds must be at most {MAX_SEEDS} distinct whole numbers from 0 to {MAX_SEED}."})
    if not criteria or len(set(criteria)) != len(criteria):
        raise ValidationError({"criteria": "Give one or more distinct criteria."})
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
        )


def study_start_generation(*, study: Study) -> int:
    """Queue the generation of every missing image; returns the number of batches queued."""
    with transaction.atomic():
        Study.objects.filter(pk=study.pk).update(status=Study.Status.GENERATING)
        return generation_services.job_enqueue(job=study.job)


def study_open(*, study: Study) -> None:
    Study.objects.filter(pk=study.pk).update(status=Study.Status.RATING)


def rater_invite(*, study: Study, user) -> Rater:
    rater, _ = Rater.objects.get_or_create(user=user, defaults={"source": Rater.Source.ACCOUNT})
    study.raters.add(rater)
    return rater


def comparison_serve(*, study: Study, rater: Rater, rng: random.Random | None = None) -> Comparison | None:
    """The rater's open comparison, or a new one from the scheduler; None when nothing is left."""
    open_comparison = selectors.open_comparison(study=study, rater=rater)
    if open_comparison is not None:
        return open_comparison
    candidate = selectors.next_pair_for_rater(study=study, rater=rater, rng=rng)
    if candidate is None:
        return None
    rng = rng or random.SystemRandom()
    return Comparison.objects.create(
        study=study,
        rater=rater,
        prompt_id=candidate.prompt_id,
        seed=candidate.seed,
        image_a_id=candidate.image_a_id,
        image_b_id=candidate.image_b_id,
        left_is_a=rng.random() < 0.5,
    )


def vote_record(*, token: str, rater: Rater, answers: Mapping[str, str], response_ms: int) -> Comparison:
    """Record one answer per criterion for a comparison served to this rater.

    A second submit of the same comparison counts once; a comparison served to someone else
    raises ``PermissionDenied`` and writes nothing.
    """
    with transaction.atomic():
        comparison = (
            Comparison.objects.select_for_update().select_related("study").filter(token=token).first()
        )
        if comparison is None or comparison.rater_id != rater.pk:
            raise PermissionDenied("This pair was not given to you to rate.")
        if comparison.answered_at is not None:
            return comparison
        study = comparison.study
        missing = [c for c in study.criteria if c not in answers]
        if missing:
            raise ValidationError(f"Answer every question before submitting (missing: {', '.join(missing)}).")
        votes = []
        for criterion in study.criteria:
            side = answers[criterion]
            if side not in SIDES or (side == "tie" and not study.allow_ties):
                allowed = "left, right or tie" if study.allow_ties else "left or right"
                raise ValidationError(f"The answer to '{criterion}' must be {allowed}.")
            if side == "tie":
                choice = Vote.Choice.TIE
            else:
                choice = Vote.Choice.A if (side == "left") == comparison.left_is_a else Vote.Choice.B
            votes.append(Vote(comparison=comparison, criterion=criterion, choice=choice, response_ms=max(0, int(response_ms))))
        Vote.objects.bulk_create(votes)
        comparison.answered_at = timezone.now()
        comparison.save(update_fields=["answered_at"])
    return comparison
