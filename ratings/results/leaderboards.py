"""Study leaderboards: the study's votes as arrays (``votes.study_votes``), the ratings engine
(``ratings.stats``) on them, with their provenance, cached (``caches``) and refreshed by a periodic
task every ``LEADERBOARD_REFRESH_VOTES`` new votes (or on demand)."""

from __future__ import annotations

import subprocess
from functools import lru_cache
from pathlib import Path

import numpy as np
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from generation.models import Image
from ratings.stats import rater_agreement, results_document
from ratings.stats.documents import design_notes
from ratings.stats.leaderboard import mean_of_names
from ratings.stats.resample import POPULATION

from .. import conf, queueing
from ..models import Comparison, Study, Vote
from ..rater_reads import study_self_consistency
from ..forecasting import study_stop_estimates
from ..stopping import study_stop_text
from ..versus import study_versus
from .automated import study_automated_cached
from .caches import DEFAULT_TTL, VARIANT_TTL, leaderboard_cache_key
from .options import INLINE_ROUNDS, LeaderboardOptions
from .units import stopping_rule_text, unit_text
from .votes import StudyVotes, excluded_raters, model_label, rater_pseudonym, study_votes


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


def compute_study_leaderboard(*, study: Study, options: LeaderboardOptions | None = None, **fields) -> dict:
    """The leaderboard document (the ``leaderboard --format json --pairs`` shape, with
    ``by_category`` when ``by`` names a breakdown) with its provenance. Its "mean" rows and pairs
    average the study's pair criteria only (``mean_of``); set criteria have rows of their own.
    ``options`` (or their fields as keyword arguments: ``method="elo"``) say which variant."""
    options = LeaderboardOptions.given(options, fields).for_study(study)
    method, rounds, seed, include_flagged = options.method, options.rounds, options.seed, options.include_flagged
    resample, by = options.resample, options.by
    votes = study_votes(study=study)
    arrays = votes.counted(include_flagged=include_flagged, by=by)
    if arrays.n_votes:
        # "mean" is ADD's mean of the pair questions: a set criterion (variety) is rated on its own.
        document = results_document(
            arrays, method, rounds, seed, resample=resample, pairs=True, by_category=by is not None, mean_of=study.criteria,
        )
        # A study with a reference: each model's win rate against it and the decision at its margin.
        document.update(study_versus(study=study, votes=arrays, resample=resample))
        items = votes.items if include_flagged else votes.items[~votes.flagged]
        # canonical() keeps the vote order, so the items line up with the counted votes.
        agreement = {name: (None if np.isnan(alpha) else round(float(alpha), 4)) for name, alpha in rater_agreement(arrays, items).items()}
    else:
        document = {
            "method": method, "rounds": rounds, "seed": seed, "interval": "none (no votes counted)",
            "criteria": study.all_criteria, "mean_of": mean_of_names(study.all_criteria, study.criteria), "models": [], "resample": resample,
            "population": POPULATION[resample], "warnings": [], "pairs": [],
        }
        document.update(study_versus(study=study, votes=arrays, resample=resample))
        if by is not None:
            document["by_category"] = {}
        agreement = dict.fromkeys(study.all_criteria)
    if by is not None:
        document["by"] = by
    document["unit"] = study.unit
    document["unit_text"] = unit_text(study=study)
    document["stopping_rule"] = stopping_rule_text(study=study)
    if study.stopped_at is not None and study.stop_when != "target" and arrays.n_votes:
        document["at_stop"] = study_stop_estimates(study=study)
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


def study_design(*, study: Study, method: str) -> dict:
    """How the study chose its pairs and when it stops, and a note where ``method``'s numbers depend
    on that design (``stats.documents.design_notes``: online Elo and mean win rates under adaptive
    sampling; Bradley-Terry with ties counted as half a win)."""
    design = {
        "sampling": study.sampling,
        "unit": study.unit,
        "unit_text": unit_text(study=study),
        "stopping_rule": stopping_rule_text(study=study),
        "stop_when": study.stop_when,
        "vote_budget": study.vote_budget,
        "stop_reason": study_stop_text(study=study) or None,
        "note": "; ".join(design_notes(
            method, adaptive=study.sampling == "adaptive", ties=study.allow_ties, versus=study.design == "versus_reference",
        )) or None,
    }
    if study.sampling == "adaptive":
        design["exploration"] = study.exploration
    design["design"] = study.design
    if study.design == "versus_reference":
        design["other_pairs_share"] = study.other_pairs_share
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


def study_leaderboard(
    *, study: Study, options: LeaderboardOptions | None = None, recompute: bool = False, in_task: bool = False, **fields,
) -> dict:
    """The cached leaderboard, computed now when there is none or when asked (``recompute``);
    ``options`` (or their fields as keyword arguments: ``rounds=200``) say which variant.

    Between refreshes it may lag by fewer than ``LEADERBOARD_REFRESH_VOTES`` votes; its
    provenance says how many votes it counted and when. More than ``INLINE_ROUNDS`` rounds are
    computed by a task: the request raises ``LeaderboardPending`` and a later one finds it.
    """
    options = LeaderboardOptions.given(options, fields).for_study(study)  # none asked for: the study's unit
    key = leaderboard_cache_key(study.pk, options)
    cached = None if recompute else cache.get(key)
    if cached is not None:
        return _with_automated(cached, key=key, study=study, options=options)
    if options.rounds > INLINE_ROUNDS and not in_task:
        if cache.add(f"{key}:queued", 1, timeout=600):  # one task per variant at a time
            transaction.on_commit(lambda: queueing.leaderboard_recompute_send(study.pk, options.as_dict()))
        raise LeaderboardPending(
            f"{options.rounds} rounds are computed in the background (more than {INLINE_ROUNDS} take too long for a request); "
            "ask again in a minute, without recompute."
        )
    document = compute_study_leaderboard(study=study, options=options)
    document["provenance"]["votes_in_study"] = votes_in_study(study=study)
    cache.set(key, document, timeout=DEFAULT_TTL if options.is_default_for(study) else VARIANT_TTL)
    if in_task:
        cache.delete(f"{key}:queued")
    return _with_automated(document, key=key, study=study, options=options)


def _with_automated(document: dict, *, key: str, study: Study, options: LeaderboardOptions) -> dict:
    """The document with its ``automated`` section, cached beside it until a metric value or the
    diversity changes (they arrive from tasks after the ratings were cached)."""
    document["automated"] = study_automated_cached(
        key=f"{key}:{document['provenance']['computed_at']}", study=study, document=document,
        include_flagged=options.include_flagged, rounds=options.rounds, seed=options.seed, timeout=VARIANT_TTL,
    )
    return document


def leaderboards_refresh_stale(*, every: int | None = None) -> list[int]:
    """Recompute the default leaderboards of studies with ``every`` or more votes since their
    cached one; returns the ids of the studies refreshed. Called by a periodic task, after
    ``rater_flags.raters_flag_inconsistent_due`` (a new flag drops the study's cache: refreshed at once)."""
    every = every or conf.leaderboard_refresh_votes()
    refreshed = []
    for study in Study.objects.filter(status__in=[Study.Status.RATING, Study.Status.CLOSED]):
        cached = cache.get(leaderboard_cache_key(study.pk, LeaderboardOptions().for_study(study)))
        total = votes_in_study(study=study)
        if total == 0:
            continue
        # A stopped or closed study gets its last few votes (raters finishing open pairs) at once.
        due = 1 if study.stopped_at is not None or study.status == Study.Status.CLOSED else every
        if cached is None or total - cached["provenance"].get("votes_in_study", 0) >= due:
            study_leaderboard(study=study, recompute=True)
            refreshed.append(study.pk)
    return refreshed
