"""Pilots (issue 15, part 3): a small run before the main study, whose votes stay apart.

A pilot is a study of its own (``Study.pilot_of`` names its main study), cloned from the main
study with every setting and its images reused, with its own crowd links, completion codes,
leaderboard and exports. Its votes are rows of the pilot, so they never reach the main study's
leaderboard, exports, API results or dashboard counts: every one of those reads one study's
votes. Closing the pilot keeps its images (they are the main study's too). Its votes do feed
the main study's votes-needed forecast: ``forecasting.study_forecast`` draws the models' true
strengths from the pilot's votes and the main study's own, and counts only the main study's
towards its stopping rule.

One pilot per study; a pilot has no pilot, and is screened with its main study (its hidden
images and screening are the main study's, see ``ratings/screening.py``).
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from generation.selectors import job_progress

from . import cloning, studies
from .models import Study
from .screening import owner_or_staff


def study_pilot(*, study: Study) -> Study | None:
    """The study's pilot, if it has one."""
    return Study.objects.filter(pilot_of=study).first()


def study_pilot_start(
    *, study: Study, by, name: str | None = None, quota_per_rater: int | None = None, max_participants: int | None = None,
) -> Study:
    """Make the study's pilot: a clone of every setting (``quota_per_rater`` and
    ``max_participants`` may be set smaller), owned and shared as the main study. When every
    image exists it is started at once (nothing to generate), ready to open."""
    if not owner_or_staff(study=study, user=by):
        raise PermissionDenied("Only the study's owner and staff can start its pilot.")
    errors = {}
    for field, value in (("quota_per_rater", quota_per_rater), ("max_participants", max_participants)):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            errors[field] = "Give a whole number of 1 or more, or nothing to keep the main study's."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        study = Study.objects.select_for_update().get(pk=study.pk)  # fresh, and two starts at once make one pilot
        if study.pilot_of_id:
            raise studies.StudyStateError(f"Study '{study.name}' is itself a pilot (of study {study.pilot_of_id}); a pilot has no pilot.")
        existing = study_pilot(study=study)
        if existing is not None:
            raise studies.StudyStateError(f"Study '{study.name}' already has its pilot: '{existing.name}' (study {existing.pk}).")
        if study.status == Study.Status.CLOSED:
            raise studies.StudyStateError(f"Study '{study.name}' is closed; a pilot runs before or beside the main study.")
        pilot = cloning.study_clone(study=study, by=by, name=name if name is not None else f"Pilot of {study.name}", pilot_of=study)
        changes = {
            field: value for field, value in (("quota_per_rater", quota_per_rater), ("max_participants", max_participants))
            if value is not None
        }
        if changes:
            Study.objects.filter(pk=pilot.pk).update(**changes)
        progress = job_progress(job=pilot.job)
        if progress["done"] >= progress["total"]:
            studies.study_start_generation(study=pilot)
    pilot.refresh_from_db()
    return pilot


def study_role(*, study: Study) -> dict:
    """Which is which, in words the pages show: a pilot names its main study, a main study its pilot."""
    if study.pilot_of_id:
        main = study.pilot_of
        return {
            "is_pilot": True, "main": main, "pilot": None,
            "text": f"This is the PILOT of '{main.name}' (study {main.pk}). Its votes are kept apart: they never count in "
            "the main study's leaderboard, exports or API results; they only inform the main study's votes-needed forecast.",
        }
    pilot = study_pilot(study=study)
    if pilot is not None:
        return {
            "is_pilot": False, "main": None, "pilot": pilot,
            "text": f"This is the MAIN study. Its pilot is '{pilot.name}' (study {pilot.pk}, {pilot.get_status_display().lower()}); "
            "the pilot's votes are not counted here.",
        }
    return {"is_pilot": False, "main": None, "pilot": None, "text": ""}
