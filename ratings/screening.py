"""Screening a study's images before a crowd sees them (issue 15, part 5).

Staff and the study's researchers look at every image in a grid (model x prompt x seed) and
hide the broken or offensive ones, with a reason. A hidden image is served to nobody:

- before the study opens, it is left out of everything made on opening (``selectors.study_items``
  skips it: no pair slot, no attention check, no instructions example);
- after opening, hiding retires its pair slots (the scheduler serves no retired slot on either
  database path, not even as a self-consistency repeat of a pair a rater answered before),
  deletes the attention checks built on it that nobody was shown yet, and retires those already
  shown to someone (kept for the answers given, served to nobody else). Only a pair already on
  a rater's screen when the image is hidden may still be answered, and counts.

Showing an image again undoes this: its slots serve again (unless raters' reports retired them)
and its retired attention checks too, once none of their images is hidden.

Reported pairs (issue 25): raters' reports retire a pair only on evidence (the scheduler's
``comparison_report``); the operations page lists every reported pair with its reports
(``study_reported_pairs``), and serving one again (``reported_pairs_restore``) clears its reports'
weight and puts it back unless one of its images is hidden, so no pair stays retired by reports
for good and showing a hidden image again never keeps a reported-then-restored pair away.

Crowd links (Prolific, MTurk) work only once the images were screened (``study_images_reviewed``)
or the owner (or staff) skipped the screening on purpose (``study_images_review_skip``); both are
recorded with who and when. Invited rater accounts are not held back: the researchers chose those
people themselves, and the gate is about strangers. A pilot shows its main study's images, so it
is screened with its main study: its hidden images and its screening are the main study's.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from generation.models import DisplayCopy, Image
from generation.selectors import job_progress

from . import scheduler
from .models import AttentionCheck, Comparison, HiddenImage, PairSlot, Study
from .results.votes import model_label
from .slots import pair_slots_sync

NOT_SCREENED = (
    "Crowd links do not work yet: the study's images have not been screened. Review them on the screening page "
    "(or POST /api/v1/studies/{id}/screening/review/), or, as the owner, skip the screening on purpose."
)


def screening_study(study: Study) -> Study:
    """The study whose screening applies: a pilot's main study, else the study itself."""
    return study.pilot_of if study.pilot_of_id else study


def _screened_together(root: Study) -> list[Study]:
    """The root study and its pilot: they show the same images."""
    return list(Study.objects.filter(Q(pk=root.pk) | Q(pilot_of=root)).order_by("pk"))  # fresh: their status decides


def hidden_image_ids(*, study: Study) -> set[int]:
    return set(HiddenImage.objects.filter(study_id=study.pilot_of_id or study.pk).values_list("image_id", flat=True))


def study_images(*, study: Study):
    """Every image of the study that exists, hidden ones included."""
    job = study.job
    return Image.objects.filter(spec__in=job.specs.all(), prompt__prompt_set=job.prompt_set, seed__in=job.seeds)


def owner_or_staff(*, study: Study, user) -> bool:
    return bool(user and user.is_authenticated and (user.is_staff or study.owner_id == user.pk))


def _checked_images(study: Study, image_ids: Iterable) -> list[int]:
    if isinstance(image_ids, (str, bytes)):
        raise ValidationError({"images": ["Give a list of image ids, as the screening grid lists them."]})
    try:
        ids = sorted({int(i) for i in image_ids})
    except (TypeError, ValueError):
        raise ValidationError({"images": ["Give image ids: whole numbers, as the screening grid lists them."]}) from None
    if not ids:
        raise ValidationError({"images": ["Give at least one image id."]})
    known = set(study_images(study=study).filter(pk__in=ids).values_list("pk", flat=True))
    unknown = [str(i) for i in ids if i not in known]
    if unknown:
        raise ValidationError({"images": [f"Not images of this study: {', '.join(unknown[:20])}. Nothing was changed."]})
    return ids


def images_hide(*, study: Study, image_ids: Iterable, reason: str, note: str = "", by=None) -> dict:
    """Hide images from the study's raters (and its pilot's, or its main study's); returns what
    happened: images newly hidden, pair slots retired, unseen attention checks removed, the
    others retired (kept), and the served pairs that may still be answered."""
    root = screening_study(study)
    note = (note or "").strip()
    if reason not in HiddenImage.Reason.values:
        raise ValidationError({"reason": [f"Give the reason: one of {', '.join(HiddenImage.Reason.values)}."]})
    if reason == HiddenImage.Reason.OTHER and not note:
        raise ValidationError({"note": ["Say why in the note when the reason is other."]})
    if len(note) > 500:
        raise ValidationError({"note": ["Keep the note to 500 characters."]})
    ids = _checked_images(root, image_ids)
    together = _screened_together(root)
    with transaction.atomic():
        already = set(HiddenImage.objects.filter(study=root, image_id__in=ids).values_list("image_id", flat=True))
        HiddenImage.objects.bulk_create(
            [HiddenImage(study=root, image_id=i, reason=reason, note=note, hidden_by=by) for i in ids if i not in already]
        )
        involves = Q(image_a_id__in=ids) | Q(image_b_id__in=ids)
        retired = PairSlot.objects.filter(involves, study__in=together, retired=False).update(retired=True)
        checks = AttentionCheck.objects.filter(Q(image_id__in=ids) | Q(decoy_image_id__in=ids), study__in=together)
        unseen = checks.exclude(pk__in=Comparison.objects.filter(attention_check__in=checks).values("attention_check_id"))
        removed, _ = unseen.delete()
        # Comparisons protect the rest: kept for the answers given, served to nobody else.
        kept = checks.update(retired=True)
        open_pairs = Comparison.objects.filter(
            involves, study__in=together, answered_at__isnull=True, released_at__isnull=True
        ).count()
    for member in together:
        # The instructions' example is cached per study: made again, it leaves hidden images out.
        cache.delete_many([f"ratings:example:{member.pk}:{member.display_size}:{kind}" for kind in ("clear", "degraded", "unrelated")])
    return {
        "hidden": len(ids) - len(already), "pairs_retired": retired, "attention_checks_removed": removed,
        "attention_checks_kept": kept, "open_pairs": open_pairs,
    }


def images_unhide(*, study: Study, image_ids: Iterable) -> dict:
    """Show hidden images again: their retired pair slots serve again (unless raters' reports
    retired them), an open study gets slots for pairs never made, and their retired attention
    checks serve again once none of their images is hidden; returns counts."""
    root = screening_study(study)
    ids = _checked_images(root, image_ids)
    together = _screened_together(root)
    with transaction.atomic():
        shown, _ = HiddenImage.objects.filter(study=root, image_id__in=ids).delete()
        still_hidden = hidden_image_ids(study=root)
        slots = (
            PairSlot.objects.filter(Q(image_a_id__in=ids) | Q(image_b_id__in=ids), study__in=together, retired=True)
            .exclude(image_a_id__in=still_hidden).exclude(image_b_id__in=still_hidden)
            .filter(report_retired_at__isnull=True)  # retired by reports: staff serve it again below the grid
        )
        restored = PairSlot.objects.filter(pk__in=[slot.pk for slot in slots]).update(retired=False)
        checks_restored = (
            AttentionCheck.objects.filter(Q(image_id__in=ids) | Q(decoy_image_id__in=ids), study__in=together, retired=True)
            .exclude(image_id__in=still_hidden).exclude(decoy_image_id__in=still_hidden)
            .update(retired=False)
        )
        added = 0
        for member in together:
            if member.status in (Study.Status.RATING, Study.Status.PAUSED):
                added += pair_slots_sync(study=member)
                # Slots served again start below the current level: search from the bottom.
                Study.objects.filter(pk=member.pk).update(serve_level=0)
    return {"shown": shown, "pairs_restored": restored, "pairs_added": added, "attention_checks_restored": checks_restored}


def study_reported_pairs(*, study: Study, limit: int = 200) -> list[dict]:
    """The study's reported pairs for the operations page, most reported first: the slot, its
    prompt and images, reports since staff last served it again (and all), how many of those
    come from raters whose reports count (``scheduler.voting.counted_reporters``), the reasons and
    notes, and whether reports retired it or an image of it is hidden."""
    from .scheduler.voting import counted_reporters

    reports = (
        Comparison.objects.filter(study=study, reported_at__isnull=False, slot__isnull=False)
        .select_related("slot", "prompt").order_by("reported_at")
    )
    by_slot: dict[int, dict] = {}
    for comparison in reports:
        slot = comparison.slot
        row = by_slot.setdefault(slot.pk, {
            "slot": slot, "prompt": comparison.prompt.text, "image_a": slot.image_a_id, "image_b": slot.image_b_id,
            "all_reports": 0, "reports": 0, "reasons": defaultdict(int), "notes": [],
            "retired_by_reports": slot.report_retired_at is not None, "hidden": slot.retired and slot.report_retired_at is None,
        })
        row["all_reports"] += 1
        if slot.reports_reviewed_at is None or comparison.reported_at > slot.reports_reviewed_at:
            row["reports"] += 1
            row["reasons"][comparison.report_reason] += 1
            if comparison.report_note:
                row["notes"].append(comparison.report_note)
    rows = sorted(by_slot.values(), key=lambda row: (-row["retired_by_reports"], -row["reports"], row["slot"].pk))[:limit]
    for row in rows:
        row["counted"] = counted_reporters(study_id=study.pk, slot=row["slot"])
        row["reasons"] = ", ".join(f"{reason} {n}" for reason, n in sorted(row["reasons"].items()))
        row["notes"] = row["notes"][-3:]
    return rows


def reported_pairs_restore(*, study: Study, slot_ids: Iterable) -> dict:
    """Staff looked at reported pairs and serve them again: their reports so far no longer count
    towards retiring them, a pair that reports retired serves again (unless one of its images is
    hidden: then it serves again once the image is shown); returns counts. Unknown or unreported
    slots are refused with a ``ValidationError``, changing nothing."""
    try:
        ids = sorted({int(slot_id) for slot_id in slot_ids})
    except (TypeError, ValueError):
        raise ValidationError("Choose reported pairs of this study by their numbers.") from None
    if not ids:
        raise ValidationError("Choose at least one reported pair to serve again.")
    reported = set(
        Comparison.objects.filter(study=study, slot_id__in=ids, reported_at__isnull=False).values_list("slot_id", flat=True)
    )
    unknown = [slot_id for slot_id in ids if slot_id not in reported]
    if unknown:
        raise ValidationError(f"Not reported pairs of this study: {', '.join(map(str, unknown))}. Nothing was changed.")
    now = timezone.now()
    hidden = hidden_image_ids(study=study)
    with transaction.atomic():
        slots = PairSlot.objects.select_for_update().filter(study=study, pk__in=ids)
        retired_by_reports = [slot.pk for slot in slots if slot.report_retired_at is not None]
        PairSlot.objects.filter(pk__in=ids).update(reports_reviewed_at=now, report_retired_at=None)
        restored = (
            PairSlot.objects.filter(pk__in=retired_by_reports, retired=True)
            .exclude(image_a_id__in=hidden).exclude(image_b_id__in=hidden).update(retired=False)
        )
        if restored:
            Study.objects.filter(pk=study.pk).update(serve_level=0)  # slots served again start below the current level
    return {"reviewed": len(ids), "pairs_restored": restored}


def study_images_reviewed(*, study: Study, by) -> Study:
    """Record that every image was looked at: crowd links work from now on."""
    from .studies import StudyStateError

    if study.pilot_of_id:
        raise StudyStateError(f"A pilot is screened with its main study: review the images of '{study.pilot_of.name}'.")
    progress = job_progress(job=study.job)
    if progress["done"] < progress["total"]:
        raise StudyStateError(
            f"Only {progress['done']} of {progress['total']} images are made: screen them when all exist (or skip the screening)."
        )
    Study.objects.filter(pk=study.pk).update(images_reviewed_at=timezone.now(), images_reviewed_by=by, images_review_skipped=False)
    study.refresh_from_db()
    return study


def study_images_review_skip(*, study: Study, by) -> Study:
    """The owner (or staff) opens crowd links without screening, on purpose: recorded as skipped."""
    from .studies import StudyStateError

    if study.pilot_of_id:
        raise StudyStateError(f"A pilot is screened with its main study: skip the screening of '{study.pilot_of.name}'.")
    if not owner_or_staff(study=study, user=by):
        raise PermissionDenied("Only the study's owner and staff can skip the screening of its images.")
    Study.objects.filter(pk=study.pk).update(images_reviewed_at=timezone.now(), images_reviewed_by=by, images_review_skipped=True)
    study.refresh_from_db()
    return study


def study_images_review_reset(*, study: Study) -> None:
    """New images came (a model added): the screening starts over."""
    Study.objects.filter(pk=study.pk).update(images_reviewed_at=None, images_reviewed_by=None, images_review_skipped=False)


def crowd_entry_problem(*, study: Study) -> str:
    """Why crowd links cannot enter the study yet (for staff; raters see a neutral page), or ''."""
    root_id = study.pilot_of_id or study.pk
    if Study.objects.filter(pk=root_id, images_reviewed_at__isnull=True).exists():
        return NOT_SCREENED.replace("{id}", str(root_id))
    return ""


CLOSED_TO_CROWD = {
    Study.Status.DRAFT: "is still a draft", Study.Status.GENERATING: "is still generating its images",
    Study.Status.PAUSED: "is paused", Study.Status.CLOSED: "is closed",
}


def crowd_links_problem(*, study: Study) -> str:
    """Why the study's crowd links let no new participant in now (for its team), or '': not open
    for rating, stopped by its rule or budget, or not screened (``crowd_entry_problem``)."""
    if study.status != Study.Status.RATING:
        return f"The study {CLOSED_TO_CROWD[study.status]}: the links let participants in only while it is open for rating."
    if study.stopped_at is not None:
        return "The study was stopped by its stopping rule or vote budget: only participants already in it can finish."
    return crowd_entry_problem(study=study)


def screening_state(*, study: Study) -> dict:
    """Whether the study was screened, by whom and when, or skipped; what crowd links do."""
    root = screening_study(study)
    by = root.images_reviewed_by.get_username() if root.images_reviewed_by_id else None
    if root.images_reviewed_at is None:
        text = "Not screened yet: crowd links do not work until the images are reviewed or the owner skips the review."
    elif root.images_review_skipped:
        text = f"Screening skipped on purpose by {by or 'the system (study opened before screening existed)'} on {root.images_reviewed_at:%Y-%m-%d %H:%M} UTC."
    else:
        text = f"Images reviewed by {by or 'unknown'} on {root.images_reviewed_at:%Y-%m-%d %H:%M} UTC."
    return {
        "screened_with": root.pk if root.pk != study.pk else None,
        "reviewed_at": root.images_reviewed_at, "reviewed_by": by, "skipped": root.images_review_skipped,
        "crowd_links_open": root.images_reviewed_at is not None, "text": text,
    }


def hidden_per_model(*, study: Study) -> list[dict]:
    """Per model of the study: images made and images hidden (for the leaderboard)."""
    root = screening_study(study)
    hidden = dict(
        HiddenImage.objects.filter(study=root, image__in=study_images(study=study)).values_list("image__spec_id").annotate(n=Count("pk"))
    )
    made = dict(study_images(study=study).values_list("spec_id").annotate(n=Count("pk")))
    return [
        {"model": model_label(spec), "images": made.get(spec.pk, 0), "hidden": hidden.get(spec.pk, 0)}
        for spec in study.job.specs.order_by("pk")
    ]


def study_screening_grid(*, study: Study) -> dict:
    """The screening grid: per prompt (in order) and seed, one cell per model (ids ascending)
    with its image id (None while not made) and, if hidden, why; plus counts and the review."""
    root = screening_study(study)
    job = study.job
    specs = list(job.specs.order_by("pk"))
    hidden = {row.image_id: row for row in HiddenImage.objects.filter(study=root).select_related("hidden_by")}
    copies = set(DisplayCopy.objects.filter(image__in=study_images(study=study), size=job.display_size).values_list("image_id", flat=True))
    images: dict[tuple[int, int], dict[int, int]] = defaultdict(dict)
    for image_id, spec_id, prompt_id, seed in study_images(study=study).values_list("pk", "spec_id", "prompt_id", "seed"):
        images[(prompt_id, seed)][spec_id] = image_id
    rows = []
    for prompt in job.prompt_set.prompts.order_by("position"):
        for seed in job.seeds:
            cells = []
            for spec in specs:
                image_id = images.get((prompt.pk, seed), {}).get(spec.pk)
                row = hidden.get(image_id)
                cells.append({
                    "model": model_label(spec), "image": image_id, "viewable": image_id in copies,
                    "hidden": row is not None, "reason": row.reason if row else "", "note": row.note if row else "",
                    "hidden_by": row.hidden_by.get_username() if row and row.hidden_by_id else None,
                })
            rows.append({"prompt": prompt.text, "position": prompt.position, "seed": seed, "cells": cells})
    return {
        "models": [model_label(spec) for spec in specs],
        "rows": rows,
        "hidden_per_model": hidden_per_model(study=study),
        "review": screening_state(study=study),
    }
