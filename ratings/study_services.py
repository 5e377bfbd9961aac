"""Writes that run a study from the API, the dashboard and the admin: start generation,
open, pause, resume, close, share, and moderating its raters.

A transition that the study's status does not allow raises ``StudyStateError`` (the API
answers 409) and writes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction
from rest_framework.authtoken.models import Token

from common.api import RESEARCHERS_GROUP
from generation import storage, uploads
from generation.selectors import job_progress

from . import leaderboards, services
from .models import Rater, Study, Vote


class StudyStateError(Exception):
    """The study's status does not allow this step; the message says why and what to do."""


def _locked(study: Study) -> Study:
    return Study.objects.select_for_update().select_related("job").get(pk=study.pk)


def study_generation_start(*, study: Study) -> int:
    """Queue the study's missing images once; returns the number of batches queued.

    External systems are never generated: all their images must have been uploaded first.
    """
    with transaction.atomic():
        study = _locked(study)
        if study.status != Study.Status.DRAFT:
            raise StudyStateError(
                f"Generation of study '{study.name}' was already started (status: {study.get_status_display()}); "
                "it can be started only once."
            )
        missing = uploads.job_external_missing(job=study.job)
        if missing:
            raise ValidationError(
                {
                    "specs": [
                        f"{spec}: {count} of the study's prompt x seed images are not uploaded yet "
                        f"(POST /api/v1/specs/{spec.pk}/images/)."
                        for spec, count in missing
                    ]
                }
            )
        storage.job_display_copies_ensure(job=study.job)
        return services.study_start_generation(study=study)


def study_rating_open(*, study: Study) -> None:
    """Open the study to raters once every image exists."""
    with transaction.atomic():
        study = _locked(study)
        if study.status not in (Study.Status.GENERATING, Study.Status.DRAFT):
            raise StudyStateError(
                f"Study '{study.name}' is {study.get_status_display().lower()}; only a study that is generating "
                "(or a draft whose images all exist) can be opened for rating."
            )
        progress = job_progress(job=study.job)
        if progress["done"] < progress["total"]:
            raise StudyStateError(
                f"Only {progress['done']} of {progress['total']} images are made; open the study for rating when all exist."
            )
        storage.job_display_copies_ensure(job=study.job)
        services.study_open(study=study)


def study_pause(*, study: Study) -> None:
    """Stop serving pairs to raters. Generation tasks already queued still run."""
    with transaction.atomic():
        study = _locked(study)
        if study.status not in (Study.Status.GENERATING, Study.Status.RATING):
            raise StudyStateError(
                f"Study '{study.name}' is {study.get_status_display().lower()}; only a generating or rating study can be paused."
            )
        Study.objects.filter(pk=study.pk).update(status=Study.Status.PAUSED)


def study_resume(*, study: Study) -> str:
    """Back to rating when every image exists, else back to generating; returns the new status."""
    with transaction.atomic():
        study = _locked(study)
        if study.status != Study.Status.PAUSED:
            raise StudyStateError(f"Study '{study.name}' is {study.get_status_display().lower()}, not paused; nothing to resume.")
        progress = job_progress(job=study.job)
        status = Study.Status.RATING if progress["done"] >= progress["total"] else Study.Status.GENERATING
        if status == Study.Status.RATING:
            storage.job_display_copies_ensure(job=study.job)
        Study.objects.filter(pk=study.pk).update(status=status)
        return status


def study_close(*, study: Study) -> None:
    """Close for good: raters are no longer served; votes and leaderboards stay."""
    with transaction.atomic():
        study = _locked(study)
        if study.status == Study.Status.CLOSED:
            raise StudyStateError(f"Study '{study.name}' is already closed.")
        Study.objects.filter(pk=study.pk).update(status=Study.Status.CLOSED)


def study_share(*, study: Study, users: Iterable) -> None:
    """Let other researchers see and run the study."""
    users = list(users)
    from common.api import is_researcher

    refused = [user.get_username() for user in users if not is_researcher(user)]
    if refused:
        raise ValidationError({"users": [f"'{name}' is not a researcher; share studies only with researchers." for name in refused]})
    study.shared_with.add(*users)


def study_unshare(*, study: Study, users: Iterable) -> None:
    study.shared_with.remove(*list(users))


def rater_flag(*, study: Study, rater: Rater, flagged: bool = True, reason: str = "staff") -> int:
    """Flag (or clear) a rater in one study: flagged raters are left out of that study's
    leaderboards by default and still count in their other studies. Returns the participations
    changed; the study's cached leaderboards are refreshed."""
    from .models import Participation

    changed = Participation.objects.filter(study=study, rater=rater).exclude(flagged=flagged).update(
        flagged=flagged, flag_reason=reason if flagged else ""
    )
    leaderboards.leaderboards_invalidate(study_ids=[study.pk])
    return changed


def rater_exclude(*, study: Study, rater: Rater, excluded: bool = True) -> int:
    """Exclude (or include again) every vote of a rater in one study; returns the votes changed.

    Votes are never deleted: excluding is a flag, so any leaderboard can be recomputed."""
    changed = Vote.objects.filter(comparison__study=study, comparison__rater=rater).exclude(excluded=excluded).update(excluded=excluded)
    leaderboards.leaderboards_invalidate(study_ids=[study.pk])
    return changed


def researcher_grant(*, user) -> Token:
    """Give a user API access (the researchers group) and return their API token."""
    from django.contrib.auth.models import Group

    group, _ = Group.objects.get_or_create(name=RESEARCHERS_GROUP)
    user.groups.add(group)
    token, _ = Token.objects.get_or_create(user=user)
    return token


def raters_flag_inconsistent(*, study: Study) -> int:
    """Flag, in this study, raters whose share of deliberate repeats answered the same way is
    below the study's ``min_self_consistency``, once they have ``min_repeats_to_judge`` repeated
    answers; returns the raters flagged. Nothing happens when the study sets no threshold."""
    from .models import Participation
    from .rater_stats import study_self_consistency

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
        leaderboards.leaderboards_invalidate(study_ids=[study.pk])
    return changed


def votes_exclude(*, votes, excluded: bool = True) -> int:
    """Exclude (or include again) chosen votes; returns the number changed. Never deletes. The
    cached leaderboards of the studies they belong to are refreshed."""
    chosen = Vote.objects.filter(pk__in=[vote.pk for vote in votes])
    study_ids = set(chosen.values_list("comparison__study_id", flat=True))
    changed = chosen.exclude(excluded=excluded).update(excluded=excluded)
    leaderboards.leaderboards_invalidate(study_ids=study_ids)
    return changed


def rater_exclude_everywhere(*, rater: Rater, excluded: bool = True) -> int:
    """Exclude (or include again) every vote of a rater, in every study; returns the votes changed."""
    changed = Vote.objects.filter(comparison__rater=rater).exclude(excluded=excluded).update(excluded=excluded)
    leaderboards.rater_leaderboards_invalidate(rater=rater)
    return changed
