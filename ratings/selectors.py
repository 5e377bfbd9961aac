"""Reads of the ratings app: the pair scheduler, progress and the leaderboard."""

from __future__ import annotations

import itertools
import random
from collections import Counter, defaultdict
from dataclasses import dataclass

from django.db.models import Q

from generation.models import Image

from .models import Comparison, Rater, Study, Vote


@dataclass(frozen=True)
class PairCandidate:
    prompt_id: int
    seed: int
    image_a_id: int
    image_b_id: int


def open_comparison(*, study: Study, rater: Rater) -> Comparison | None:
    return Comparison.objects.filter(study=study, rater=rater, answered_at__isnull=True).order_by("served_at").first()


def rater_answered_count(*, study: Study, rater: Rater) -> int:
    return Comparison.objects.filter(study=study, rater=rater, answered_at__isnull=False).count()


def next_pair_for_rater(*, study: Study, rater: Rater, rng: random.Random | None = None) -> PairCandidate | None:
    """A (prompt, seed, model A, model B) whose two images exist, that this rater has not seen,
    among those with the fewest comparisons so far and under the study's target; random among ties."""
    rng = rng or random.SystemRandom()
    if rater_answered_count(study=study, rater=rater) >= study.quota_per_rater:
        return None
    job = study.job
    spec_ids = sorted(job.specs.values_list("pk", flat=True))
    images = Image.objects.filter(spec_id__in=spec_ids, prompt__prompt_set=job.prompt_set, seed__in=job.seeds)
    by_item: dict[tuple[int, int], dict[int, int]] = defaultdict(dict)
    for image_id, spec_id, prompt_id, seed in images.values_list("pk", "spec_id", "prompt_id", "seed"):
        by_item[(prompt_id, seed)][spec_id] = image_id
    shown_counts: Counter = Counter()
    seen_by_rater: set = set()
    for a, b, r in Comparison.objects.filter(study=study).values_list("image_a_id", "image_b_id", "rater_id"):
        key = frozenset((a, b))
        shown_counts[key] += 1
        if r == rater.pk:
            seen_by_rater.add(key)
    best: list[PairCandidate] = []
    best_count = None
    for (prompt_id, seed), spec_images in by_item.items():
        for spec_a, spec_b in itertools.combinations(sorted(spec_images), 2):
            a, b = spec_images[spec_a], spec_images[spec_b]
            key = frozenset((a, b))
            count = shown_counts[key]
            if key in seen_by_rater or count >= study.votes_per_pair:
                continue
            if best_count is None or count < best_count:
                best, best_count = [], count
            if count == best_count:
                best.append(PairCandidate(prompt_id, seed, a, b))
    return rng.choice(best) if best else None


def study_vote_rows(*, study: Study, include_flagged: bool = False) -> list[tuple[int, int, str, str]]:
    """(spec of A, spec of B, criterion, choice) for every counted vote, in one query."""
    votes = Vote.objects.filter(comparison__study=study, excluded=False)
    if not include_flagged:
        votes = votes.filter(~Q(comparison__rater__flagged=True))
    return list(votes.values_list("comparison__image_a__spec_id", "comparison__image_b__spec_id", "criterion", "choice"))


def study_win_rates(*, study: Study, include_flagged: bool = False) -> dict:
    """Per criterion: each model's win rate over all its votes (a tie counts half) and the
    pairwise matrix of wins of the row model over the column model."""
    specs = list(study.job.specs.order_by("pk"))
    rows = study_vote_rows(study=study, include_flagged=include_flagged)
    result = {}
    for criterion in study.criteria:
        wins: dict[int, float] = defaultdict(float)
        totals: Counter = Counter()
        pair_wins: dict[tuple[int, int], float] = defaultdict(float)
        pair_totals: Counter = Counter()
        for spec_a, spec_b, vote_criterion, choice in rows:
            if vote_criterion != criterion:
                continue
            score_a = {"a": 1.0, "b": 0.0, "tie": 0.5}[choice]
            wins[spec_a] += score_a
            wins[spec_b] += 1.0 - score_a
            totals[spec_a] += 1
            totals[spec_b] += 1
            pair_wins[(spec_a, spec_b)] += score_a
            pair_wins[(spec_b, spec_a)] += 1.0 - score_a
            pair_totals[(spec_a, spec_b)] += 1
            pair_totals[(spec_b, spec_a)] += 1
        models = [
            {
                "spec": spec,
                "votes": totals[spec.pk],
                "win_rate": wins[spec.pk] / totals[spec.pk] if totals[spec.pk] else None,
            }
            for spec in specs
        ]
        models.sort(key=lambda row: -1 if row["win_rate"] is None else -row["win_rate"])
        matrix = [
            [
                (pair_wins[(row.pk, col.pk)] / pair_totals[(row.pk, col.pk)]) if pair_totals[(row.pk, col.pk)] else None
                for col in specs
            ]
            for row in specs
        ]
        result[criterion] = {"models": models, "matrix": matrix, "votes": sum(1 for r in rows if r[2] == criterion)}
    return {"specs": specs, "criteria": result}
