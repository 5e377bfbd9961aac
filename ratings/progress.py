"""Reads for following a study: progress against its targets, rates and time left, and which
studies a researcher may see. Used by the API and the staff dashboard alike."""

from __future__ import annotations

import itertools
from datetime import timedelta

from django.db.models import Count, Q
from django.utils import timezone

from generation.models import Image
from generation.selectors import job_progress

from .models import Comparison, HiddenImage, Study, Vote
from .raters import real_comparisons

ACTIVE_WINDOW = timedelta(minutes=15)
RATE_WINDOW = timedelta(hours=1)


def studies_visible_to(*, user):
    """Staff see every study; a researcher sees the studies they own or that are shared with them."""
    studies = Study.objects.select_related("job", "job__prompt_set", "owner")
    if user.is_staff:
        return studies
    return studies.filter(Q(owner=user) | Q(shared_with=user)).distinct()


def _eta(remaining: int, per_second: float) -> float | None:
    if remaining <= 0:
        return 0.0
    return remaining / per_second if per_second > 0 else None


def _pair_target(items: int, set_items: int, hidden: set[tuple[int, int]]) -> int:
    """Comparisons one model pair is to get per vote: its (prompt, seed) items but those with a
    hidden image, and its set items (one per prompt) but prompts with any hidden image."""
    return items - len(hidden) + (set_items - len({prompt for prompt, _ in hidden}) if set_items else 0)


def study_progress(*, study: Study, now=None) -> dict:
    """Images made of total per model, answered comparisons per model pair against the target,
    raters active, rates over the last hour and the estimated seconds left.

    Each answered comparison holds one vote per criterion; the target is ``votes_per_pair``
    answered comparisons per model pair, prompt and seed, and per model pair and prompt for the
    set comparisons of a study with set criteria (none where screening hid one of the images
    involved). Times left are None while nothing has happened yet to measure a rate from.
    """
    now = now or timezone.now()
    job = study.job
    images = job_progress(job=job)
    specs = list(job.specs.order_by("pk"))
    slugs = {spec.pk: f"{spec.slug}" if spec.version == 1 else f"{spec.slug}@{spec.version}" for spec in specs}
    for row in images["per_spec"]:
        row["model"] = slugs[row["spec_id"]]
    # One item per prompt and seed, and with set criteria one set comparison per prompt besides.
    items = job.prompt_set.prompts.count() * len(job.seeds)
    set_items = job.prompt_set.prompts.count() if study.set_criteria else 0

    answered = real_comparisons(study=study).filter(answered_at__isnull=False)
    counts: dict[tuple[int, int], int] = {}
    for spec_a, spec_b, n in answered.values_list("image_a__spec_id", "image_b__spec_id").annotate(n=Count("pk")):
        key = tuple(sorted((spec_a, spec_b)))
        counts[key] = counts.get(key, 0) + n
    # Items whose image of a model was hidden in screening have no slot for that model's pairs.
    hidden: dict[int, set[tuple[int, int]]] = {}
    hidden_rows = HiddenImage.objects.filter(
        study_id=study.pilot_of_id or study.pk, image__spec__in=specs, image__prompt__prompt_set=job.prompt_set, image__seed__in=job.seeds,
    ).values_list("image__spec_id", "image__prompt_id", "image__seed")
    for spec_id, prompt_id, seed in hidden_rows:
        hidden.setdefault(spec_id, set()).add((prompt_id, seed))
    pairs = [
        {
            "model_a": slugs[a.pk], "model_b": slugs[b.pk], "comparisons": counts.get((a.pk, b.pk), 0),
            "target": _pair_target(items, set_items, hidden.get(a.pk, set()) | hidden.get(b.pk, set())) * study.votes_per_pair,
        }
        for a, b in itertools.combinations(specs, 2)
    ]
    comparisons_left = sum(max(0, pair["target"] - pair["comparisons"]) for pair in pairs)

    since = now - RATE_WINDOW
    active = (
        Comparison.objects.filter(study=study)
        .filter(Q(served_at__gte=now - ACTIVE_WINDOW) | Q(answered_at__gte=now - ACTIVE_WINDOW))
        .values("rater_id")
        .distinct()
        .count()
    )
    comparisons_last_hour = answered.filter(answered_at__gte=since).count()
    window_start = max(since, job.started_at) if job.started_at else since
    images_recent = Image.objects.filter(
        spec__in=specs, prompt__prompt_set=job.prompt_set, seed__in=job.seeds, created_at__gte=window_start
    ).count()
    image_seconds = max((now - window_start).total_seconds(), 1.0)
    generation_left = _eta(images["total"] - images["done"], images_recent / image_seconds if job.started_at else 0.0)
    rating_left = _eta(comparisons_left, comparisons_last_hour / RATE_WINDOW.total_seconds())
    if generation_left is None or rating_left is None:
        total_left = None
    else:
        total_left = generation_left + rating_left
    return {
        "study": study.pk,
        "status": study.status,
        "images": {"done": images["done"], "total": images["total"], "per_model": images["per_spec"]},
        "comparisons": {
            "done": sum(pair["comparisons"] for pair in pairs),
            "target": sum(pair["target"] for pair in pairs),
            "per_pair": pairs,
        },
        "votes": Vote.objects.filter(comparison__in=answered).count(),
        "raters_active": active,
        "comparisons_last_hour": comparisons_last_hour,
        "images_last_hour": Image.objects.filter(
            spec__in=specs, prompt__prompt_set=job.prompt_set, seed__in=job.seeds, created_at__gte=since
        ).count(),
        "seconds_left": {"generation": generation_left, "rating": rating_left, "total": total_left},
        "complete": images["done"] >= images["total"] and comparisons_left == 0,
    }


def study_votes_per_hour(*, study: Study, hours: int = 24, now=None) -> list[dict]:
    """Answered comparisons per hour over the last ``hours`` hours, oldest first."""
    now = now or timezone.now()
    start = (now - timedelta(hours=hours - 1)).replace(minute=0, second=0, microsecond=0)
    stamps = Comparison.objects.filter(study=study, answered_at__gte=start).values_list("answered_at", flat=True)
    buckets = [0] * hours
    for stamp in stamps:
        index = int((stamp - start).total_seconds() // 3600)
        if 0 <= index < hours:
            buckets[index] += 1
    return [{"hour": start + timedelta(hours=i), "comparisons": n} for i, n in enumerate(buckets)]
