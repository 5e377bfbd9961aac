"""Which pair slots a study serves from: one per image pair that exists (and with set criteria
one per prompt whose images exist for every seed), each with its model pair's index in
``Study.pair_weights`` when sampling is adaptive, and only those the versus-reference design
keeps (``versus.slot_kept``). The scheduler writes them (``scheduler.pair_slots_add``) and
serves from them; deciding which belongs here, above it, where selectors, sampling and versus are."""

from __future__ import annotations

import random

from . import scheduler, selectors, versus
from .design import model_pair_index
from .models import PairSlot, Study
from .scheduler.rules import Sampling


def pair_slots_sync(*, study: Study, rng: random.Random | None = None) -> int:
    """Add the slots of image pairs that exist now, and with set criteria those of prompts whose
    images exist for every seed (idempotent); returns how many were added. A versus-reference
    study gets only the slots ``versus.slot_kept`` keeps."""
    image_spec = {image: spec for images in selectors.study_items(study=study).values() for spec, image in images.items()}
    model_pair = model_pair_index(study=study)  # (spec id, spec id) -> index in pair_weights
    rows = [(PairSlot.Kind.PAIR, row) for row in selectors.study_image_pairs(study=study)]
    if study.set_criteria:
        rows += [(PairSlot.Kind.SET, row) for row in selectors.study_image_sets(study=study)]
    slots = [
        scheduler.SlotRow(
            kind=kind, prompt_id=prompt_id, seed=seed, image_a_id=a, image_b_id=b,
            model_pair=model_pair[(image_spec[a], image_spec[b])] if study.sampling == Sampling.ADAPTIVE else None,
        )
        for kind, (prompt_id, seed, a, b) in rows
        # The versus-reference design serves reference pairs (and a kept share of the others) only.
        if versus.slot_kept(study=study, prompt_id=prompt_id, seed=seed, spec_a=image_spec[a], spec_b=image_spec[b])
    ]
    return scheduler.pair_slots_add(study=study, rows=slots, rng=rng)
