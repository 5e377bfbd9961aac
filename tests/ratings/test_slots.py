"""Which pair slots a study serves from (``ratings/slots.py``); the scheduler writes them."""

import random

import pytest

from ratings import design
from ratings.models import PairSlot
from ratings.slots import pair_slots_sync

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("sampling_rule", ["uniform", "adaptive"])
def test_each_slot_knows_its_model_pair_only_where_sampling_is_adaptive(make_study, sampling_rule):
    study = make_study(n_models=3, n_prompts=2, seeds=(0, 1), sampling_rule=sampling_rule, attention_check_rate=0)
    slots = list(PairSlot.objects.filter(study=study).select_related("image_a", "image_b"))
    assert len(slots) == 3 * 2 * 2
    if sampling_rule == "uniform":
        assert {slot.model_pair for slot in slots} == {None}
    else:
        index = design.model_pair_index(study=study)
        assert all(slot.model_pair == index[(slot.image_a.spec_id, slot.image_b.spec_id)] for slot in slots)
        assert {slot.model_pair for slot in slots} == {0, 1, 2}


def test_syncing_adds_only_the_slots_a_study_lacks_and_serves_them_from_the_bottom(make_study):
    study = make_study(n_models=2, n_prompts=3, attention_check_rate=0)
    gone = PairSlot.objects.filter(study=study).order_by("pk").last()
    gone.delete()  # as if its images were made after the study opened
    type(study).objects.filter(pk=study.pk).update(serve_level=4)
    assert pair_slots_sync(study=study, rng=random.Random(3)) == 1
    assert pair_slots_sync(study=study, rng=random.Random(3)) == 0
    assert PairSlot.objects.filter(study=study, image_a_id=gone.image_a_id, image_b_id=gone.image_b_id, filled=0).exists()
    study.refresh_from_db()
    assert study.serve_level == 0
