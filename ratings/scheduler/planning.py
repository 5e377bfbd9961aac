"""The pair slots a study serves from: made when it opens (and as images arrive), and its fill
level, the point where the least-filled search starts."""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import NamedTuple

from django.db import connection
from django.db.models import Min

from ..models import PairSlot, Study
from .rules import slot_random_key


class SlotRow(NamedTuple):
    """One slot to serve from: two images (or two models' sets of one prompt) and, in an adaptive
    study, the index of its model pair in ``Study.pair_weights``."""

    kind: str
    prompt_id: int
    seed: int
    image_a_id: int
    image_b_id: int
    model_pair: int | None = None


def pair_slots_add(*, study: Study, rows: Iterable[SlotRow], rng: random.Random | None = None) -> int:
    """Add the slots ``rows`` that the study has not yet (idempotent); returns how many were
    added. Which rows a study serves is decided above the scheduler (``ratings/slots.py``)."""
    rng = rng or random.SystemRandom()
    before = PairSlot.objects.filter(study=study).count()
    slots = [
        PairSlot(
            study=study, prompt_id=row.prompt_id, seed=row.seed, image_a_id=row.image_a_id, image_b_id=row.image_b_id,
            random_key=slot_random_key(study, row.seed, rng), kind=row.kind, model_pair=row.model_pair,
        )
        for row in rows
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
