"""The ratings models (ratings/models.py): a study's status in words and what stopped it, its
criteria in order, the raters' names, and the constraints the database keeps."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from ratings.models import Rater, Study, Vote
from tests.factories import UserFactory


@pytest.mark.parametrize(
    "status, stopped_by, stop_reason, cause, words",
    [
        ("rating", "", "", "", "Open for rating"),
        ("rating", "rule", "Every pair has its votes.", "rule", "Stopped: its stopping rule is met"),
        ("rating", "budget", "", "budget", "Stopped: vote budget reached"),
        ("rating", "", "Vote budget of 500 reached.", "budget", "Stopped: vote budget reached"),  # before stopped_by
        ("rating", "", "Every pair has its votes.", "rule", "Stopped: its stopping rule is met"),
        ("closed", "rule", "", "rule", "Closed"),
    ],
)
def test_a_study_says_its_status_and_what_stopped_it(status, stopped_by, stop_reason, cause, words):
    stopped = bool(stopped_by or stop_reason)
    study = Study(status=status, stopped_by=stopped_by, stop_reason=stop_reason, stopped_at=timezone.now() if stopped else None)
    assert study.stop_cause == cause
    assert study.get_status_display() == words


def test_a_studys_criteria_are_the_pair_ones_then_the_set_ones():
    assert Study(criteria=["prompt_adherence", "image_quality"], set_criteria=["variety"]).all_criteria == ["prompt_adherence", "image_quality", "variety"]
    assert Study(criteria=["image_quality"], set_criteria=None).all_criteria == ["image_quality"]


@pytest.mark.django_db
def test_a_rater_is_named_by_account_or_platform_id_and_a_withdrawn_one_by_nothing_but_its_number():
    assert str(Rater.objects.create(user=UserFactory(username="ada"))) == "ada"
    crowd = Rater.objects.create(source="prolific", external_id="P123")
    assert str(crowd) == "prolific:P123"
    crowd.withdrawn_at = timezone.now()
    assert str(crowd) == f"withdrawn rater {crowd.pk}"


@pytest.mark.django_db
def test_a_crowd_id_is_one_rater_per_platform_and_accounts_need_none():
    Rater.objects.create(source="prolific", external_id="P1")
    Rater.objects.create(source="mturk", external_id="P1")
    Rater.objects.create(source="account", external_id="")
    Rater.objects.create(source="account", external_id="")
    with pytest.raises(IntegrityError), transaction.atomic():
        Rater.objects.create(source="prolific", external_id="P1")


def test_a_comparison_has_one_vote_per_criterion(rated_study):
    vote = Vote.objects.filter(comparison__study=rated_study).first()
    with pytest.raises(IntegrityError), transaction.atomic():
        Vote.objects.create(comparison=vote.comparison, criterion=vote.criterion, choice="tie", response_ms=1000)
    Vote.objects.create(comparison=vote.comparison, criterion="a criterion not yet answered", choice="tie", response_ms=1000)
