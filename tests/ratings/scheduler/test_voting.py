"""Voting and reporting on both hot paths: sides, double submits, refusals with their messages,
late votes on lapsed reservations, and skipped pairs (``ratings/scheduler/voting.py``)."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from ratings import scheduler, selectors
from ratings.models import Comparison, PairSlot, Participation, Rater, Vote
from tests.factories import vote_record
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
    """``vote_record`` (tests/factories.py: the factories and benchmarks vote with it) turns ``vote_submit``'s outcomes into exceptions."""
    study = make_study(attention_check_rate=0, repeat_share=0)
    owner, intruder = crowd_rater(study, "owner"), crowd_rater(study, "intruder")
    comparison = current(serve(study, owner))
    answers = {"prompt_adherence": "left", "image_quality": "right"}
    with pytest.raises(PermissionDenied):
        vote_record(token=comparison.token, rater=intruder, answers=answers, response_ms=1000)
    with pytest.raises(ValidationError, match="missing: image_quality"):
        vote_record(token=comparison.token, rater=owner, answers={"prompt_adherence": "left"}, response_ms=1000)
    with pytest.raises(ValidationError, match="must be left or right"):
        vote_record(token=comparison.token, rater=owner, answers={**answers, "image_quality": "tie"}, response_ms=1000)
    assert Vote.objects.count() == 0 and Comparison.objects.get(pk=comparison.pk).answered_at is None
    vote_record(token=comparison.token, rater=owner, answers=answers, response_ms=1200)
    vote_record(token=comparison.token, rater=owner, answers=answers, response_ms=1300)
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


def _held_on(slot, rater):
    """A pair of ``slot`` on ``rater``'s screen (its reservation already given back, so the slot's counter is left alone)."""
    return Comparison.objects.create(
        study_id=slot.study_id, rater=rater, prompt_id=slot.prompt_id, seed=slot.seed, image_a_id=slot.image_a_id,
        image_b_id=slot.image_b_id, left_is_a=True, slot=slot, released_at=timezone.now(),
    )


def test_reporting_a_pair_records_why_serves_another_and_retires_it_only_on_evidence(make_study, hot_path):
    study = make_study(n_models=2, n_prompts=10, votes_per_pair=3, attention_check_rate=0, repeat_share=0)
    raters = [crowd_rater(study, f"r{i}") for i in range(4)]
    first = current(serve(study, raters[0]))
    result = scheduler.comparison_report(study_id=study.pk, rater_id=raters[0].pk, token=first.token, reason="broken", note="grey square")
    assert str(first.token) not in [p["token"] for p in result["pairs"]] and len(result["pairs"]) == 2
    first.refresh_from_db()
    assert (first.report_reason, first.report_note, first.released_at is not None) == ("broken", "grey square", True)
    assert vote(study, raters[0], first.token)["status"] == "reported"
    assert [c.pk for c in selectors.study_reports(study=study)][-1] == first.pk
    slot = PairSlot.objects.get(pk=first.slot_id)
    # Reports of raters who answered nothing (or are flagged) retire nothing, however many.
    for rater in raters[1:]:
        scheduler.comparison_report(study_id=study.pk, rater_id=rater.pk, token=_held_on(slot, rater).token, reason="broken")
    assert not PairSlot.objects.get(pk=slot.pk).retired
    # Only raters in good standing with answered pairs count: three of them retire it.
    def report_again(rater, reason="broken"):
        scheduler.comparison_report(study_id=study.pk, rater_id=rater.pk, token=_held_on(slot, rater).token, reason=reason)

    enough = scheduler.voting.REPORTER_MIN_ANSWERED
    Participation.objects.filter(study=study, rater__in=[raters[1], raters[3]]).update(answered=enough)
    Participation.objects.filter(study=study, rater=raters[3]).update(flagged=True)
    report_again(raters[1])
    assert scheduler.voting.counted_reporters(study_id=study.pk, slot=slot) == 1 and not PairSlot.objects.get(pk=slot.pk).retired
    Participation.objects.filter(study=study, rater=raters[2]).update(answered=enough)
    report_again(raters[2])
    assert not PairSlot.objects.get(pk=slot.pk).retired  # two counted raters: raters[0] answered nothing, raters[3] is flagged
    Participation.objects.filter(study=study, rater=raters[0]).update(answered=enough)
    report_again(raters[0], "offensive")
    counted = raters[:3]
    retired = PairSlot.objects.get(pk=slot.pk)
    assert retired.retired and retired.report_retired_at is not None
    assert all(p["token"] not in {str(c.token) for c in Comparison.objects.filter(slot=slot)} for p in serve(study, raters[0])["pairs"])
    # Reports retire at most a tenth of the pairs: the next reported pair waits for staff.
    other = PairSlot.objects.filter(study=study, retired=False).first()
    for rater in counted:
        scheduler.comparison_report(study_id=study.pk, rater_id=rater.pk, token=_held_on(other, rater).token, reason="broken")
    assert not PairSlot.objects.get(pk=other.pk).retired
    with pytest.raises(Exception, match="Choose why"):
        scheduler.comparison_report(study_id=study.pk, rater_id=raters[2].pk, token=first.token, reason="boring")


def test_reports_are_bounded_per_participant_and_refused_after_the_session_ends(make_study, hot_path):
    study = make_study(n_models=3, n_prompts=10, votes_per_pair=3, attention_check_rate=0, repeat_share=0, quota_per_rater=10)
    rater = crowd_rater(study, "skipper")
    allowed = scheduler.voting.reports_allowed(study)
    for _ in range(allowed):
        token = serve(study, rater)["pairs"][0]["token"]
        scheduler.comparison_report(study_id=study.pk, rater_id=rater.pk, token=token, reason="broken")
    token = serve(study, rater)["pairs"][0]["token"]
    with pytest.raises(scheduler.ReportRefused, match=f"skipped {allowed} pairs") as refused:
        scheduler.comparison_report(study_id=study.pk, rater_id=rater.pk, token=token, reason="broken")
    assert refused.value.http_status == 429
    assert Comparison.objects.get(token=token).reported_at is None  # still theirs to answer
    assert vote(study, rater, token)["status"] == "recorded"
    # After withdrawing, the old cookie reports nothing.
    leaver = crowd_rater(study, "leaver")
    token = serve(study, leaver)["pairs"][0]["token"]
    from ratings import raters as raters_service

    raters_service.rater_withdraw(rater=leaver)
    with pytest.raises(scheduler.ReportRefused, match="ended"):
        scheduler.comparison_report(study_id=study.pk, rater_id=leaver.pk, token=token, reason="broken")
    assert Comparison.objects.get(token=token).reported_at is None


def test_a_study_takes_a_bounded_number_of_reports_a_minute(make_study, hot_path, monkeypatch):
    monkeypatch.setattr(scheduler.voting, "REPORTS_PER_STUDY_PER_MINUTE", 3)
    study = make_study(n_models=3, n_prompts=6, votes_per_pair=3, attention_check_rate=0, repeat_share=0)
    skippers = [crowd_rater(study, f"s{i}") for i in range(4)]
    for rater in skippers[:3]:
        scheduler.comparison_report(study_id=study.pk, rater_id=rater.pk, token=current(serve(study, rater)).token, reason="broken")
    held = current(serve(study, skippers[3]))
    with pytest.raises(scheduler.ReportRefused, match="in the last minute") as refused:
        scheduler.comparison_report(study_id=study.pk, rater_id=skippers[3].pk, token=held.token, reason="broken")
    assert refused.value.http_status == 429 and Comparison.objects.get(pk=held.pk).reported_at is None
    # A minute later the study takes reports again.
    Comparison.objects.filter(reported_at__isnull=False).update(reported_at=timezone.now() - timedelta(seconds=61))
    scheduler.comparison_report(study_id=study.pk, rater_id=skippers[3].pk, token=held.token, reason="broken")
    assert Comparison.objects.get(pk=held.pk).reported_at is not None


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
