"""Serving on both hot paths (the PL/pgSQL function and the ORM code SQLite uses; the ``hot_path``
fixture runs each test on both): balance, repeats, the quota, and adaptive sampling's draw by
the study's pair weights (``ratings/scheduler/serving.py``)."""

from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from ratings import scheduler, selectors
from ratings.models import Comparison, PairSlot, Study, Vote
from tests.ratings.scheduler.steps import crowd_rater, serve, vote, current, rate_until_done

pytestmark = pytest.mark.django_db


def test_each_pair_is_served_once_per_rater_both_images_exist_and_sides_are_random(make_study, hot_path):
    study = make_study(n_prompts=6, seeds=(0, 1), votes_per_pair=5, attention_check_rate=0, repeat_share=0, quota_per_rater=1000)
    rater = crowd_rater(study)
    first = serve(study, rater)
    assert len(first["pairs"]) == 2  # the pair on screen and the next one, preloaded
    seen, result = rate_until_done(study, rater)
    assert len(seen) == 3 * 6 * 2 and result["pairs"] == []
    assert len({c.slot_id for c in seen}) == len(seen)
    for c in seen:
        assert c.image_a.prompt_id == c.image_b.prompt_id == c.prompt_id and c.image_a.seed == c.image_b.seed == c.seed
        assert c.image_a.spec_id != c.image_b.spec_id
    sides = Counter(c.left_is_a for c in seen)
    assert sides[True] > 5 and sides[False] > 5
    assert Vote.objects.filter(comparison__rater=rater).count() == 2 * len(seen)


def test_votes_are_balanced_over_model_pairs_and_prompts_up_to_the_target(make_study, hot_path):
    study = make_study(n_prompts=4, votes_per_pair=2, attention_check_rate=0, repeat_share=0, quota_per_rater=7)
    raters = [crowd_rater(study, f"p{i}") for i in range(4)]
    results = {r.pk: serve(study, r) for r in raters}
    # Round robin, as a crowd would: one answer each in turn.
    while any(results[r.pk]["pairs"] for r in raters):
        for r in raters:
            if results[r.pk]["pairs"]:
                results[r.pk] = vote(study, r, current(results[r.pk]).token)
    answered = Comparison.objects.filter(study=study, answered_at__isnull=False)
    assert answered.count() == 4 * 7 - 4  # 28 answers wanted, 24 = 12 slots x 2 votes available
    per_slot = Counter(answered.values_list("slot_id", flat=True))
    assert set(per_slot.values()) == {2}
    per_model_pair = Counter((c.image_a.spec_id, c.image_b.spec_id) for c in answered)
    assert set(per_model_pair.values()) == {8}
    assert set(Counter(answered.values_list("prompt_id", flat=True)).values()) == {6}
    assert all(PairSlot.objects.filter(study=study).values_list("filled", flat=True))


def test_a_slot_given_back_below_the_fill_level_is_served_first(make_study, hot_path):
    study = make_study(n_models=2, n_prompts=4, votes_per_pair=3, attention_check_rate=0, repeat_share=0)
    first, second, third = (crowd_rater(study, name) for name in ("first", "second", "third"))
    serve(study, first)  # two slots each: every slot reserved once
    serve(study, second)
    assert set(PairSlot.objects.values_list("filled", flat=True)) == {1}
    serve(study, third)  # the next level: two slots reserved twice
    assert sorted(PairSlot.objects.values_list("filled", flat=True)) == [1, 1, 2, 2]
    # An abandoned tab: a reservation of a slot still at 1 lapses, the slot goes back to 0
    # (below everything else) and is the next one served.
    once = Comparison.objects.filter(study=study, slot__filled=1).order_by("pk").first()
    Comparison.objects.filter(pk=once.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    fourth = crowd_rater(study, "fourth")
    assert current(serve(study, fourth)).slot_id == once.slot_id


def test_every_comparison_copies_its_slots_or_checks_study_prompt_and_images(make_study, hot_path):
    # Comparison.study, prompt and images carry no constraint of their own: the slot's (or the
    # attention check's) constraints hold them, as long as the copies match.
    study = make_study(n_prompts=4, attention_check_rate=0.3, repeat_share=0.3, quota_per_rater=10)
    for name in ("p1", "p2"):
        rate_until_done(study, crowd_rater(study, name))
    comparisons = list(Comparison.objects.filter(study=study).select_related("slot", "attention_check"))
    assert len(comparisons) >= 20
    for c in comparisons:
        if c.attention_check is not None:
            check = c.attention_check
            assert (c.study_id, c.prompt_id, c.seed, c.image_a_id) == (check.study_id, check.prompt_id, check.seed, check.image_id)
            assert c.image_b_id == (check.decoy_image_id or check.image_id)
        else:
            slot = c.slot
            assert (c.study_id, c.prompt_id, c.seed, c.image_a_id, c.image_b_id) == (
                slot.study_id, slot.prompt_id, slot.seed, slot.image_a_id, slot.image_b_id
            )


def test_a_share_of_pairs_repeats_an_earlier_one_for_self_consistency(make_study, hot_path):
    study = make_study(n_prompts=6, attention_check_rate=0, repeat_share=1.0, quota_per_rater=12)
    rater = crowd_rater(study)
    seen, _ = rate_until_done(study, rater)
    repeats = [c for c in seen if c.is_repeat]
    originals = [c for c in seen if not c.is_repeat]
    assert repeats and len(seen) == 12
    for repeat in repeats:
        assert repeat.repeat_of.rater_id == rater.pk and repeat.slot_id == repeat.repeat_of.slot_id
        assert not repeat.repeat_of.is_repeat
    assert len({r.repeat_of_id for r in repeats}) == len(repeats)  # each pair repeated at most once
    assert len({c.slot_id for c in originals}) == len(originals)  # otherwise never the same pair twice
    assert selectors.counted_votes(study=study).count() == 2 * len(originals)


def test_quota_ends_the_session(make_study, hot_path):
    study = make_study(attention_check_rate=0.3, repeat_share=0.2, quota_per_rater=5)
    rater = crowd_rater(study)
    seen, result = rate_until_done(study, rater)
    assert len(seen) == 5 and result["pairs"] == [] and result["answered"] == 5


RULE_STUDY = dict(attention_check_rate=0, repeat_share=0, stop_when="separated", vote_budget=100_000, quota_per_rater=1000)


def join(study, name: str) -> int:
    return crowd_rater(study, name).pk


def served_pairs(study) -> Counter:
    return Counter(Comparison.objects.filter(study=study, slot__isnull=False).values_list("slot__model_pair", flat=True))


def test_adaptive_serving_follows_the_weights_on_both_paths(make_study, hot_path):
    study = make_study(n_models=3, n_prompts=10, seeds=(0, 1), sampling_rule="adaptive", **RULE_STUDY)
    Study.objects.filter(pk=study.pk).update(pair_weights=[0.9, 0.05, 0.05])
    for i in range(150):
        assert len(scheduler.session_serve(study_id=study.pk, rater_id=join(study, f"w{i}"))["pairs"]) == 2
    served = served_pairs(study)
    total = sum(served.values())
    assert total == 300
    # Binomial(300, 0.9): the share lies within 0.84-0.96 with overwhelming probability.
    assert 0.84 < served[0] / total < 0.96, served
    assert served[1] >= 4 and served[2] >= 4, served  # the floor: every pair keeps being served



@pytest.mark.parametrize("unit", ["prompt", "comparison"])
def test_adaptive_serving_on_the_prompt_unit_spreads_a_pair_over_every_prompt_before_repeating_one(make_study, hot_path, unit):
    """Issue 24: the prompt unit spreads a model pair's votes over as many prompts as possible
    (each prompt's second seed only after every prompt's first); the comparison unit does not
    promise it (its order among equally filled slots is random)."""
    study = make_study(n_models=2, n_prompts=8, seeds=(0, 1), sampling_rule="adaptive", **{**RULE_STUDY, "unit": unit})
    Study.objects.filter(pk=study.pk).update(pair_weights=[1.0])
    repeats_before_all = []
    for trial in range(3):
        # Eight raters, one serve each (two open pairs): 16 serves of the study's 16 slots.
        for i in range(8):
            scheduler.session_serve(study_id=study.pk, rater_id=join(study, f"s{trial}-{i}"))
        prompts = list(Comparison.objects.filter(study=study, slot__isnull=False).order_by("pk").values_list("prompt_id", flat=True))
        first_eight = prompts[-16:-8]
        repeats_before_all.append(len(first_eight) - len(set(first_eight)))
        assert len(prompts) == 16 * (trial + 1)
    if unit == "prompt":
        assert repeats_before_all == [0, 0, 0]  # the first 8 serves of each round: 8 distinct prompts
    else:
        assert sum(repeats_before_all) > 0  # random order among equals: some prompt comes twice early


def test_uniform_serving_is_unchanged_by_weights(make_study, hot_path):
    study = make_study(n_models=3, n_prompts=4, seeds=(0,), **RULE_STUDY)
    Study.objects.filter(pk=study.pk).update(pair_weights=[1.0, 0.0, 0.0])  # ignored: sampling is uniform
    for i in range(12):
        scheduler.session_serve(study_id=study.pk, rater_id=join(study, f"u{i}"))
    filled = list(PairSlot.objects.filter(study=study).values_list("filled", flat=True))
    assert max(filled) - min(filled) <= 1 and sum(filled) == 24



def test_a_drawn_pair_with_nothing_left_for_the_rater_falls_back_to_the_least_filled_slot(make_study, hot_path):
    study = make_study(n_models=3, n_prompts=2, seeds=(0,), sampling_rule="adaptive", min_seconds_per_vote=0, **RULE_STUDY)
    Study.objects.filter(pk=study.pk).update(pair_weights=[1.0, 0.0, 0.0])
    rater_id = join(study, "fallback")
    pairs = scheduler.session_serve(study_id=study.pk, rater_id=rater_id)["pairs"]
    assert {Comparison.objects.get(token=p["token"]).slot.model_pair for p in pairs} == {0}
    for _ in range(2):
        token = scheduler.session_serve(study_id=study.pk, rater_id=rater_id)["pairs"][0]["token"]
        result = scheduler.vote_submit(study_id=study.pk, rater_id=rater_id, token=token,
                                      answers={"prompt_adherence": "left", "image_quality": "left"}, response_ms=4000)
        assert result["status"] == "recorded"
    # Both slots of pair 0 are this rater's already: the next pairs come from the others.
    assert {Comparison.objects.get(token=p["token"]).slot.model_pair for p in result["pairs"]} <= {1, 2}
    assert len(result["pairs"]) == 2


# Set comparisons (issue 16): a study with set criteria serves, beside its pairs, one set slot
# per prompt and model pair; both paths say which served comparisons are sets.

SET_SEEDS = (11, 22, 33)
ALL_ANSWERS = {"prompt_adherence": "left", "image_quality": "right", "diversity": "left"}


def test_set_comparisons_are_served_beside_pairs_once_per_prompt_and_model_pair(make_study, hot_path):
    study = make_study(
        n_models=3, n_prompts=2, seeds=SET_SEEDS, set_criteria=["diversity"], votes_per_pair=1,
        attention_check_rate=0, repeat_share=0, quota_per_rater=1000,
    )
    assert PairSlot.objects.filter(study=study, kind="pair").count() == 2 * 3 * 3
    assert PairSlot.objects.filter(study=study, kind="set").count() == 2 * 3
    rater = crowd_rater(study)
    result = serve(study, rater)
    seen, marked = [], {}
    while result["pairs"]:
        for pair in result["pairs"]:
            marked[pair["token"]] = pair.get("set_size")
        comparison = current(result)
        seen.append(comparison)
        result = vote(study, rater, comparison.token, ALL_ANSWERS)
        assert result["status"] == "recorded", result
    assert len(seen) == 2 * 3 * 3 + 2 * 3
    sets = [c for c in seen if c.slot.kind == "set"]
    assert len(sets) == 6 and len({(c.prompt_id, c.image_a.spec_id, c.image_b.spec_id) for c in sets}) == 6
    for c in seen:
        # Only set comparisons say so, with the number of images in each set.
        assert marked[str(c.token)] == (3 if c.slot.kind == "set" else None)
        # A set stands for its first seed's images; its two sides are always two models.
        assert c.image_a.spec_id != c.image_b.spec_id and c.image_a.prompt_id == c.image_b.prompt_id == c.prompt_id
        if c.slot.kind == "set":
            assert c.seed == c.image_a.seed == c.image_b.seed == SET_SEEDS[0]
        left = "a" if c.left_is_a else "b"
        expected = {"diversity": left} if c.slot.kind == "set" else {"prompt_adherence": left, "image_quality": "b" if left == "a" else "a"}
        assert {v.criterion: v.choice for v in c.votes.all()} == expected


def test_a_study_without_set_criteria_makes_no_set_slots_and_serves_as_before(make_study, hot_path):
    study = make_study(n_models=2, n_prompts=2, seeds=(0, 1), attention_check_rate=0, repeat_share=0)
    assert set(PairSlot.objects.filter(study=study).values_list("kind", flat=True)) == {"pair"}
    result = serve(study, crowd_rater(study))
    assert [set(pair) for pair in result["pairs"]] == [{"token", "prompt"}] * 2


def test_a_repeat_of_a_set_comparison_asks_the_set_criteria_again(make_study, hot_path):
    study = make_study(
        n_models=3, n_prompts=3, seeds=SET_SEEDS, set_criteria=["diversity"], attention_check_rate=0, repeat_share=1.0, quota_per_rater=12,
    )
    PairSlot.objects.filter(study=study, kind="pair").update(retired=True)  # sets only: every repeat is of a set
    rater = crowd_rater(study)
    seen, result = rate_until_done(study, rater, {"diversity": "right"})
    repeats = [c for c in seen if c.is_repeat]
    assert repeats and all(c.slot.kind == "set" for c in seen)
    for c in repeats:
        assert c.slot_id == c.repeat_of.slot_id
        assert {v.criterion: v.choice for v in c.votes.all()} == {"diversity": "b" if c.left_is_a else "a"}
