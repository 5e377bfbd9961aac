"""Cloning a study into a new draft, and adding models to a draft (issue 15, part 4).

A clone copies what a study is made of: its models, prompt set, seeds, display size, criteria,
every rater-side setting (consent text, rater title, quotas, checks, timing, completion URL),
and its sampling and stopping rules: every editable field of ``Study`` except those named in
``NOT_COPIED``, so a setting added later is copied without touching this module. It never copies
votes, participants, invited rater accounts, status, what the background computed, or the links'
secrets: a field whose default makes a secret (``new_link_key``, ``new_completion_code``) gets a
fresh value. Images are reused, never regenerated: an image is unique per (model, prompt, seed),
so the clone's generation job finds them made and queues only what is missing (e.g. the images
of a model added to the clone).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction

from generation import jobs as generation_jobs
from generation.models import ModelSpec
from generation.selectors import prompt_sets_usable_by, specs_usable_by

from .models import HiddenImage, Study, new_completion_code, new_link_key
from .screening import screening_study, study_images_review_reset

# What a clone never copies from its source: who and what the study is, and its state.
NOT_COPIED = {"id", "name", "owner", "job", "status"}
# A field with one of these defaults is a secret of the study's links: a clone gets a new one.
SECRET_DEFAULTS = (new_completion_code, new_link_key)


def copied_fields() -> list:
    """The fields of ``Study`` a clone copies (editable ones; non-editable fields are state)."""
    return [
        field for field in Study._meta.concrete_fields
        if field.editable and not field.primary_key and field.name not in NOT_COPIED
    ]


def _unusable(study: Study, user) -> list[str]:
    """What of the study's models and prompt set ``user`` may not put in a study of their own."""
    specs = list(study.job.specs.order_by("pk"))
    usable = set(specs_usable_by(user=user).filter(pk__in=[spec.pk for spec in specs]).values_list("pk", flat=True))
    problems = [f"model '{spec.slug}' (not yours, not shared with you)" for spec in specs if spec.pk not in usable]
    if not prompt_sets_usable_by(user=user).filter(pk=study.job.prompt_set_id).exists():
        problems.append(f"prompt set '{study.job.prompt_set.name}' (not yours, not shared with you)")
    return problems


def study_clone(*, study: Study, by, name: str | None = None, pilot_of: Study | None = None) -> Study:
    """A new draft with every setting of ``study``, owned by ``by`` (a pilot: by the main study's
    owner, shared as it is); reuses its images. Images hidden in screening stay hidden in the
    clone; the clone is screened anew before crowd links work (a pilot: with its main study)."""
    name = (f"Copy of {study.name}"[:200] if name is None else name).strip()
    if not name:
        raise ValidationError({"name": ["Give the new study a name (for researchers only; raters never see it)."]})
    if len(name) > 200:
        raise ValidationError({"name": ["Keep the name to 200 characters."]})
    if by is not None and pilot_of is None:
        problems = _unusable(study, by)
        if problems:
            raise ValidationError({"study": [f"You cannot clone this study: it uses {', '.join(problems)}. Ask its owner to share them."]})
    source = Study.objects.select_related("job").get(pk=study.pk)
    values = {}
    for field in copied_fields():
        if field.default in SECRET_DEFAULTS:
            values[field.attname] = field.default()
        else:
            values[field.attname] = copy.deepcopy(getattr(source, field.attname))
    job = source.job
    with transaction.atomic():
        new_job = generation_jobs.job_create(
            specs=job.specs.order_by("pk"), prompt_set=job.prompt_set, seeds=list(job.seeds), display_size=job.display_size
        )
        clone = Study.objects.create(
            **values, name=name, owner=source.owner if pilot_of is not None else by, job=new_job, status=Study.Status.DRAFT,
            cloned_from=source, pilot_of=pilot_of,
        )
        if pilot_of is not None:
            clone.shared_with.set(pilot_of.shared_with.all())
        else:
            root = screening_study(source)
            HiddenImage.objects.bulk_create([
                HiddenImage(
                    study=clone, image_id=row.image_id, reason=row.reason, hidden_by=row.hidden_by,
                    note=((f"{row.note} " if row.note else "") + f"(hidden in study {root.pk})")[:500],
                )
                for row in HiddenImage.objects.filter(study=root)
            ])
    return clone


def study_models_add(*, study: Study, specs: Iterable[ModelSpec]) -> Study:
    """Add models to a draft study (a clone, typically): generation then makes only their images.
    The screening starts over, as new images will come."""
    from .studies import StudyStateError, rater_title_problem, specs_problem

    specs = list(specs)
    with transaction.atomic():
        locked = Study.objects.select_for_update().select_related("job").get(pk=study.pk)
        if locked.status != Study.Status.DRAFT:
            raise StudyStateError(
                f"Study '{locked.name}' is {locked.get_status_display().lower()}: models can be added to a draft only. "
                "Clone it (its images are reused) and add the model to the clone."
            )
        if locked.pilot_of_id or Study.objects.filter(pilot_of=locked).exists():
            raise StudyStateError("A pilot and its main study compare the same models: add a model to a clone instead.")
        current = list(locked.job.specs.order_by("pk"))
        errors = {}
        if not specs:
            errors["models"] = "Give one or more models to add."
        twice = [spec.slug for spec in specs if spec in current]
        if twice:
            errors["models"] = f"Already in the study: {', '.join(twice)}."
        problem = specs_problem(current + specs)
        if problem and "models" not in errors:
            errors["models"] = problem
        title_problem = rater_title_problem(rater_title=locked.rater_title, specs=specs)
        if title_problem:
            errors["rater_title"] = f"{title_problem} Change the rater title first."
        if errors:
            raise ValidationError(errors)
        locked.job.specs.add(*specs)
        study_images_review_reset(study=locked)
    locked.refresh_from_db()
    return locked
