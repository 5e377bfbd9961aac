"""Reads about a study's raters: how much and how fast they vote, how often they agree with
the others, how they did on attention checks, and whether they are flagged or excluded."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict

from django.db.models import Q

from .models import Comparison, Rater, Study, Vote


def study_raters(*, study: Study):
    """Raters invited to the study or who answered in it."""
    return Rater.objects.filter(Q(studies=study) | Q(comparisons__study=study)).select_related("user").distinct().order_by("pk")


def has_field(model, name: str) -> bool:
    # The rater side adds attention checks, repeats and reports; until it lands these read as absent.
    return any(f.name == name for f in model._meta.get_fields())


def real_comparisons(*, study: Study):
    """The study's comparisons of two models' images: attention checks and repeats left out."""
    comparisons = Comparison.objects.filter(study=study)
    if has_field(Comparison, "attention_check"):
        comparisons = comparisons.filter(attention_check__isnull=True)
    if has_field(Comparison, "is_repeat"):
        comparisons = comparisons.filter(is_repeat=False)
    return comparisons


def _attention_accuracy(*, study: Study) -> dict[int, float]:
    """rater id -> share of answered attention checks passed."""
    if not has_field(Comparison, "failed_check"):
        return {}
    passed: Counter = Counter()
    total: Counter = Counter()
    checks = Comparison.objects.filter(study=study, failed_check__isnull=False).values_list("rater_id", "failed_check")
    for rater_id, failed in checks:
        total[rater_id] += 1
        passed[rater_id] += not failed
    return {rater_id: passed[rater_id] / n for rater_id, n in total.items()}


def study_reported_pairs(*, study: Study) -> list[Comparison]:
    """Pairs raters reported (broken or offensive image...), newest first."""
    if not has_field(Comparison, "reported_at"):
        return []
    return list(
        Comparison.objects.filter(study=study, reported_at__isnull=False)
        .select_related("rater__user", "prompt", "image_a__spec", "image_b__spec")
        .order_by("-reported_at")
    )


def study_rater_table(*, study: Study) -> list[dict]:
    """One row per rater: answered comparisons, votes, median seconds per comparison,
    attention-check accuracy, agreement with the other raters' majority, flagged and excluded.

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
                "flagged": rater.flagged,
                "excluded_votes": excluded[rater.pk],
            }
        )
    return table
