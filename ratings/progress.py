"""Reads for following a study: progress against its targets, rates and time left, and which
studies a researcher may see. Used by the API and the staff dashboard alike."""

from __future__ import annotations

import itertools
from datetime import timedelta

from django.db.models import Count, Q
from django.utils import timezone

from generation.models import Image
from generation.selectors import job_progress

from . import sampling, versus
from .models import Comparison, HiddenImage, Participation, Study, Vote
from .rater_reads import real_comparisons

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


def _kept_pair_target(study: Study, spec_a: int, spec_b: int, hidden: set[tuple[int, int]]) -> int:
    """``_pair_target`` for a model pair of which a versus-reference study keeps a share of slots
    only (``versus.slot_kept``): its kept items but hidden ones, and with set criteria its kept
    prompts (a set slot is keyed by the first seed) but prompts with a hidden image."""
    job = study.job
    prompt_ids = list(job.prompt_set.prompts.values_list("pk", flat=True))
    kept = versus.pair_kept_items(study=study, spec_a=spec_a, spec_b=spec_b, prompt_ids=prompt_ids, seeds=job.seeds)
    target = len(kept - hidden)
    if study.set_criteria and kept:
        first = job.seeds[0]
        hidden_prompts = {prompt for prompt, _ in hidden}
        target += len({prompt for prompt, seed in kept if seed == first} - hidden_prompts)
    return target


def study_progress(*, study: Study, now=None) -> dict:
    """Images made of total per model, answered comparisons per model pair against the target,
    raters active, rates over the last hour and the estimated seconds left.

    A study that its stopping rule or vote budget stopped reads as stopped: status ``stopped``,
    no time left, and ``complete`` once the pairs open at the stop are answered or lapsed. The
    study's target (``comparisons.target``) is what it is measured against: every pair slot at
    ``votes_per_pair``, or its vote budget (``measured_against``, ``target_text``).

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
    answered = real_comparisons(study=study).filter(answered_at__isnull=False)
    pairs = _pairs_progress(study=study, specs=specs, slugs=slugs, answered=answered)
    done = sum(pair["comparisons"] for pair in pairs)
    target = _target(study=study, slot_target=sum(pair["target"] for pair in pairs))
    stopped = study.status == Study.Status.RATING and study.stopped_at is not None
    comparisons_left = 0 if stopped else _comparisons_left(study=study, pairs=pairs, done=done, target=target["comparisons"])
    open_now = sampling.open_comparisons(study=study, now=now)
    since = now - RATE_WINDOW
    comparisons_last_hour = answered.filter(answered_at__gte=since).count()
    seconds_left = _seconds_left(
        job=job, specs=specs, images=images, comparisons_last_hour=comparisons_last_hour, comparisons_left=comparisons_left, now=now,
    )
    images_made = images["done"] >= images["total"]
    if stopped:
        # Done once the raters have answered (or let lapse) the pairs open at the stop.
        complete = images_made and open_now == 0
    else:
        complete = images_made and comparisons_left == 0
    return {
        "study": study.pk,
        "status": "stopped" if stopped else study.status,
        "status_text": study.get_status_display(),
        "images": {"done": images["done"], "total": images["total"], "per_model": images["per_spec"]},
        "comparisons": {
            "done": done,
            "target": target["comparisons"],
            "measured_against": target["measured_against"],
            "target_text": target["text"],
            "open": open_now,
            "per_pair": pairs,
        },
        "votes": Vote.objects.filter(comparison__in=answered).count(),
        "raters_active": _raters_active(study=study, now=now),
        "comparisons_last_hour": comparisons_last_hour,
        "images_last_hour": Image.objects.filter(
            spec__in=specs, prompt__prompt_set=job.prompt_set, seed__in=job.seeds, created_at__gte=since
        ).count(),
        "seconds_left": seconds_left,
        "complete": complete,
    }


def _pairs_progress(*, study: Study, specs: list, slugs: dict[int, str], answered) -> list[dict]:
    """Per model pair: its answered comparisons and its target (``votes_per_pair`` times its
    items, those with a hidden image left out)."""
    job = study.job
    # One item per prompt and seed, and with set criteria one set comparison per prompt besides.
    items = job.prompt_set.prompts.count() * len(job.seeds)
    set_items = job.prompt_set.prompts.count() if study.set_criteria else 0
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
    return [
        {
            "model_a": slugs[a.pk], "model_b": slugs[b.pk], "comparisons": counts.get((a.pk, b.pk), 0),
            "target": _pair_target(items, set_items, hidden.get(a.pk, set()) | hidden.get(b.pk, set())) * study.votes_per_pair
            if versus.pair_fully_served(study=study, spec_a=a.pk, spec_b=b.pk)
            else _kept_pair_target(study, a.pk, b.pk, hidden.get(a.pk, set()) | hidden.get(b.pk, set())) * study.votes_per_pair,
        }
        for a, b in itertools.combinations(specs, 2)
    ]


def _comparisons_left(*, study: Study, pairs: list[dict], done: int, target: int) -> int:
    """Comparisons still to answer in a study that has not stopped."""
    if study.stop_when == "target":
        left = sum(max(0, pair["target"] - pair["comparisons"]) for pair in pairs)
        if study.vote_budget is not None:
            left = min(left, max(0, study.vote_budget - done))
        return left
    return max(0, target - done)  # at most: the rule may stop it sooner


def _raters_active(*, study: Study, now) -> int:
    """Raters served or answering within the window, and not finished since (withdrawing finishes too)."""
    gone = Participation.objects.filter(study=study, finished_at__isnull=False).values("rater_id")
    return (
        Comparison.objects.filter(study=study)
        .filter(Q(served_at__gte=now - ACTIVE_WINDOW) | Q(answered_at__gte=now - ACTIVE_WINDOW))
        .exclude(rater_id__in=gone)
        .values("rater_id")
        .distinct()
        .count()
    )


def _seconds_left(*, job, specs: list, images: dict, comparisons_last_hour: int, comparisons_left: int, now) -> dict:
    """Seconds left generating and rating at the last hour's rates (None while there is no rate)."""
    since = now - RATE_WINDOW
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
    return {"generation": generation_left, "rating": rating_left, "total": total_left}


def _target(*, study: Study, slot_target: int) -> dict:
    """The comparisons a study's progress is measured against, and what they are: every pair
    slot at ``votes_per_pair`` (the target rule), or the vote budget (a stopping rule, which may
    stop it sooner; or a budget below the slots' target)."""
    budget = study.vote_budget
    if study.stop_when == "target" and (budget is None or budget >= slot_target):
        return {"comparisons": slot_target, "measured_against": "votes_per_pair",
                "text": f"{study.votes_per_pair} comparison{'' if study.votes_per_pair == 1 else 's'} per pair slot"}
    if study.stop_when == "target":
        return {"comparisons": budget, "measured_against": "vote_budget",
                "text": f"the vote budget ({budget:,} comparisons, below the {slot_target:,} that fill every pair slot)"}
    rule = {"separated": "adjacent models are separated", "decided": "every model is decided against the reference"}.get(
        study.stop_when, "every interval is narrow enough")
    return {"comparisons": budget or 0, "measured_against": "vote_budget",
            "text": f"the vote budget ({budget or 0:,} comparisons); the stopping rule ends it sooner once {rule}"}


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
