"""Study state changes (ratings/studies.py): creation and what it refuses, and the checked
transitions: each refuses from the wrong state with a message saying why, and writes nothing."""

from __future__ import annotations

import random

import pytest
from django.core.exceptions import ValidationError

from generation.models import ModelSpec
from ratings import studies
from ratings.models import DEFAULT_RATER_TITLE, AttentionCheck, PairSlot, Study
from tests.factories import StudyFactory, StudyWithImagesFactory, images_add

pytestmark = pytest.mark.django_db


def test_a_rater_title_naming_a_model_is_refused_and_the_default_is_neutral(make_study):
    study = make_study(n_models=2, n_prompts=2)
    assert study.rater_title == DEFAULT_RATER_TITLE
    specs = list(study.job.specs.all())
    for title in (f"Which is better: {specs[0].name.upper()}?", f"{specs[1].slug} study", "  "):
        with pytest.raises(ValidationError) as refused:
            studies.study_create(name="x", specs=specs, prompt_set=study.job.prompt_set, seeds=[0], rater_title=title)
        assert "rater_title" in refused.value.message_dict
    made = studies.study_create(name="x", specs=specs, prompt_set=study.job.prompt_set, seeds=[0], rater_title=" Pictures from text ")
    assert made.rater_title == "Pictures from text"


def test_a_rater_title_is_checked_for_whole_model_names_not_letters(make_study):
    # A model named "A" (slug "a-1") does not make the neutral default name it; "A" alone does.
    study = make_study(n_models=2, n_prompts=2)
    specs = list(study.job.specs.all())
    ModelSpec.objects.filter(pk=specs[0].pk).update(name="A", slug="a-1")
    specs = list(study.job.specs.all())
    made = studies.study_create(name="x", specs=specs, prompt_set=study.job.prompt_set, seeds=[0])
    assert made.rater_title == DEFAULT_RATER_TITLE
    for title in ("Model A or model B?", "Study of a-1 images"):
        with pytest.raises(ValidationError) as refused:
            studies.study_create(name="x", specs=specs, prompt_set=study.job.prompt_set, seeds=[0], rater_title=title)
        assert "rater_title" in refused.value.message_dict


@pytest.mark.parametrize("kinds", [["degraded"], ["unrelated_prompt"], ["degraded", "unrelated_prompt"]])
def test_attention_checks_are_of_the_studys_kinds_only(kinds):
    study = StudyWithImagesFactory(specs__n=2, prompt_set__size=6, attention_check_kinds=kinds, opened=False)
    made = studies.attention_checks_create(study=study, rng=random.Random(1))
    assert len(made) == 6
    assert {check.kind for check in made} == set(kinds)
    assert AttentionCheck.objects.filter(study=study).count() == 6


def test_unknown_attention_check_kinds_are_refused(make_study):
    study = make_study(n_models=2, n_prompts=2)
    with pytest.raises(ValidationError) as refused:
        studies.study_create(name="x", specs=study.job.specs.all(), prompt_set=study.job.prompt_set, seeds=[0], attention_check_kinds=["blurry"])
    assert "attention_check_kinds" in refused.value.message_dict


def test_a_study_opens_only_once_every_image_exists_and_a_refusal_writes_nothing():
    study = StudyFactory(specs__n=2, prompt_set__size=3)
    with pytest.raises(studies.StudyStateError, match="Only 0 of 6 images are made"):
        studies.study_open(study=study)
    assert not PairSlot.objects.filter(study=study).exists() and not study.attention_checks.exists()
    assert Study.objects.get(pk=study.pk).status == Study.Status.DRAFT
    images_add(study, list(study.job.specs.all()), size=64)
    studies.study_open(study=study, rng=random.Random(0))
    study.refresh_from_db()
    assert study.status == Study.Status.RATING
    assert PairSlot.objects.filter(study=study).count() == 3  # one model pair x 3 prompts x 1 seed
    checks = study.attention_checks.count()
    assert checks > 0
    with pytest.raises(studies.StudyStateError, match="is open for rating; only a study that is generating"):
        studies.study_open(study=study)
    assert study.attention_checks.count() == checks


def test_generation_starts_once_from_a_draft():
    study = StudyWithImagesFactory(specs__n=2, prompt_set__size=3, opened=False)
    assert studies.study_start_generation(study=study) == 0  # every image exists: nothing to queue
    assert Study.objects.get(pk=study.pk).status == Study.Status.GENERATING
    with pytest.raises(studies.StudyStateError, match="was already started .* it can be started only once"):
        studies.study_start_generation(study=study)


@pytest.mark.django_db(transaction=True)
def test_starting_generation_makes_every_image_of_the_study(tiny_specs, prompt_set, django_capture_on_commit_callbacks):
    from generation.selectors import job_progress

    study = StudyFactory(specs=tiny_specs, prompt_set=prompt_set, seeds=[0, 1])
    with django_capture_on_commit_callbacks(execute=True):
        studies.study_start_generation(study=study)
    progress = job_progress(job=study.job)
    assert progress["total"] == 3 * 8 * 2 and progress["done"] == progress["total"]


def test_pause_resume_and_close_refuse_from_the_wrong_state():
    study = StudyFactory(specs__n=2, prompt_set__size=3)
    with pytest.raises(studies.StudyStateError, match="only a generating or rating study can be paused"):
        studies.study_pause(study=study)
    with pytest.raises(studies.StudyStateError, match="not paused; nothing to resume"):
        studies.study_resume(study=study)
    studies.study_start_generation(study=study)
    studies.study_pause(study=study)
    # Images still missing: back to generating, not to rating.
    assert studies.study_resume(study=study) == Study.Status.GENERATING
    studies.study_close(study=study)
    with pytest.raises(studies.StudyStateError, match="is already closed"):
        studies.study_close(study=study)
    for step in (studies.study_start_generation, studies.study_open, studies.study_pause, studies.study_resume):
        with pytest.raises(studies.StudyStateError):
            step(study=study)
    assert Study.objects.get(pk=study.pk).status == Study.Status.CLOSED


def test_a_set_criterion_needs_two_seeds_and_unique_names(make_study):
    study = make_study(n_models=2, n_prompts=2)
    specs, prompts = list(study.job.specs.all()), study.job.prompt_set
    with pytest.raises(ValidationError) as one_seed:
        studies.study_create(name="x", specs=specs, prompt_set=prompts, seeds=[4242], set_criteria=["diversity"])
    message = one_seed.value.message_dict["set_criteria"][0]
    assert "at least two seeds" in message and "4242" in message and "diversity" in message
    for criteria, set_criteria, repeated in (
        (["prompt_adherence", "image_quality"], ["diversity", "diversity"], "diversity"),
        (["prompt_adherence", "diversity"], ["diversity"], "diversity"),
    ):
        with pytest.raises(ValidationError) as twice:
            studies.study_create(name="x", specs=specs, prompt_set=prompts, seeds=[1, 2], criteria=criteria, set_criteria=set_criteria)
        assert "unique" in twice.value.message_dict["set_criteria"][0] and repeated in twice.value.message_dict["set_criteria"][0]
    assert Study.objects.count() == 1
    made = studies.study_create(name="x", specs=specs, prompt_set=prompts, seeds=[1, 2], set_criteria=["diversity"])
    assert made.set_criteria == ["diversity"] and made.all_criteria == ["prompt_adherence", "image_quality", "diversity"]


def test_opening_a_study_with_a_set_criterion_makes_one_set_slot_per_prompt_and_model_pair_of_first_seed_images():
    study = StudyWithImagesFactory(seeds=(7, 3), set_criteria=["diversity"], no_checks=True)
    sets = list(PairSlot.objects.filter(study=study, kind=PairSlot.Kind.SET).select_related("image_a", "image_b"))
    n_prompts, n_models = study.job.prompt_set.prompts.count(), study.job.specs.count()
    assert len(sets) == n_prompts * n_models * (n_models - 1) // 2
    assert PairSlot.objects.filter(study=study, kind=PairSlot.Kind.PAIR).count() == 2 * len(sets)
    for slot in sets:
        assert slot.seed == 7 and slot.image_a.seed == slot.image_b.seed == 7  # the study's first seed, as listed
        assert slot.image_a.spec_id < slot.image_b.spec_id and slot.image_a.prompt_id == slot.image_b.prompt_id == slot.prompt_id
    # Idempotent: opening made them once; syncing again adds nothing.
    from ratings.slots import pair_slots_sync

    assert pair_slots_sync(study=study) == 0
    # Attention checks stay pairs: they know the pair criteria only.
    checks = list(AttentionCheck.objects.filter(study=study))
    assert checks and all(set(check.criteria) <= set(study.criteria) for check in checks)


def test_study_create_takes_every_setting_left_out_from_the_model(make_study):
    """Issue 23: a study option's default is declared once, on the model."""
    study = make_study(n_models=2, n_prompts=2)
    specs = list(study.job.specs.all())
    made = studies.study_create(name="defaults", specs=specs, prompt_set=study.job.prompt_set, seeds=[0])
    made.refresh_from_db()
    for option in sorted(studies.STUDY_OPTIONS):
        field = Study._meta.get_field(option)
        assert getattr(made, field.attname) == field.get_default(), option
    assert made.job.display_size == made.job._meta.get_field("display_size").get_default()
    with pytest.raises(TypeError, match="status"):
        studies.study_create(name="x", specs=specs, prompt_set=study.job.prompt_set, seeds=[0], status=Study.Status.RATING)


def test_study_design_errors_names_every_problem_of_an_unsaved_study(make_study):
    study = make_study(n_models=2, n_prompts=2)
    specs = list(study.job.specs.all())
    unsaved = Study(name="x", stop_when="separated", exploration=2, attention_check_kinds=[], repeat_share=-1)
    errors = studies.study_design_errors(study=unsaved, specs=specs[:1], seeds=[1, 1])
    assert set(errors) == {"vote_budget", "exploration", "attention_check_kinds", "repeat_share", "specs", "seeds"}
    assert studies.study_design_errors(study=Study(name="x"), specs=specs, seeds=[0]) == {}
