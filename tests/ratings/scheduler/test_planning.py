"""Slot planning: the slots a study opens with and gains as images arrive, and the fill level where
the least-filled search starts (``ratings/scheduler/planning.py``)."""

import io

import pytest
from django.core.files.storage import default_storage

from ratings import scheduler
from ratings.models import AttentionCheck, PairSlot
from ratings.slots import pair_slots_sync
from tests.ratings.scheduler.steps import crowd_rater, serve, current, rate_until_done

pytestmark = pytest.mark.django_db


def test_study_open_makes_one_slot_per_model_pair_prompt_and_seed_and_attention_checks(make_study):
    study = make_study(n_models=3, n_prompts=4, seeds=(0, 1))
    assert PairSlot.objects.filter(study=study).count() == 3 * 4 * 2
    checks = list(AttentionCheck.objects.filter(study=study))
    assert {c.kind for c in checks} == {"degraded", "unrelated_prompt"}
    from PIL import Image as PILImage

    for check in checks:
        if check.kind == "degraded":
            with default_storage.open(check.decoy_file.name, "rb") as handle:
                degraded = PILImage.open(io.BytesIO(handle.read()))
                assert (degraded.format, degraded.size) == ("PNG", (64, 64)) and not degraded.info
            assert check.criteria == ["image_quality"]
        else:
            assert check.decoy_image.prompt_id != check.prompt_id and check.decoy_image.spec_id == check.image.spec_id
            assert check.criteria == ["prompt_adherence"]
    assert pair_slots_sync(study=study) == 0  # idempotent


def test_a_level_left_above_a_slot_is_lowered_by_the_periodic_repair(make_study):
    from ratings.models import Study

    study = make_study(n_models=2, n_prompts=4, votes_per_pair=3, attention_check_rate=0, repeat_share=0)
    serve(study, crowd_rater(study, "first"))
    Study.objects.filter(pk=study.pk).update(serve_level=2)  # as a level bump racing a release would leave it
    assert scheduler.serve_levels_repair() == [study.pk]
    assert Study.objects.get(pk=study.pk).serve_level == 0
    assert scheduler.serve_levels_repair() == []


def test_slots_added_after_voting_began_are_served_first(make_study, hot_path):
    study = make_study(n_models=2, n_prompts=8, votes_per_pair=5, attention_check_rate=0, repeat_share=0)
    late = PairSlot.objects.filter(study=study).order_by("pk").last()
    late_images = (late.image_a_id, late.image_b_id)
    late.delete()  # as if its images were not made yet when the study opened
    rate_until_done(study, crowd_rater(study, "p1"))  # all 7 slots once
    serve(study, crowd_rater(study, "p2"))  # and two of them twice
    assert sorted(PairSlot.objects.values_list("filled", flat=True)) == [1, 1, 1, 1, 1, 2, 2]
    assert pair_slots_sync(study=study) == 1  # the images exist now
    added = PairSlot.objects.get(study=study, image_a_id=late_images[0], image_b_id=late_images[1])
    newcomer = crowd_rater(study, "p3")
    assert current(serve(study, newcomer)).slot_id == added.pk
