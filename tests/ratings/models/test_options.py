"""The study's option groups (ratings/models/options.py): each group is one value over columns of
the study's own table, declared once, and what takes a study's options (the service, the API)
takes every option of a group from the group."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command

from ratings import studies
from ratings.api.studies import StudyCreateSerializer, StudySerializer
from ratings.models import CrowdOptions, SamplingOptions, Study
from tests.factories import StudyFactory

GROUPS = {"sampling_options": SamplingOptions, "crowd_options": CrowdOptions}


@pytest.mark.parametrize("attribute", sorted(GROUPS))
def test_a_groups_columns_are_the_studys_own_fields_as_declared_with_their_defaults(attribute):
    group = GROUPS[attribute]
    assert group.names() and isinstance(getattr(Study, attribute), property)
    left_out = group()
    for name, declared in group.columns().items():
        field = Study._meta.get_field(name)
        # A column of ratings_study, where the scheduler's SQL reads it; declared once, in the group.
        assert field.model is Study and field.column == name and field.concrete, name
        assert field.deconstruct()[1:] == declared.deconstruct()[1:], name
        assert getattr(left_out, name) == (field.get_default() if field.has_default() else None), name


def test_a_group_reads_and_writes_its_columns_as_one_value():
    study = Study(name="x", sampling_options=SamplingOptions(stop_when="separated", vote_budget=500))
    assert (study.stop_when, study.vote_budget, study.sampling) == ("separated", 500, Study._meta.get_field("sampling").default)
    study.exploration = 0.5
    assert study.sampling_options == SamplingOptions(stop_when="separated", vote_budget=500, exploration=0.5)
    study.crowd_options = study.crowd_options.replace(max_participants=40, bonus_per_pair=Decimal("0.02"))
    assert (study.max_participants, study.bonus_per_pair, study.completion_url) == (40, Decimal("0.02"), "")
    with pytest.raises(dataclasses.FrozenInstanceError):
        study.sampling_options.unit = "comparison"
    with pytest.raises(TypeError, match="SamplingOptions"):
        study.sampling_options = {"unit": "comparison"}
    assert study.unit == Study._meta.get_field("unit").default


def test_take_pops_a_groups_options_and_leaves_the_rest():
    values = {"stop_when": "width", "stop_width": 40.0, "name": "x"}
    assert SamplingOptions.take(values) == SamplingOptions(stop_when="width", stop_width=40.0)
    assert values == {"name": "x"}


def test_every_option_of_a_group_is_taken_by_the_service_and_shown_by_the_api():
    every = [name for group in GROUPS.values() for name in group.names()]
    assert set(every) <= studies.STUDY_OPTIONS
    assert set(SamplingOptions.names()) <= set(StudyCreateSerializer.Meta.fields)
    assert set(SamplingOptions.names()) <= set(StudySerializer.Meta.fields)


@pytest.mark.django_db
def test_study_create_takes_a_group_as_one_value_and_refuses_an_option_given_twice():
    made = StudyFactory(
        sampling_options=SamplingOptions(stop_when="separated", vote_budget=300, unit="comparison"),
        crowd_options=CrowdOptions(completion_url="https://example.org/done?cc={code}", max_participants=12),
        allow_ties=True,
    )
    made.refresh_from_db()
    assert made.sampling_options == SamplingOptions(stop_when="separated", vote_budget=300, unit="comparison")
    assert (made.completion_url, made.max_participants, made.allow_ties) == ("https://example.org/done?cc={code}", 12, True)
    with pytest.raises(TypeError, match="vote_budget both alone and in sampling_options"):
        StudyFactory(sampling_options=SamplingOptions(stop_when="separated", vote_budget=300), vote_budget=100)
    with pytest.raises(ValidationError) as refused:
        StudyFactory(crowd_options=CrowdOptions(completion_url="example.org", bonus_per_pair=-1))
    assert set(refused.value.message_dict) == {"completion_url", "bonus_per_pair"}


@pytest.mark.django_db
def test_the_models_need_no_migration_the_migrations_do_not_have():
    # The groups add their columns to Study from another module: the migrations must still see them as they are.
    out = StringIO()
    call_command("makemigrations", "ratings", "--check", "--dry-run", stdout=out)
    assert "No changes detected" in out.getvalue()
