"""Reads of the generation app."""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import Count

from .models import GenerationJob, Image


def job_progress(*, job: GenerationJob) -> dict:
    """Images made of total, overall and per spec."""
    prompt_ids = list(job.prompt_set.prompts.values_list("pk", flat=True))
    per_spec_total = len(prompt_ids) * len(job.seeds)
    counts = dict(
        Image.objects.filter(spec__in=job.specs.all(), prompt_id__in=prompt_ids, seed__in=job.seeds)
        .values_list("spec_id")
        .annotate(n=Count("pk"))
        .values_list("spec_id", "n")
    )
    per_spec = [
        {"spec_id": spec.pk, "spec": str(spec), "done": counts.get(spec.pk, 0), "total": per_spec_total}
        for spec in job.specs.order_by("pk")
    ]
    done = sum(row["done"] for row in per_spec)
    return {"done": done, "total": per_spec_total * len(per_spec), "per_spec": per_spec}


def job_missing_batches(*, job: GenerationJob, batch_size: int) -> Iterator[tuple[int, list[tuple[int, int]]]]:
    """(spec id, [(prompt id, seed), ...]) batches of the images the job still lacks, spec by spec."""
    prompt_ids = list(job.prompt_set.prompts.order_by("position").values_list("pk", flat=True))
    for spec in job.specs.order_by("pk"):
        existing = set(
            Image.objects.filter(spec=spec, prompt_id__in=prompt_ids, seed__in=job.seeds).values_list("prompt_id", "seed")
        )
        missing = [(p, s) for s in job.seeds for p in prompt_ids if (p, s) not in existing]
        for start in range(0, len(missing), batch_size):
            yield spec.pk, missing[start : start + batch_size]
