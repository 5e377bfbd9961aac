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
from django.db import transaction
from django.utils import timezone

from generation.models import Image

from . import selectors
from .models import Participation, Rater, Study, Vote

METHODS = ("bt", "elo", "winrate")
RESAMPLE_UNITS = ("comparison", "prompt", "rater")
BREAKDOWNS = ("category", "challenge")
CHOICE_OUTCOME = {"a": 1.0, "b": 0.0, "tie": 0.5}
#: Bounds on what a request may ask for; more rounds than INLINE_ROUNDS are computed in a task.
MAX_ROUNDS = 10000
INLINE_ROUNDS = 2000
MAX_SEED = 2**32 - 1
#: Cached leaderboards expire: the default one after a day (the periodic task refreshes it),
#: any other variant (method, rounds, seed, unit, breakdown) after an hour.
DEFAULT_TTL = 24 * 3600
VARIANT_TTL = 3600
FLAG_REASONS = {
    "attention_checks": "flagged in this study: failed attention checks",
    "self_consistency": "flagged in this study: answered repeated pairs inconsistently",
    "staff": "flagged in this study by staff",
}


class LeaderboardPending(Exception):
    """A heavy recompute was queued as a task; the message says what and when to look again."""


@dataclass(frozen=True)
class StudyVotes:
    """A study's votes (counted ones and those of raters flagged in it) as ``VoteArrays``, plus
    what an export must say about them."""

    arrays: object  # ratings.stats.VoteArrays, every vote of the study not excluded or withdrawn
    flagged: np.ndarray  # bool[n], the vote's rater is flagged in this study
    spec_ids: tuple[int, ...]  # index -> ModelSpec id, aligned with arrays.model_names
    prompt_ids: np.ndarray  # int[n], the prompt of each vote
    rater_ids: np.ndarray  # int[n], the Rater id of each vote
    tstamps: list  # datetime of each vote
    items: np.ndarray  # int[n], what was judged: (prompt, seed, unordered model pair), for agreement
    categories: dict  # "category" | "challenge" -> (codes int[n], names)
    flag_reasons: dict  # rater id -> why they are flagged in this study

    def counted(self, *, include_flagged: bool = False, by: str | None = None):
        """The votes a leaderboard counts, in the canonical order (``ratings.stats.canonical``),
        with ``by``'s labels as the votes' categories."""
        from dataclasses import replace

        from ratings.stats import canonical

        arrays = self.arrays
        if by is not None:
            codes, names = self.categories[by]
            arrays = replace(arrays, category=codes, category_names=names, _validated=True)
        if not include_flagged:
            arrays = arrays.subset(~self.flagged)
        return canonical(arrays)

    @property
    def n_raters(self) -> int:
        return len(set(self.rater_ids.tolist()))


def model_label(spec) -> str:
    """A model's name in results and exports: its slug, with the version after @ from v2 on."""
    return spec.slug if spec.version == 1 else f"{spec.slug}@{spec.version}"


def rater_pseudonym(rater_id: int) -> str:
    """A stable pseudonym for exports: an HMAC of the id, so exports can be joined with each
    other but not traced back to a person without the server's secret."""
    digest = hmac.new(settings.SECRET_KEY.encode(), f"rater:{rater_id}".encode(), hashlib.sha256).hexdigest()
    return f"r_{digest[:12]}"


def flagged_raters(*, study: Study) -> dict[int, str]:
    """Rater id -> why they are flagged in this study (flags are per study)."""
    return {
        rater_id: FLAG_REASONS.get(reason, FLAG_REASONS["staff"])
        for rater_id, reason in Participation.objects.filter(study=study, flagged=True).values_list("rater_id", "flag_reason")
    }


def excluded_raters(*, study: Study, include_flagged: bool = False) -> dict[int, str]:
    """Rater id -> why their votes are left out of this study's leaderboards."""
    return {} if include_flagged else flagged_raters(study=study)


def _label_codes(labels: list[str]) -> tuple[np.ndarray, tuple[str, ...]]:
    names = tuple(sorted({label or "uncategorized" for label in labels}))
    position = {name: i for i, name in enumerate(names)}
    return np.fromiter((position[label or "uncategorized"] for label in labels), dtype=np.int64, count=len(labels)), names


def study_votes(*, study: Study, include_flagged: bool = True) -> StudyVotes:
    """Every vote of the study that is not excluded, withdrawn, an attention check or a repeat,
    in vote order, in one query; ``flagged`` marks those of raters flagged in this study (left
    out unless ``include_flagged``)."""
    from ratings.stats import VoteArrays

    specs = list(study.job.specs.order_by("pk"))
    index = {spec.pk: i for i, spec in enumerate(specs)}
    flag_reasons = flagged_raters(study=study)
    votes = selectors.counted_votes(study=study, include_flagged=True)
    if not include_flagged:
        votes = votes.exclude(comparison__rater_id__in=list(flag_reasons))
    rows = list(
        votes.order_by("pk").values_list(
            "comparison_id",
            "comparison__image_a__spec_id",
            "comparison__image_b__spec_id",
            "criterion",
            "choice",
            "comparison__rater_id",
            "comparison__prompt_id",
            "created_at",
            "comparison__seed",
            "comparison__prompt__category",
            "comparison__prompt__challenge",
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
        model_names=tuple(model_label(spec) for spec in specs),
        criterion=np.fromiter((criterion_index[row[3]] for row in rows), dtype=np.int64, count=n),
        criterion_names=tuple(criteria),
        comparison=column(0),
        cluster=column(6),
        rater=column(5),
    )
    return StudyVotes(
        arrays=arrays,
        flagged=np.fromiter((row[5] in flag_reasons for row in rows), dtype=bool, count=n),
        spec_ids=tuple(spec.pk for spec in specs),
        prompt_ids=column(6),
        rater_ids=column(5),
        tstamps=[row[7] for row in rows],
        items=_judged_items(column(6), column(8), arrays.model_a, arrays.model_b),
        categories={
            "category": _label_codes([row[9] for row in rows]),
            "challenge": _label_codes([row[10] for row in rows]),
        },
        flag_reasons=flag_reasons,
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


def _left_out(votes: StudyVotes, include_flagged: bool) -> dict:
    """What the flags leave out, and a sentence saying so plainly."""
    flagged_votes = int(votes.flagged.sum())
    flagged = sorted(set(votes.rater_ids[votes.flagged].tolist()))
    total = int(votes.arrays.n_votes)
    reasons = sorted({votes.flag_reasons[r] for r in flagged})
    if include_flagged or not flagged_votes:
        note = ""
    elif flagged_votes == total:
        note = (
            f"All {total} votes were left out: every rater who voted is flagged in this study "
            f"({'; '.join(reasons)}). Include flagged raters to see their votes."
        )
    else:
        note = (
            f"{flagged_votes} of {total} votes were left out: {len(flagged)} rater{'s' if len(flagged) != 1 else ''} "
            f"flagged in this study ({'; '.join(reasons)})."
        )
    return {"votes": flagged_votes if not include_flagged else 0, "raters": len(flagged) if not include_flagged else 0, "note": note}


def compute_study_leaderboard(
    *, study: Study, method: str = "bt", rounds: int = 1000, seed: int = 0, include_flagged: bool = False,
    resample: str = "comparison", by: str | None = None,
) -> dict:
    """The leaderboard document (the ``leaderboard --format json --pairs`` shape, with
    ``by_category`` when ``by`` names a breakdown) with its provenance."""
    from ratings.stats import rater_agreement, results_document
    from ratings.stats.resample import POPULATION

    from .rater_stats import study_self_consistency

    if method not in METHODS:
        raise ValueError(f"Unknown method '{method}': use one of {', '.join(METHODS)}.")
    if resample not in RESAMPLE_UNITS:
        raise ValueError(f"Unknown resampling unit '{resample}': use one of {', '.join(RESAMPLE_UNITS)}.")
    if by is not None and by not in BREAKDOWNS:
        raise ValueError(f"Unknown breakdown '{by}': use one of {', '.join(BREAKDOWNS)}.")
    votes = study_votes(study=study)
    arrays = votes.counted(include_flagged=include_flagged, by=by)
    if arrays.n_votes:
        document = results_document(arrays, method, rounds, seed, resample=resample, pairs=True, by_category=by is not None)
        items = votes.items if include_flagged else votes.items[~votes.flagged]
        # canonical() keeps the vote order, so the items line up with the counted votes.
        agreement = {name: (None if np.isnan(alpha) else round(float(alpha), 4)) for name, alpha in rater_agreement(arrays, items).items()}
    else:
        document = {
            "method": method, "rounds": rounds, "seed": seed, "interval": "none (no votes counted)",
            "criteria": list(study.criteria), "models": [], "resample": resample,
            "population": POPULATION[resample], "warnings": [], "pairs": [],
        }
        if by is not None:
            document["by_category"] = {}
        agreement = dict.fromkeys(study.criteria)
    if by is not None:
        document["by"] = by
    document["provenance"] = {
        "study": study.pk,
        "method": method,
        "rounds": rounds,
        "seed": seed,
        "resample": resample,
        "population": POPULATION[resample],
        "votes": int(arrays.n_votes),
        "comparisons": int(np.unique(arrays.comparison).size),
        "raters": len(set(arrays.rater.tolist())) if arrays.rater is not None else 0,
        # Krippendorff's alpha per criterion over pairs judged two or more times (None: too few).
        "rater_agreement": agreement,
        # Deliberate repeats answered the same way, with the test-retest alpha beside it.
        "self_consistency": study_self_consistency(study=study)["criteria"],
        "excluded_raters": [
            {"rater": rater_pseudonym(r), "reason": why}
            for r, why in sorted(excluded_raters(study=study, include_flagged=include_flagged).items())
        ],
        "left_out": _left_out(votes, include_flagged),
        "include_flagged": include_flagged,
        "attention_check_failures": attention_check_failures(study=study),
        "design": study_design(study=study, method=method),
        "weights": weights_commits(study=study),
        "code_version": code_version(),
        "computed_at": timezone.now().isoformat(),
    }
    return document


#: Why a method's numbers depend on how pairs were chosen (the notes' "what stays valid").
DESIGN_BIAS = {
    "elo": "online Elo depends on which pairs were served: under adaptive sampling a model served mostly "
    "against close neighbours is rated differently than under uniform sampling; Bradley-Terry is not affected",
    "winrate": "the mean win rate depends on which opponents a model met: under adaptive sampling models meet "
    "different opponents, so mean win rates are not comparable across models; Bradley-Terry is not affected",
}


def study_design(*, study: Study, method: str) -> dict:
    """How the study chose its pairs and when it stops, and a note where ``method`` is biased under
    that design (Bradley-Terry's likelihood does not depend on how pairs were chosen from earlier
    votes; online Elo and mean win rates do)."""
    design = {
        "sampling": study.sampling,
        "stop_when": study.stop_when,
        "vote_budget": study.vote_budget,
        "stop_reason": study.stop_reason or None,
        "note": DESIGN_BIAS.get(method) if study.sampling == "adaptive" else None,
    }
    if study.sampling == "adaptive":
        design["exploration"] = study.exploration
    return design


def weights_commits(*, study: Study) -> dict[str, list[dict]]:
    """Per model (results label): the hub snapshot commits its images were generated from, one
    entry per distinct (role, repo, commit); a model with local weights has none."""
    commits: dict[str, set] = {}
    specs = {spec.pk: spec for spec in study.job.specs.all()}
    rows = Image.objects.filter(spec_id__in=specs, prompt__prompt_set=study.job.prompt_set).values_list("spec_id", "weights_revisions").distinct()
    for spec_id, revisions in rows:
        label = model_label(specs[spec_id])
        for role, source in (revisions or {}).items():
            commits.setdefault(label, set()).add((role, source.get("repo", ""), source.get("revision", ""), source.get("commit", "")))
    return {
        label: [{"role": role, "repo": repo, "revision": revision, "commit": commit} for role, repo, revision, commit in sorted(found)]
        for label, found in sorted(commits.items())
    }


def attention_check_failures(*, study: Study) -> int | None:
    """Failed attention checks in the study, when the study records them (None otherwise)."""
    from .models import Comparison

    return Comparison.objects.filter(study=study, attention_check__isnull=False, failed_check=True).count()


def _generation_key(study_id: int) -> str:
    return f"leaderboard:generation:{study_id}"


def _cache_key(study_id: int, method: str, rounds: int, seed: int, include_flagged: bool, resample: str = "comparison", by: str | None = None) -> str:
    # Every cached leaderboard of a study carries the study's generation: invalidating them all
    # is one increment, whatever methods and options were cached.
    generation = cache.get(_generation_key(study_id), 0)
    return f"leaderboard:v3:{study_id}:{generation}:{method}:{rounds}:{seed}:{int(include_flagged)}:{resample}:{by or '-'}"


def _is_default(method, rounds, seed, include_flagged, resample, by) -> bool:
    return (method, rounds, seed, include_flagged, resample, by) == ("bt", 1000, 0, False, "comparison", None)


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


def check_options(*, method: str = "bt", rounds: int = 1000, seed: int = 0, resample: str = "comparison", by: str | None = None) -> None:
    """Raise ValueError with an English message for options out of bounds."""
    if method not in METHODS:
        raise ValueError(f"Unknown method '{method}': use one of {', '.join(METHODS)}.")
    if not 1 <= rounds <= MAX_ROUNDS:
        raise ValueError(f"rounds must be a whole number from 1 to {MAX_ROUNDS}, got {rounds}.")
    if not 0 <= seed <= MAX_SEED:
        raise ValueError(f"seed must be a whole number from 0 to {MAX_SEED}, got {seed}.")
    if resample not in RESAMPLE_UNITS:
        raise ValueError(f"Unknown resampling unit '{resample}': use one of {', '.join(RESAMPLE_UNITS)}.")
    if by is not None and by not in BREAKDOWNS:
        raise ValueError(f"Unknown breakdown '{by}': use one of {', '.join(BREAKDOWNS)}.")


def study_leaderboard(
    *, study: Study, method: str = "bt", rounds: int = 1000, seed: int = 0, include_flagged: bool = False, recompute: bool = False,
    resample: str = "comparison", by: str | None = None, in_task: bool = False,
) -> dict:
    """The cached leaderboard, computed now when there is none or when asked (``recompute``).

    Between refreshes it may lag by fewer than ``LEADERBOARD_REFRESH_VOTES`` votes; its
    provenance says how many votes it counted and when. More than ``INLINE_ROUNDS`` rounds are
    computed by a task: the request raises ``LeaderboardPending`` and a later one finds it.
    """
    check_options(method=method, rounds=rounds, seed=seed, resample=resample, by=by)
    options = dict(method=method, rounds=rounds, seed=seed, include_flagged=include_flagged, resample=resample, by=by)
    key = _cache_key(study.pk, **options)
    cached = None if recompute else cache.get(key)
    if cached is not None:
        return cached
    if rounds > INLINE_ROUNDS and not in_task:
        from .tasks import leaderboard_recompute

        if cache.add(f"{key}:queued", 1, timeout=600):  # one task per variant at a time
            transaction.on_commit(lambda: leaderboard_recompute.delay(study.pk, options))
        raise LeaderboardPending(
            f"{rounds} rounds are computed in the background (more than {INLINE_ROUNDS} take too long for a request); "
            "ask again in a minute, without recompute."
        )
    document = compute_study_leaderboard(study=study, **options)
    document["provenance"]["votes_in_study"] = counted_votes(study=study)
    cache.set(key, document, timeout=DEFAULT_TTL if _is_default(**options) else VARIANT_TTL)
    if in_task:
        cache.delete(f"{key}:queued")
    return document


def leaderboards_refresh_stale(*, every: int | None = None) -> list[int]:
    """Recompute the default leaderboards of studies with ``every`` or more votes since their
    cached one; returns the ids of the studies refreshed. Called by a periodic task, which also
    applies each study's self-consistency threshold (a new flag refreshes the study at once)."""
    from .study_services import raters_flag_inconsistent

    every = every or settings.LEADERBOARD_REFRESH_VOTES
    refreshed = []
    for study in Study.objects.filter(status__in=[Study.Status.RATING, Study.Status.CLOSED]):
        raters_flag_inconsistent(study=study)
        cached = cache.get(_cache_key(study.pk, "bt", 1000, 0, False))
        total = counted_votes(study=study)
        if total == 0:
            continue
        if cached is None or total - cached["provenance"].get("votes_in_study", 0) >= every:
            study_leaderboard(study=study, recompute=True)
            refreshed.append(study.pk)
    return refreshed
