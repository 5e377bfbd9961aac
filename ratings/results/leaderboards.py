"""Study leaderboards: the study's votes as arrays (``votes.study_votes``), the ratings engine
(``ratings.stats``) on them, with their provenance, cached (``caches``) and refreshed by a periodic
task every ``LEADERBOARD_REFRESH_VOTES`` new votes (or on demand)."""

from __future__ import annotations

import subprocess
from functools import lru_cache
from pathlib import Path

import numpy as np
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from generation.models import Image

from ..models import Comparison, Study, Vote
from ..raters import raters_flag_inconsistent, study_self_consistency
from .caches import DEFAULT_TTL, VARIANT_TTL, is_default_variant, leaderboard_cache_key
from .votes import StudyVotes, excluded_raters, model_label, rater_pseudonym, study_votes

METHODS = ("bt", "elo", "winrate")
RESAMPLE_UNITS = ("comparison", "prompt", "rater")
BREAKDOWNS = ("category", "challenge")
#: Bounds on what a request may ask for; more rounds than INLINE_ROUNDS are computed in a task.
MAX_ROUNDS = 10000
INLINE_ROUNDS = 2000
MAX_SEED = 2**32 - 1


class LeaderboardPending(Exception):
    """A heavy recompute was queued as a task; the message says what and when to look again."""


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
    ``by_category`` when ``by`` names a breakdown) with its provenance. Its "mean" rows and pairs
    average the study's pair criteria only (``mean_of``); set criteria have rows of their own."""
    from ratings.stats import rater_agreement, results_document
    from ratings.stats.leaderboard import mean_of_names
    from ratings.stats.resample import POPULATION

    if method not in METHODS:
        raise ValueError(f"Unknown method '{method}': use one of {', '.join(METHODS)}.")
    if resample not in RESAMPLE_UNITS:
        raise ValueError(f"Unknown resampling unit '{resample}': use one of {', '.join(RESAMPLE_UNITS)}.")
    if by is not None and by not in BREAKDOWNS:
        raise ValueError(f"Unknown breakdown '{by}': use one of {', '.join(BREAKDOWNS)}.")
    votes = study_votes(study=study)
    arrays = votes.counted(include_flagged=include_flagged, by=by)
    if arrays.n_votes:
        # "mean" is ADD's mean of the pair questions: a set criterion (variety) is rated on its own.
        document = results_document(
            arrays, method, rounds, seed, resample=resample, pairs=True, by_category=by is not None, mean_of=study.criteria,
        )
        items = votes.items if include_flagged else votes.items[~votes.flagged]
        # canonical() keeps the vote order, so the items line up with the counted votes.
        agreement = {name: (None if np.isnan(alpha) else round(float(alpha), 4)) for name, alpha in rater_agreement(arrays, items).items()}
    else:
        document = {
            "method": method, "rounds": rounds, "seed": seed, "interval": "none (no votes counted)",
            "criteria": study.all_criteria, "mean_of": mean_of_names(study.all_criteria, study.criteria), "models": [], "resample": resample,
            "population": POPULATION[resample], "warnings": [], "pairs": [],
        }
        if by is not None:
            document["by_category"] = {}
        agreement = dict.fromkeys(study.all_criteria)
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


def attention_check_failures(*, study: Study) -> int:
    """Failed attention checks in the study."""
    return Comparison.objects.filter(study=study, attention_check__isnull=False, failed_check=True).count()


def votes_in_study(*, study: Study) -> int:
    """Every vote of the study, counted or not: what the periodic refresh compares with."""
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
    key = leaderboard_cache_key(study.pk, **options)
    cached = None if recompute else cache.get(key)
    if cached is not None:
        return _with_automated(cached, key=key, study=study, include_flagged=include_flagged, rounds=rounds, seed=seed)
    if rounds > INLINE_ROUNDS and not in_task:
        from ..tasks import leaderboard_recompute

        if cache.add(f"{key}:queued", 1, timeout=600):  # one task per variant at a time
            transaction.on_commit(lambda: leaderboard_recompute.delay(study.pk, options))
        raise LeaderboardPending(
            f"{rounds} rounds are computed in the background (more than {INLINE_ROUNDS} take too long for a request); "
            "ask again in a minute, without recompute."
        )
    document = compute_study_leaderboard(study=study, **options)
    document["provenance"]["votes_in_study"] = votes_in_study(study=study)
    cache.set(key, document, timeout=DEFAULT_TTL if is_default_variant(**options) else VARIANT_TTL)
    if in_task:
        cache.delete(f"{key}:queued")
    return _with_automated(document, key=key, study=study, include_flagged=include_flagged, rounds=rounds, seed=seed)


def _with_automated(document: dict, *, key: str, study: Study, include_flagged: bool, rounds: int, seed: int) -> dict:
    """The document with its ``automated`` section, cached beside it until a metric value or the
    diversity changes (they arrive from tasks after the ratings were cached)."""
    from .automated import study_automated_cached

    document["automated"] = study_automated_cached(
        key=f"{key}:{document['provenance']['computed_at']}", study=study, document=document,
        include_flagged=include_flagged, rounds=rounds, seed=seed, timeout=VARIANT_TTL,
    )
    return document


def leaderboards_refresh_stale(*, every: int | None = None) -> list[int]:
    """Recompute the default leaderboards of studies with ``every`` or more votes since their
    cached one; returns the ids of the studies refreshed. Called by a periodic task, which also
    applies each study's self-consistency threshold (a new flag refreshes the study at once)."""
    every = every or settings.LEADERBOARD_REFRESH_VOTES
    refreshed = []
    for study in Study.objects.filter(status__in=[Study.Status.RATING, Study.Status.CLOSED]):
        raters_flag_inconsistent(study=study)
        cached = cache.get(leaderboard_cache_key(study.pk, "bt", 1000, 0, False))
        total = votes_in_study(study=study)
        if total == 0:
            continue
        if cached is None or total - cached["provenance"].get("votes_in_study", 0) >= every:
            study_leaderboard(study=study, recompute=True)
            refreshed.append(study.pk)
    return refreshed
