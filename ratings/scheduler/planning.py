"""The pair slots a study serves from: made when it opens (and as images arrive), and its fill
level, the point where the least-filled search starts."""

from __future__ import annotations

import random

from django.db import connection
from django.db.models import Min

from .. import sampling, selectors
from ..models import PairSlot, Study


def pair_slots_sync(*, study: Study, rng: random.Random | None = None) -> int:
    """Add the slots of image pairs that exist now, and with set criteria those of prompts whose
    images exist for every seed (idempotent); returns how many were added."""
    rng = rng or random.SystemRandom()
    before = PairSlot.objects.filter(study=study).count()
    image_spec = {image: spec for images in selectors.study_items(study=study).values() for spec, image in images.items()}
    model_pair = sampling.model_pair_index(study=study)  # (spec id, spec id) -> index in pair_weights
    rows = [(PairSlot.Kind.PAIR, row) for row in selectors.study_image_pairs(study=study)]
    if study.set_criteria:
        rows += [(PairSlot.Kind.SET, row) for row in selectors.study_image_sets(study=study)]
    slots = [
        PairSlot(
            study=study, prompt_id=prompt_id, seed=seed, image_a_id=a, image_b_id=b, random_key=rng.random(), kind=kind,
            model_pair=model_pair[(image_spec[a], image_spec[b])] if study.sampling == "adaptive" else None,
        )
        for kind, (prompt_id, seed, a, b) in rows
    ]
    PairSlot.objects.bulk_create(slots, ignore_conflicts=True, batch_size=2000)
    added = PairSlot.objects.filter(study=study).count() - before
    if added:
        # New slots start empty: the scheduler serves from the lowest level again.
        Study.objects.filter(pk=study.pk).update(serve_level=0)
    return added


def planner_statistics_refresh() -> None:
    """Refresh PostgreSQL's statistics of the pair slots after a study's were bulk-inserted.

    Each database connection keeps the scheduler's query plans once made, until the next
    ANALYZE: made from the statistics of a table that looked empty, they scan instead of using
    the indexes (autovacuum's ANALYZE comes a minute later at best, never where it is off)."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE ratings_pairslot")


def serve_levels_repair() -> list[int]:
    """Lower any study's fill level that is above its least-filled open slot; returns the ids of
    the studies repaired. A periodic task: a level raised at the moment a lapsed reservation
    was given back below it would otherwise serve that slot only after the level's others."""
    return serve_levels_lower(PairSlot.objects.filter(study__status=Study.Status.RATING, retired=False))


def serve_levels_lower(slots) -> list[int]:
    """Lower the fill level of each study among ``slots`` to its least-filled one where the level
    is above it; returns the ids of the studies lowered."""
    lowered = []
    for row in slots.values("study_id").annotate(lowest=Min("filled")):
        if Study.objects.filter(pk=row["study_id"], serve_level__gt=row["lowest"]).update(serve_level=row["lowest"]):
            lowered.append(row["study_id"])
    return lowered
