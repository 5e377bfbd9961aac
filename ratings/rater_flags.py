"""Flags and exclusions of raters and votes: every flag is written here (by staff through the
admin and the API, and the self-consistency threshold by ``raters_flag_inconsistent_due`` from
the periodic leaderboard task). Nothing is deleted: a flag leaves a rater out of one study's
leaderboards, an exclusion leaves votes out of every one; each refreshes the cached results."""

from __future__ import annotations

from .models import Participation, Rater, Study, Vote
from .rater_reads import study_self_consistency
from .results.caches import leaderboards_invalidate, rater_leaderboards_invalidate


def rater_flag(*, study: Study, rater: Rater, flagged: bool = True, reason: str = "staff") -> int:
    """Flag (or clear) a rater in one study: flagged raters are left out of that study's
    leaderboards by default and still count in their other studies. Returns the participations
    changed; the study's cached leaderboards are refreshed."""
    changed = Participation.objects.filter(study=study, rater=rater).exclude(flagged=flagged).update(
        flagged=flagged, flag_reason=reason if flagged else ""
    )
    leaderboards_invalidate(study_ids=[study.pk])
    return changed


def rater_exclude(*, study: Study, rater: Rater, excluded: bool = True) -> int:
    """Exclude (or include again) every vote of a rater in one study; returns the votes changed.

    Votes are never deleted: excluding is a flag, so any leaderboard can be recomputed."""
    changed = Vote.objects.filter(comparison__study=study, comparison__rater=rater).exclude(excluded=excluded).update(excluded=excluded)
    leaderboards_invalidate(study_ids=[study.pk])
    return changed


def raters_flag_inconsistent(*, study: Study) -> int:
    """Flag, in this study, raters whose share of deliberate repeats answered the same way is
    below the study's ``min_self_consistency``, once they have ``min_repeats_to_judge`` repeated
    answers; returns the raters flagged. Nothing happens when the study sets no threshold."""
    if study.min_self_consistency is None:
        return 0
    below = [
        rater_id for rater_id, row in study_self_consistency(study=study)["raters"].items()
        if row["repeats"] >= study.min_repeats_to_judge and row["share"] is not None and row["share"] < study.min_self_consistency
    ]
    changed = Participation.objects.filter(study=study, rater_id__in=below, flagged=False).update(
        flagged=True, flag_reason=Participation.FlagReason.SELF_CONSISTENCY
    )
    if changed:
        leaderboards_invalidate(study_ids=[study.pk])
    return changed


def raters_flag_inconsistent_due() -> list[int]:
    """Apply the self-consistency threshold of every study being rated or closed (the periodic
    leaderboard refresh runs it first); returns the ids of the studies where a rater was flagged."""
    studies = Study.objects.filter(status__in=[Study.Status.RATING, Study.Status.CLOSED], min_self_consistency__isnull=False)
    return [study.pk for study in studies if raters_flag_inconsistent(study=study)]


def votes_exclude(*, votes, excluded: bool = True) -> int:
    """Exclude (or include again) chosen votes; returns the number changed. Never deletes. The
    cached leaderboards of the studies they belong to are refreshed."""
    chosen = Vote.objects.filter(pk__in=[vote.pk for vote in votes])
    study_ids = set(chosen.values_list("comparison__study_id", flat=True))
    changed = chosen.exclude(excluded=excluded).update(excluded=excluded)
    leaderboards_invalidate(study_ids=study_ids)
    return changed


def rater_exclude_everywhere(*, rater: Rater, excluded: bool = True) -> int:
    """Exclude (or include again) every vote of a rater, in every study; returns the votes changed."""
    changed = Vote.objects.filter(comparison__rater=rater).exclude(excluded=excluded).update(excluded=excluded)
    rater_leaderboards_invalidate(rater=rater)
    return changed
