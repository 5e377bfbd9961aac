"""The scheduler and vote recording, on PostgreSQL, through both implementations of the hot
path (the PL/pgSQL function and the ORM code SQLite uses): the ``hot_path`` fixture runs each
test on both."""

import io
import random
from collections import Counter
from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone

from ratings import leaderboards, scheduler, selectors, services
from ratings.models import AttentionCheck, Comparison, PairSlot, Participation, Rater, Vote

pytestmark = pytest.mark.django_db


def crowd_rater(study, name="p1"):
    rater, participation = services.rater_join(study=study, source=Rater.Source.PROLIFIC, external_id=name)
    return rater


def serve(study, rater):
    return scheduler.session_serve(study_id=study.pk, rater_id=rater.pk, rng=random.Random())


def vote(study, rater, token, answers=None, response_ms=1500):
    answers = answers or {"prompt_adherence": "left", "image_quality": "right"}
    return scheduler.vote_submit(study_id=study.pk, rater_id=rater.pk, token=token, answers=answers, response_ms=response_ms)


def current(result):
    return Comparison.objects.get(token=result["pairs"][0]["token"])


def rate_until_done(study, rater, answers=None, limit=500):
    result = serve(study, rater)
    seen = []
    while result["pairs"] and len(seen) < limit:
        comparison = current(result)
        seen.append(comparison)
        result = vote(study, rater, comparison.token, answers)
        assert result["status"] == "recorded", result
    return seen, result


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
    assert scheduler.pair_slots_sync(study=study) == 0  # idempotent


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
    assert scheduler.pair_slots_sync(study=study) == 1  # the images exist now
    added = PairSlot.objects.get(study=study, image_a_id=late_images[0], image_b_id=late_images[1])
    newcomer = crowd_rater(study, "p3")
    assert current(serve(study, newcomer)).slot_id == added.pk


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


def test_sides_map_to_models_and_a_double_submit_counts_once(make_study, hot_path):
    study = make_study(attention_check_rate=0, repeat_share=0)
    rater = crowd_rater(study)
    comparison = current(serve(study, rater))
    first = vote(study, rater, comparison.token, {"prompt_adherence": "left", "image_quality": "right"}, 2345)
    again = vote(study, rater, comparison.token, {"prompt_adherence": "right", "image_quality": "right"}, 999)
    assert (first["status"], again["status"]) == ("recorded", "duplicate")
    assert again["pairs"] == first["pairs"]
    left, right = ("a", "b") if comparison.left_is_a else ("b", "a")
    votes = {v.criterion: (v.choice, v.response_ms) for v in Vote.objects.filter(comparison=comparison)}
    assert votes == {"prompt_adherence": (left, 2345), "image_quality": (right, 2345)}
    assert Participation.objects.get(rater=rater).answered == 1


def test_a_vote_on_someone_elses_pair_or_a_made_up_token_is_forbidden_and_writes_nothing(make_study, hot_path):
    study = make_study(attention_check_rate=0, repeat_share=0)
    owner, intruder = crowd_rater(study, "owner"), crowd_rater(study, "intruder")
    comparison = current(serve(study, owner))
    assert vote(study, intruder, comparison.token)["status"] == "forbidden"
    assert vote(study, intruder, "0b3c2f5e-7a1d-4e8f-9c6b-2d4a8e1f3b5c")["status"] == "forbidden"
    stranger = Rater.objects.create(source=Rater.Source.PROLIFIC, external_id="never-joined")
    assert vote(study, stranger, comparison.token)["status"] == "forbidden"
    assert Vote.objects.count() == 0 and Comparison.objects.get(pk=comparison.pk).answered_at is None


def test_incomplete_and_tie_answers_on_a_forced_choice_study_are_refused(make_study, hot_path):
    study = make_study(attention_check_rate=0, repeat_share=0)
    rater = crowd_rater(study)
    token = current(serve(study, rater)).token
    missing = vote(study, rater, token, {"prompt_adherence": "left"})
    tie = vote(study, rater, token, {"prompt_adherence": "left", "image_quality": "tie"})
    assert missing == {"status": "invalid", "message": "Answer every question before submitting (missing: image_quality)."}
    assert tie == {"status": "invalid", "message": "The answer to 'image_quality' must be left or right."}
    assert Vote.objects.count() == 0


def test_ties_are_recorded_when_the_study_allows_them(make_study, hot_path):
    study = make_study(attention_check_rate=0, repeat_share=0, allow_ties=True)
    rater = crowd_rater(study)
    comparison = current(serve(study, rater))
    assert vote(study, rater, comparison.token, {"prompt_adherence": "tie", "image_quality": "left"})["status"] == "recorded"
    assert Vote.objects.get(comparison=comparison, criterion="prompt_adherence").choice == "tie"


def test_a_vote_faster_than_the_minimum_time_is_refused_with_a_message(make_study, hot_path):
    study = make_study(attention_check_rate=0, repeat_share=0, min_seconds_per_vote=2.5)
    rater = crowd_rater(study)
    comparison = current(serve(study, rater))
    refused = vote(study, rater, comparison.token)
    assert refused["status"] == "too_fast"
    assert refused["message"] == "Please take at least 2.5 seconds to look at both images before answering."
    assert refused["pairs"][0]["token"] == str(comparison.token) and Vote.objects.count() == 0
    Comparison.objects.filter(rater=rater).update(served_at=timezone.now() - timedelta(seconds=3))
    assert vote(study, rater, comparison.token)["status"] == "recorded"
    # The next pair was served (preloaded) earlier, but the clock starts at the previous answer.
    following = Comparison.objects.filter(rater=rater, answered_at__isnull=True).order_by("pk").first()
    assert vote(study, rater, following.token)["status"] == "too_fast"


def test_attention_checks_are_mixed_in_and_failing_them_flags_the_rater(make_study, hot_path):
    study = make_study(attention_check_rate=1.0, repeat_share=0, flag_after_failed_checks=2)
    rater = crowd_rater(study)
    result = serve(study, rater)
    outcomes = []
    for wrong in (True, False, True):
        comparison = current(result)
        check = comparison.attention_check
        assert check is not None
        a_side = "left" if comparison.left_is_a else "right"
        b_side = "right" if comparison.left_is_a else "left"
        answers = {c: (b_side if wrong else a_side) for c in study.criteria}
        result = vote(study, rater, comparison.token, answers)
        comparison.refresh_from_db()
        outcomes.append(comparison.failed_check)
        if len(outcomes) == 1:
            assert not Participation.objects.get(rater=rater).flagged  # one failure is below the threshold
    assert outcomes == [True, False, True]
    participation = Participation.objects.get(rater=rater)
    assert participation.failed_checks == 2
    assert participation.flagged and participation.flag_reason == "attention_checks"
    # Attention-check votes never reach a leaderboard.
    assert not selectors.counted_votes(study=study, include_flagged=True).exists()


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


def test_lapsed_reservations_are_freed_and_a_vote_on_a_live_one_is_accepted(make_study, hot_path):
    study = make_study(n_models=2, n_prompts=1, votes_per_pair=1, attention_check_rate=0, repeat_share=0, reservation_seconds=60)
    first, second = crowd_rater(study, "first"), crowd_rater(study, "second")
    held = current(serve(study, first))
    assert serve(study, second)["pairs"] == []  # the only slot is reserved
    Comparison.objects.filter(pk=held.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    taken = current(serve(study, second))  # the abandoned tab's pair is given back and served again
    assert taken.slot_id == held.slot_id
    assert Comparison.objects.get(pk=held.pk).released_at is not None
    # The first rater comes back late: the slot went to someone else, the vote is refused.
    late = vote(study, first, held.token)
    assert late["status"] == "expired" and late["message"].startswith("This pair was open too long")
    assert not Vote.objects.filter(comparison=held).exists()
    # The second rater's reservation is live: always accepted.
    assert vote(study, second, taken.token)["status"] == "recorded"
    assert PairSlot.objects.get(pk=taken.slot_id).filled == 1


def test_a_late_vote_counts_when_its_slot_still_has_room(make_study, hot_path):
    study = make_study(n_models=2, n_prompts=2, votes_per_pair=1, attention_check_rate=0, repeat_share=0)
    rater = crowd_rater(study)
    held = current(serve(study, rater))
    Comparison.objects.filter(rater=rater).update(expires_at=timezone.now() - timedelta(seconds=1))
    scheduler.reservations_release_lapsed(study_id=study.pk)
    assert set(PairSlot.objects.values_list("filled", flat=True)) == {0}
    assert vote(study, rater, held.token)["status"] == "recorded"
    assert PairSlot.objects.get(pk=held.slot_id).filled == 1


def test_a_late_vote_in_a_study_its_stopping_rule_ends_is_taken_past_the_vote_target(make_study, hot_path):
    # Slots of a rule-stopped study have no per-slot cap (the budget is the cap), so the late
    # vote of an abandoned tab counts even though its slot went to another rater meanwhile.
    study = make_study(
        n_models=2, n_prompts=1, votes_per_pair=1, attention_check_rate=0, repeat_share=0,
        stop_when="separated", vote_budget=1000,
    )
    first, second = crowd_rater(study, "first"), crowd_rater(study, "second")
    held = current(serve(study, first))
    Comparison.objects.filter(pk=held.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    taken = current(serve(study, second))
    assert taken.slot_id == held.slot_id
    assert vote(study, second, taken.token)["status"] == "recorded"
    assert vote(study, first, held.token)["status"] == "recorded"
    assert PairSlot.objects.get(pk=held.slot_id).filled == 2


def test_reporting_a_pair_records_why_serves_another_and_retires_a_pair_reported_twice(make_study, hot_path):
    study = make_study(n_models=2, n_prompts=3, votes_per_pair=3, attention_check_rate=0, repeat_share=0)
    raters = [crowd_rater(study, f"r{i}") for i in range(3)]
    first = current(serve(study, raters[0]))
    result = scheduler.comparison_report(study_id=study.pk, rater_id=raters[0].pk, token=first.token, reason="broken", note="grey square")
    assert str(first.token) not in [p["token"] for p in result["pairs"]] and len(result["pairs"]) == 2
    first.refresh_from_db()
    assert (first.report_reason, first.report_note, first.released_at is not None) == ("broken", "grey square", True)
    assert vote(study, raters[0], first.token)["status"] == "reported"
    # A second report of the same pair retires it.
    for rater in raters[1:]:
        result = serve(study, rater)
        mine = Comparison.objects.filter(rater=rater, slot_id=first.slot_id).first()
        if mine:
            scheduler.comparison_report(study_id=study.pk, rater_id=rater.pk, token=mine.token, reason="offensive")
            break
    assert PairSlot.objects.get(pk=first.slot_id).retired
    assert [c.pk for c in selectors.study_reports(study=study)][-1] == first.pk
    with pytest.raises(Exception, match="Choose why"):
        scheduler.comparison_report(study_id=study.pk, rater_id=raters[2].pk, token=first.token, reason="boring")


def test_withdrawal_removes_votes_from_leaderboards_and_identifying_data(make_study, hot_path):
    study = make_study(attention_check_rate=0, repeat_share=0, quota_per_rater=3)
    stays, leaves = crowd_rater(study, "stays"), crowd_rater(study, "5f1e2d3c4b5a69788796a5b4")
    Participation.objects.filter(rater=leaves).update(crowd_study_id="STUDY123", crowd_session_id="SESSION456")
    rate_until_done(study, stays)
    rate_until_done(study, leaves)
    assert selectors.counted_votes(study=study).count() == 12
    services.rater_withdraw(rater=leaves)
    leaves.refresh_from_db()
    assert leaves.withdrawn_at is not None and leaves.external_id == ""
    assert Participation.objects.filter(rater=leaves, crowd_study_id="", crowd_session_id="").exists()
    assert selectors.counted_votes(study=study).count() == 6
    assert Vote.objects.filter(comparison__rater=leaves).count() == 6  # kept, flagged as excluded
    assert not Rater.objects.filter(external_id="5f1e2d3c4b5a69788796a5b4").exists()


def test_flagged_raters_are_left_out_of_leaderboards_by_default_and_their_votes_kept(make_study):
    study = make_study(attention_check_rate=0, repeat_share=0, quota_per_rater=3)
    good, flagged = crowd_rater(study, "good"), crowd_rater(study, "flagged")
    rate_until_done(study, good)
    rate_until_done(study, flagged)
    Participation.objects.filter(study=study, rater=flagged).update(flagged=True)
    assert selectors.counted_votes(study=study).count() == 6
    assert selectors.counted_votes(study=study, include_flagged=True).count() == 12
    board = leaderboards.compute_study_leaderboard(study=study, method="winrate", rounds=10)
    assert board["provenance"]["votes"] == 6 and board["provenance"]["left_out"]["votes"] == 6


def test_the_busiest_tables_are_vacuumed_sooner_than_postgresqls_defaults(db):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT relname, reloptions FROM pg_class WHERE relname IN ('ratings_comparison', 'ratings_pairslot')")
        options = {name: set(values or []) for name, values in cursor.fetchall()}
    assert "autovacuum_vacuum_scale_factor=0.02" in options["ratings_comparison"]
    assert "autovacuum_vacuum_threshold=1000" in options["ratings_pairslot"]
