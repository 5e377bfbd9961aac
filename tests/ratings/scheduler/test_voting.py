"""Voting and reporting on both hot paths: sides, double submits, refusals with their messages,
late votes on lapsed reservations, and skipped pairs (``ratings/scheduler/voting.py``)."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from ratings import scheduler, selectors
from ratings.models import Comparison, PairSlot, Participation, Rater, Vote
from tests.ratings.scheduler.steps import crowd_rater, serve, vote, current

pytestmark = pytest.mark.django_db


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


def test_vote_record_counts_a_double_submit_once_and_raises_for_a_forbidden_or_refused_vote(make_study, hot_path):
    """``vote_record``, the call scripts and benchmarks make, turns ``vote_submit``'s outcomes into exceptions."""
    study = make_study(attention_check_rate=0, repeat_share=0)
    owner, intruder = crowd_rater(study, "owner"), crowd_rater(study, "intruder")
    comparison = current(serve(study, owner))
    answers = {"prompt_adherence": "left", "image_quality": "right"}
    with pytest.raises(PermissionDenied):
        scheduler.vote_record(token=comparison.token, rater=intruder, answers=answers, response_ms=1000)
    with pytest.raises(ValidationError, match="missing: image_quality"):
        scheduler.vote_record(token=comparison.token, rater=owner, answers={"prompt_adherence": "left"}, response_ms=1000)
    with pytest.raises(ValidationError, match="must be left or right"):
        scheduler.vote_record(token=comparison.token, rater=owner, answers={**answers, "image_quality": "tie"}, response_ms=1000)
    assert Vote.objects.count() == 0 and Comparison.objects.get(pk=comparison.pk).answered_at is None
    scheduler.vote_record(token=comparison.token, rater=owner, answers=answers, response_ms=1200)
    scheduler.vote_record(token=comparison.token, rater=owner, answers=answers, response_ms=1300)
    left, right = ("a", "b") if comparison.left_is_a else ("b", "a")
    assert {v.criterion: v.choice for v in Vote.objects.filter(comparison=comparison)} == {"prompt_adherence": left, "image_quality": right}


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


def test_a_set_comparison_asks_only_the_set_criteria_and_refuses_without_them(make_study, hot_path):
    study = make_study(n_models=2, n_prompts=2, seeds=(5, 6), set_criteria=["diversity", "variety_of_layout"], attention_check_rate=0, repeat_share=0)
    PairSlot.objects.filter(study=study, kind="pair").update(retired=True)
    rater = crowd_rater(study)
    comparison = current(serve(study, rater))
    assert comparison.slot.kind == "set"
    refused = vote(study, rater, comparison.token, {"prompt_adherence": "left", "image_quality": "left", "diversity": "left"})
    assert refused["status"] == "invalid" and "variety_of_layout" in refused["message"] and "prompt_adherence" not in refused["message"]
    tie = vote(study, rater, comparison.token, {"diversity": "left", "variety_of_layout": "tie"})
    assert tie["status"] == "invalid" and "variety_of_layout" in tie["message"] and "left or right" in tie["message"]
    assert Vote.objects.count() == 0
    recorded = vote(study, rater, comparison.token, {"diversity": "right", "variety_of_layout": "left", "image_quality": "left"})
    assert recorded["status"] == "recorded"
    left, right = ("a", "b") if comparison.left_is_a else ("b", "a")
    assert {v.criterion: v.choice for v in Vote.objects.filter(comparison=comparison)} == {"diversity": right, "variety_of_layout": left}
