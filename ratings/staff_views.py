"""The study team's operations page (issue 15): screening the images in a grid (hide, show
again, mark reviewed, skip), starting the pilot, cloning, adding a model to a draft, and
reopening a study that its stopping rule or vote budget stopped (issue 26).

For the study's owner, the researchers it is shared with, and staff (starting the pilot and
skipping the screening: owner and staff). Entry points only: the rules are in
``ratings/screening.py``, ``ratings/pilots.py`` and ``ratings/cloning.py``.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.storage import default_storage
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from generation.models import DisplayCopy
from generation.selectors import job_progress, spec_resolve

from . import cloning, pilots, scheduler, screening, selectors, stopping, studies
from .design import answered_comparisons
from .models import HiddenImage, Study
from .progress import studies_visible_to


def _team_study(request: HttpRequest, study_id: int) -> Study:
    study = get_object_or_404(Study.objects.select_related("job", "owner", "pilot_of"), pk=study_id)
    if not studies_visible_to(user=request.user).filter(pk=study.pk).exists():
        raise PermissionDenied("Only the study's owner, the researchers it is shared with, and staff reach its operations page.")
    return study


def _post_only(request: HttpRequest, what: str) -> HttpResponse | None:
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"], f"{what} is a POST, from the buttons of the study's operations page.")
    return None


def _here(study: Study) -> str:
    return reverse("ratings:operations", args=[study.pk])


def _error_text(error: Exception) -> str:
    return " ".join(error.messages) if isinstance(error, ValidationError) else str(error)


@login_required
def operations(request: HttpRequest, study_id: int) -> HttpResponse:
    study = _team_study(request, study_id)
    context = {
        "study": study,
        "role": pilots.study_role(study=study),
        "grid": screening.study_screening_grid(study=study),
        "progress": job_progress(job=study.job),
        "reasons": HiddenImage.Reason.choices,
        "owner_or_staff": screening.owner_or_staff(study=study, user=request.user),
        "crowd_problem": screening.crowd_entry_problem(study=study),
        # The links to hand to the crowd platforms (a pilot has its own).
        # Joined as text: the platforms' {{%PLACEHOLDERS%}} must reach them unencoded.
        "links": selectors.study_crowd_links(study=study, site=request.build_absolute_uri("/")),
        "reported": screening.study_reported_pairs(study=study),
        "reports_to_retire": scheduler.REPORTS_TO_RETIRE,
        "reporter_min_answered": scheduler.voting.REPORTER_MIN_ANSWERED,
        "stopping": _stopping(study),
    }
    return render(request, "ratings/operations.html", context)


def _stopping(study: Study) -> dict | None:
    """A stopped study's reason and counts, and the warning when its rule is already met."""
    if study.stopped_at is None:
        return None
    return {"text": stopping.study_stop_text(study=study), "warning": stopping.study_reopen_warning(study=study),
            "answered": answered_comparisons(study=study)}


def _number(value: str | None, field: str, kind=float):
    if value in (None, ""):
        return None
    try:
        return kind(value)
    except ValueError:
        raise ValidationError({field: ["Give a number, or leave it empty to keep the current one."]}) from None


@login_required
def reopen(request: HttpRequest, study_id: int) -> HttpResponse:
    """Serve a stopped study again: a budget (empty: the current one) and optionally a stricter
    rule; says so when the rule is already met, so it would stop again at once."""
    study = _team_study(request, study_id)
    refused = _post_only(request, "Reopening a study")
    if refused:
        return refused
    rule = {}
    try:
        budget = _whole_number(request.POST.get("vote_budget"), "vote_budget")
        top_k = (request.POST.get("stop_top_k") or "").strip().lower()
        if top_k == "all":
            rule["stop_top_k"] = None
        elif top_k:
            rule["stop_top_k"] = _whole_number(top_k, "stop_top_k")
        for field in ("stop_alpha", "stop_width"):
            value = _number(request.POST.get(field), field)
            if value is not None:
                rule[field] = value
        reopened = stopping.study_reopen(study=study, vote_budget=budget, **rule)
    except ValidationError as error:
        messages.error(request, f"The study was not reopened: {_error_text(error)}")
        return redirect(_here(study))
    messages.success(request, f"Reopened with a budget of {reopened.vote_budget:,} comparisons: new pairs are served again.")
    warning = stopping.study_reopen_warning(study=reopened)
    if warning:
        messages.error(request, f"Warning: {warning}")
    return redirect(_here(study))


@login_required
def screening_image(request: HttpRequest, study_id: int, image_id: int) -> HttpResponse:
    """One image of the study for the screening grid (its display copy), for the study's team only."""
    study = _team_study(request, study_id)
    if not screening.study_images(study=study).filter(pk=image_id).exists():
        raise Http404("No such image in this study.")
    copy = DisplayCopy.objects.filter(image_id=image_id, size=study.display_size).first()
    if copy is None:
        raise Http404("This image has no display copy yet.")
    with default_storage.open(copy.file.name, "rb") as handle:
        response = HttpResponse(handle.read(), content_type="image/png")
    response["Cache-Control"] = "private, max-age=3600"
    return response


@login_required
def screening_change(request: HttpRequest, study_id: int) -> HttpResponse:
    """Hide or show images, mark the screening done, or skip it (the form's ``action``)."""
    study = _team_study(request, study_id)
    refused = _post_only(request, "Changing the screening")
    if refused:
        return refused
    action = request.POST.get("action", "")
    images = request.POST.getlist("images")
    try:
        if action == "hide":
            result = screening.images_hide(
                study=study, image_ids=images, reason=request.POST.get("reason", ""), note=request.POST.get("note", ""), by=request.user
            )
            text = f"{result['hidden']} image(s) hidden; {result['pairs_retired']} pair(s) retired."
            checks = result["attention_checks_removed"] + result["attention_checks_kept"]
            if checks:
                text += f" {checks} attention check(s) on them are no longer served."
            if result["open_pairs"]:
                text += f" {result['open_pairs']} pair(s) already on raters' screens may still be answered."
            messages.success(request, text)
        elif action == "unhide":
            result = screening.images_unhide(study=study, image_ids=images)
            text = f"{result['shown']} image(s) shown again; {result['pairs_restored'] + result['pairs_added']} pair(s) serve again."
            if result["attention_checks_restored"]:
                text += f" {result['attention_checks_restored']} attention check(s) serve again."
            messages.success(request, text)
        elif action == "review":
            screening.study_images_reviewed(study=study, by=request.user)
            messages.success(request, "Screening recorded as done: crowd links work once the study is open.")
        elif action == "skip":
            screening.study_images_review_skip(study=study, by=request.user)
            messages.success(request, "Screening skipped on purpose (recorded with your name): crowd links work once the study is open.")
        else:
            messages.error(request, "Choose what to do: hide, unhide, review or skip. Nothing was changed.")
    except (ValidationError, studies.StudyStateError) as error:
        messages.error(request, f"Nothing was changed: {_error_text(error)}")
    return redirect(_here(study))


@login_required
def reports_restore(request: HttpRequest, study_id: int) -> HttpResponse:
    """Serve reported pairs again after looking at them (``screening.reported_pairs_restore``)."""
    study = _team_study(request, study_id)
    refused = _post_only(request, "Serving reported pairs again")
    if refused:
        return refused
    try:
        result = screening.reported_pairs_restore(study=study, slot_ids=request.POST.getlist("slots"))
    except ValidationError as error:
        messages.error(request, f"Nothing was changed: {_error_text(error)}")
        return redirect(_here(study))
    messages.success(
        request, f"{result['reviewed']} reported pair(s) reviewed: their reports so far no longer count; "
        f"{result['pairs_restored']} retired pair(s) serve again."
    )
    return redirect(_here(study))


@login_required
def pilot_start(request: HttpRequest, study_id: int) -> HttpResponse:
    study = _team_study(request, study_id)
    refused = _post_only(request, "Starting a pilot")
    if refused:
        return refused
    try:
        quota = _whole_number(request.POST.get("quota_per_rater"), "quota_per_rater")
        cap = _whole_number(request.POST.get("max_participants"), "max_participants")
        pilot = pilots.study_pilot_start(study=study, by=request.user, quota_per_rater=quota, max_participants=cap)
    except (ValidationError, studies.StudyStateError) as error:
        messages.error(request, f"No pilot was started: {_error_text(error)}")
        return redirect(_here(study))
    messages.success(request, f"Pilot '{pilot.name}' made ({pilot.get_status_display().lower()}); open it when ready.")
    return redirect(_here(pilot))


def _whole_number(value: str | None, field: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError:
        raise ValidationError({field: ["Give a whole number, or leave it empty."]}) from None


@login_required
def clone(request: HttpRequest, study_id: int) -> HttpResponse:
    study = _team_study(request, study_id)
    refused = _post_only(request, "Cloning a study")
    if refused:
        return refused
    try:
        copy = cloning.study_clone(study=study, by=request.user, name=request.POST.get("name") or None)
    except ValidationError as error:
        messages.error(request, f"No clone was made: {_error_text(error)}")
        return redirect(_here(study))
    messages.success(request, f"Cloned into the draft '{copy.name}': its images are reused; add a model or start it.")
    return redirect(_here(copy))


@login_required
def models_add(request: HttpRequest, study_id: int) -> HttpResponse:
    study = _team_study(request, study_id)
    refused = _post_only(request, "Adding a model")
    if refused:
        return refused
    references = [r.strip() for r in request.POST.get("models", "").replace(",", " ").split() if r.strip()]
    specs, unknown = [], []
    for reference in references:
        spec = spec_resolve(reference=reference, user=request.user)
        if spec is None:
            unknown.append(reference)
        else:
            specs.append(spec)
    try:
        if unknown:
            raise ValidationError({"models": [f"Unknown model spec(s): {', '.join(unknown)}. Give slugs or slug@version you may use."]})
        cloning.study_models_add(study=study, specs=specs)
    except (ValidationError, studies.StudyStateError) as error:
        messages.error(request, f"No model was added: {_error_text(error)}")
        return redirect(_here(study))
    messages.success(request, f"Added {', '.join(spec.slug for spec in specs)}; starting generation makes only the new images.")
    return redirect(_here(study))
