"""The cache of a study's leaderboards: one key per variant, all of a study's dropped at once when
what counts changes (a rater flagged, excluded or withdrawn, a vote excluded)."""

from __future__ import annotations

from django.core.cache import cache

from ..models import Participation, Rater
from .options import LeaderboardOptions

#: Cached leaderboards expire: the default one after a day (the periodic task refreshes it),
#: any other variant (method, rounds, seed, unit, breakdown) after an hour.
DEFAULT_TTL = 24 * 3600
VARIANT_TTL = 3600


def _generation_key(study_id: int) -> str:
    return f"leaderboard:generation:{study_id}"


def leaderboard_cache_key(study_id: int, options: LeaderboardOptions) -> str:
    """The key of one variant of a study's leaderboard; ``options`` name their bootstrap unit
    (``LeaderboardOptions.for_study``), so no unit is assumed here."""
    if options.resample is None:
        raise ValueError("A cached leaderboard's options name their bootstrap unit: use options.for_study(study).")
    # Every cached leaderboard of a study carries the study's generation: invalidating them all
    # is one increment, whatever methods and options were cached.
    generation = cache.get(_generation_key(study_id), 0)
    o = options
    # v4: documents say mean_of, and "mean" leaves set criteria out; a v3 document is never read.
    return f"leaderboard:v4:{study_id}:{generation}:{o.method}:{o.rounds}:{o.seed}:{int(o.include_flagged)}:{o.resample}:{o.by or '-'}"


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
