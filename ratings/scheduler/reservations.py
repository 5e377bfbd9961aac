"""Reservations: a served pair is held for its rater until answered, reported, or given back
(the rater finished or withdrew, or the hold lapsed); giving one back frees its slot."""

from __future__ import annotations

from collections import Counter

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from ..models import Comparison, PairSlot
from .planning import serve_levels_lower
from .rules import LAPSED_BATCH


def reservations_release(comparisons, *, now) -> int:
    """Give back open reservations among ``comparisons`` (rows locked, slots in id order); the
    caller holds the transaction."""
    lapsed = list(
        comparisons.select_for_update()
        .filter(answered_at__isnull=True, released_at__isnull=True)
        .order_by("pk")
        .values_list("pk", "slot_id", "is_repeat")
    )
    return release_rows(lapsed, now=now)


def release_rows(rows, *, now) -> int:
    """Give back the reservations ``rows`` of (comparison id, slot id, is repeat), locked by the caller."""
    if not rows:
        return 0
    Comparison.objects.filter(pk__in=[pk for pk, _, _ in rows]).update(released_at=now)
    per_slot = Counter(slot_id for _, slot_id, is_repeat in rows if slot_id is not None and not is_repeat)
    for slot_id in sorted(per_slot):
        PairSlot.objects.filter(pk=slot_id).update(filled=F("filled") - per_slot[slot_id])
    serve_levels_lower(PairSlot.objects.filter(pk__in=per_slot))  # a slot given back below the level comes first
    return len(rows)


def reservations_release_lapsed(*, study_id: int, now=None, limit: int = LAPSED_BATCH) -> int:
    """Free the pairs of abandoned tabs: reservations past their expiry go back to the pool."""
    now = now or timezone.now()
    with transaction.atomic():
        rows = list(
            Comparison.objects.select_for_update(skip_locked=True)
            .filter(study_id=study_id, answered_at__isnull=True, released_at__isnull=True, expires_at__lt=now)
            .order_by("expires_at")
            .values_list("pk", "slot_id", "is_repeat")[:limit]
        )
        return release_rows(rows, now=now)
