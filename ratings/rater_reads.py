"""Reads about a study's raters: who they are, the real comparisons they answered, how much
and how fast they vote, their agreement with the others, attention checks and self-consistency
on deliberate repeats. Used by the staff dashboard, the API, payments, progress and the
leaderboards."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict

import numpy as np
from django.db.models import Q

from .models import Comparison, Participation, Rater, Study, Vote


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
