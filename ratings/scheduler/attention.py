"""Attention checks on the hot path: serving a gold pair now and then, and grading its answer
(the real image, A, is the right answer to every criterion the check knows)."""

from __future__ import annotations

import random
from collections.abc import Iterable

from django.db.models import Exists, OuterRef

from ..models import AttentionCheck, Comparison, Study, Vote


def attention_check_serve(study: Study, rater_id: int, rng: random.Random, fields: dict) -> bool:
    """Reserve a check this rater has not seen, at the study's rate, unless the screening retired
    it (it shows a hidden image); False if none was served."""
    if not (study.attention_check_rate > 0 and rng.random() < study.attention_check_rate):
        return False
    shown = Comparison.objects.filter(rater_id=rater_id, attention_check_id=OuterRef("pk"))
    checks = list(AttentionCheck.objects.filter(study=study, retired=False).exclude(Exists(shown)))
    if not checks:
        return False
    check = rng.choice(checks)
    Comparison.objects.create(
        prompt_id=check.prompt_id, seed=check.seed, image_a_id=check.image_id,
        image_b_id=check.decoy_image_id or check.image_id, left_is_a=rng.random() < 0.5, attention_check=check, **fields,
    )
    return True


def attention_check_failed(comparison: Comparison, *, criteria: Iterable[str], choices: dict[str, str]) -> bool | None:
    """Whether the answer ``choices`` (criterion -> stored choice) fails the comparison's check;
    None for a comparison that is not one."""
    if comparison.attention_check_id is None:
        return None
    known = [c for c in comparison.attention_check.criteria if c in criteria]
    return any(choices[c] != Vote.Choice.A for c in known)
