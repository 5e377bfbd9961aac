"""Study leaderboards: votes from the database into arrays at the edge (one query), the
ratings engine (``ratings.stats``) on them, and a cache that a periodic task refreshes every
``LEADERBOARD_REFRESH_VOTES`` new votes (or on demand)."""

from __future__ import annotations

import hashlib
import hmac
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from . import selectors
from .models import Participation, Rater, Study, Vote

METHODS = ("bt", "elo", "winrate")
CHOICE_OUTCOME = {"a": 1.0, "b": 0.0, "tie": 0.5}


@dataclass(frozen=True)
class StudyVotes:
    """A study's counted votes as ``VoteArrays`` plus what an export must say about them."""

    arrays: object  # ratings.stats.VoteArrays
    spec_ids: tuple[int, ...]  # index -> ModelSpec id, aligned with arrays.model_names
    prompt_ids: np.ndarray  # int[n], the prompt of each vote
    rater_ids: np.ndarray  # int[n], the Rater id of each vote
    tstamps: list  # datetime of each vote
    items: np.ndarray  # int[n], what was judged: (prompt, seed, unordered model pair), for agreement
    excluded_raters: list[dict]  # {"rater": pseudonym, "reason": ...}
    n_raters: int


def rater_pseudonym(rater_id: int) -> str:
    """A stable pseudonym for exports: an HMAC of the id, so exports can be joined with each
    other but not traced back to a person without the server's secret."""
    digest = hmac.new(settings.SECRET_KEY.encode(), f"rater:{rater_id}".encode(), hashlib.sha256).hexdigest()
    return f"r_{digest[:12]}"


def excluded_raters(*, study: Study, include_flagged: bool = False) -> dict[int, str]:
    """Rater id -> why their votes are left out of this study's leaderboards."""
    reasons = {}
    if not include_flagged:
        for rater_id in Rater.objects.filter(comparisons__study=study, flagged=True).values_list("pk", flat=True).distinct():
            reasons[rater_id] = "flagged (failed attention checks or excluded by staff)"
    return reasons


def study_votes(*, study: Study, include_flagged: bool = False) -> StudyVotes:
    """Every counted vote of the study, in one aggregation query."""
    from ratings.stats import VoteArrays

    specs = list(study.job.specs.order_by("pk"))
    index = {spec.pk: i for i, spec in enumerate(specs)}
    excluded = excluded_raters(study=study, include_flagged=include_flagged)
    rows = list(
        # Attention checks, deliberate repeats and withdrawn raters never count (rater side).
        selectors.counted_votes(study=study, include_flagged=True)
        .exclude(comparison__rater_id__in=list(excluded))
        .order_by("pk")
        .values_list(
            "comparison_id",
            "comparison__image_a__spec_id",
            "comparison__image_b__spec_id",
            "criterion",
            "choice",
            "comparison__rater_id",
            "comparison__prompt_id",
            "created_at",
            "comparison__seed",
        )
    )
    criteria = list(study.criteria)
    criterion_index = {name: i for i, name in enumerate(criteria)}
    rows = [row for row in rows if row[3] in criterion_index]
    n = len(rows)
    column = lambda k, dtype=np.int64: np.fromiter((row[k] for row in rows), dtype=dtype, count=n)  # noqa: E731
    arrays = VoteArrays(
        model_a=np.fromiter((index[row[1]] for row in rows), dtype=np.int64, count=n),
        model_b=np.fromiter((index[row[2]] for row in rows), dtype=np.int64, count=n),
        outcome=np.fromiter((CHOICE_OUTCOME[row[4]] for row in rows), dtype=np.float64, count=n),
        model_names=tuple(str(spec) for spec in specs),
        criterion=np.fromiter((criterion_index[row[3]] for row in rows), dtype=np.int64, count=n),
        criterion_names=tuple(criteria),
        comparison=column(0),
        cluster=column(6),
        rater=column(5),
    )
    return StudyVotes(
        arrays=arrays,
        spec_ids=tuple(spec.pk for spec in specs),
        prompt_ids=column(6),
        rater_ids=column(5),
        tstamps=[row[7] for row in rows],
        items=_judged_items(column(6), column(8), arrays.model_a, arrays.model_b),
        excluded_raters=[{"rater": rater_pseudonym(r), "reason": why} for r, why in sorted(excluded.items())],
        n_raters=len(set(column(5).tolist())),
    )


def _judged_items(prompts: np.ndarray, seeds: np.ndarray, model_a: np.ndarray, model_b: np.ndarray) -> np.ndarray:
    """One code per distinct (prompt, seed, unordered model pair): the unit raters agree on."""
    if prompts.size == 0:
        return np.zeros(0, dtype=np.int64)
    keys = np.stack([prompts, seeds, np.minimum(model_a, model_b), np.maximum(model_a, model_b)], axis=1)
    return np.unique(keys, axis=0, return_inverse=True)[1].reshape(-1)


@lru_cache(maxsize=1)
def code_version() -> str:
    """The package version and, when run from a git checkout, the commit."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        package = version("evalsite")
    except PackageNotFoundError:
        package = "unknown"
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=Path(__file__).resolve().parent, capture_output=True, text=True, timeout=5
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return f"{package}+{commit}" if commit else package


def compute_study_leaderboard(*, study: Study, method: str = "bt", rounds: int = 1000, seed: int = 0, include_flagged: bool = False) -> dict:
    """The leaderboard document (the ``leaderboard --format json`` shape) with its provenance."""
    from ratings.stats import estimate, leaderboard_document, rater_agreement
    from ratings.stats.formats import fit_warnings

    if method not in METHODS:
        raise ValueError(f"Unknown method '{method}': use one of {', '.join(METHODS)}.")
    votes = study_votes(study=study, include_flagged=include_flagged)
    arrays = votes.arrays
    if arrays.n_votes:
        ratings = estimate(arrays, method, rounds, seed)
        document = leaderboard_document(ratings, rounds, seed)
        document["warnings"] = fit_warnings(ratings, rounds)
        agreement = {name: (None if np.isnan(alpha) else round(float(alpha), 4)) for name, alpha in rater_agreement(arrays, votes.items).items()}
    else:
        document = {
            "method": method, "rounds": rounds, "seed": seed, "interval": "none (no votes yet)",
            "criteria": list(study.criteria), "models": [], "warnings": [],
        }
        agreement = dict.fromkeys(study.criteria)
    document["provenance"] = {
        "study": study.pk,
        "method": method,
        "rounds": rounds,
        "seed": seed,
        "votes": int(arrays.n_votes),
        "comparisons": int(np.unique(arrays.comparison).size),
        "raters": votes.n_raters,
        # Krippendorff's alpha per criterion over pairs judged two or more times (None: too few).
        "rater_agreement": agreement,
        "excluded_raters": votes.excluded_raters,
        "include_flagged": include_flagged,
        "attention_check_failures": attention_check_failures(study=study),
        "code_version": code_version(),
        "computed_at": timezone.now().isoformat(),
    }
    return document


def attention_check_failures(*, study: Study) -> int | None:
    """Failed attention checks in the study, when the study records them (None otherwise)."""
    from .models import Comparison

    return Comparison.objects.filter(study=study, attention_check__isnull=False, failed_check=True).count()


def _generation_key(study_id: int) -> str:
    return f"leaderboard:generation:{study_id}"


def _cache_key(study_id: int, method: str, rounds: int, seed: int, include_flagged: bool) -> str:
    # Every cached leaderboard of a study carries the study's generation: invalidating them all
    # is one increment, whatever methods and options were cached.
    generation = cache.get(_generation_key(study_id), 0)
    return f"leaderboard:v2:{study_id}:{generation}:{method}:{rounds}:{seed}:{int(include_flagged)}"


def leaderboards_invalidate(*, study_ids) -> None:
    """Drop the cached leaderboards of these studies (a rater flagged, excluded or withdrawn
    changes which votes count); the next read computes them again."""
    for study_id in set(study_ids):
        key = _generation_key(study_id)
        try:
            cache.incr(key)
        except ValueError:  # no generation yet
            cache.set(key, 1, timeout=None)


def rater_leaderboards_invalidate(*, rater: Rater) -> None:
    """Drop the cached leaderboards of every study the rater takes part in."""
    leaderboards_invalidate(study_ids=Participation.objects.filter(rater=rater).values_list("study_id", flat=True))


def counted_votes(*, study: Study) -> int:
    return Vote.objects.filter(comparison__study=study).count()


def study_leaderboard(
    *, study: Study, method: str = "bt", rounds: int = 1000, seed: int = 0, include_flagged: bool = False, recompute: bool = False
) -> dict:
    """The cached leaderboard, computed now when there is none or when asked (``recompute``).

    Between refreshes it may lag by fewer than ``LEADERBOARD_REFRESH_VOTES`` votes; its
    provenance says how many votes it counted and when.
    """
    key = _cache_key(study.pk, method, rounds, seed, include_flagged)
    cached = None if recompute else cache.get(key)
    if cached is not None:
        return cached
    document = compute_study_leaderboard(study=study, method=method, rounds=rounds, seed=seed, include_flagged=include_flagged)
    document["provenance"]["votes_in_study"] = counted_votes(study=study)
    cache.set(key, document, timeout=None)
    return document


def leaderboards_refresh_stale(*, every: int | None = None) -> list[int]:
    """Recompute the default leaderboards of studies with ``every`` or more votes since their
    cached one; returns the ids of the studies refreshed. Called by a periodic task."""
    every = every or settings.LEADERBOARD_REFRESH_VOTES
    refreshed = []
    for study in Study.objects.filter(status__in=[Study.Status.RATING, Study.Status.CLOSED]):
        key = _cache_key(study.pk, "bt", 1000, 0, False)
        cached = cache.get(key)
        total = counted_votes(study=study)
        if total == 0:
            continue
        if cached is None or total - cached["provenance"].get("votes_in_study", 0) >= every:
            study_leaderboard(study=study, recompute=True)
            refreshed.append(study.pk)
    return refreshed
