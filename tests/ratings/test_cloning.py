"""Cloning a study (ratings/cloning.py): every setting copied, never votes, raters, status or
link secrets; images reused; a model added to a draft clone generates only its own images."""

from __future__ import annotations

import random

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from generation.models import Image
from ratings import cloning, raters, screening, selectors, studies
from ratings.models import Comparison, HiddenImage, Participation, Study
from tests.factories import ModelSpecFactory, PromptSetFactory, StudyFactory, UserFactory, vote_as

# Every copied setting set away from its default, so a field the clone forgot shows.
SETTINGS = dict(
    rater_title="Picture study", criteria=["image_quality", "realism"], allow_ties=True, votes_per_pair=5, quota_per_rater=17,
    consent_text="Consent for the clone test.", completion_url="https://app.prolific.com/submissions/complete?cc={code}",
    max_participants=23, attention_check_rate=0.2, min_seconds_per_vote=0.0, flag_after_failed_checks=4,
    reservation_seconds=123, repeat_share=0.07, attention_check_kinds=["degraded"], min_self_consistency=0.6,
    min_repeats_to_judge=3, sampling_rule="adaptive", exploration=0.3, stop_when="separated", stop_alpha=0.1,
    stop_top_k=1, vote_budget=999,
)


@pytest.mark.django_db
def test_a_clone_copies_every_setting_and_nothing_of_the_run(make_study):
    study = make_study(n_models=3, n_prompts=3, seeds=(0, 1), display_size=48, **SETTINGS)
    owner, cloner = UserFactory(username="owner"), UserFactory(username="cloner", staff=True)
    Study.objects.filter(pk=study.pk).update(owner=owner)
    studies.researcher_grant(user=owner)
    studies.study_share(study=study, users=[owner])
    raters.rater_invite(study=study, user=UserFactory(username="invited"))
    vote_as(study, raters.rater_invite(study=study, user=UserFactory(username="voter")), 3, random.Random(1))
    hidden = screening.study_images(study=study).first()
    screening.images_hide(study=study, image_ids=[hidden.pk], reason="broken", by=owner)
    study.refresh_from_db()
    images_before = Image.objects.count()

    clone = cloning.study_clone(study=study, by=cloner)

    assert clone.status == Study.Status.DRAFT and clone.owner == cloner and clone.cloned_from == study and clone.pilot_of is None
    assert clone.name == f"Copy of {study.name}"
    for field in cloning.copied_fields():
        if field.default in cloning.SECRET_DEFAULTS:
            assert getattr(clone, field.attname) != getattr(study, field.attname), field.name
        else:
            assert getattr(clone, field.attname) == getattr(study, field.attname), field.name
    assert {f.name for f in cloning.copied_fields()} >= {
        "rater_title", "criteria", "consent_text", "completion_url", "quota_per_rater", "attention_check_kinds", "sampling", "vote_budget",
    }
    assert clone.link_key != study.link_key and clone.completion_code != study.completion_code
    assert selectors.study_link_signature(study=clone) != selectors.study_link_signature(study=study)
    assert list(clone.job.specs.order_by("pk")) == list(study.job.specs.order_by("pk"))
    assert (clone.job.prompt_set_id, clone.job.seeds, clone.job.display_size) == (study.job.prompt_set_id, [0, 1], 48)
    assert clone.job_id != study.job_id
    # Nothing of the run: no votes, participants, invited raters, sharing, state or screening record.
    assert not Comparison.objects.filter(study=clone).exists() and not Participation.objects.filter(study=clone).exists()
    assert clone.raters.count() == 0 and clone.shared_with.count() == 0
    assert clone.pair_weights is None and clone.stopped_at is None and clone.images_reviewed_at is None
    # Images reused, and the screening's hidden images carried over.
    assert Image.objects.count() == images_before
    assert studies.study_start_generation(study=clone) == 0
    assert set(HiddenImage.objects.filter(study=clone).values_list("image_id", flat=True)) == {hidden.pk}


@pytest.mark.django_db(transaction=True)
def test_cloning_with_a_new_model_generates_only_that_models_images(tiny_specs, django_capture_on_commit_callbacks, monkeypatch):
    from generation import pipelines

    prompt_set = PromptSetFactory(name="Three prompts", size=3, text="a small blue sphere, take {i}")
    study = StudyFactory(specs=tiny_specs[:2], prompt_set=prompt_set, seeds=[0, 1], display_size=32)
    with django_capture_on_commit_callbacks(execute=True):
        studies.study_start_generation(study=study)
    assert Image.objects.count() == 2 * 3 * 2

    sampled = []
    real = pipelines.sample_halving_on_oom

    def counting(pipe, config, prompts, seeds, device):
        sampled.extend(zip(prompts, seeds))
        return real(pipe, config, prompts, seeds, device)

    monkeypatch.setattr(pipelines, "sample_halving_on_oom", counting)
    before = set(Image.objects.values_list("pk", flat=True))
    clone = cloning.study_clone(study=study, by=UserFactory(username="cloner", staff=True), name="With a third model")
    new_model = tiny_specs[2]
    cloning.study_models_add(study=clone, specs=[new_model])
    with django_capture_on_commit_callbacks(execute=True):
        studies.study_start_generation(study=clone)

    made = Image.objects.exclude(pk__in=before)
    assert made.count() == 3 * 2 == len(sampled)
    assert set(made.values_list("spec_id", flat=True)) == {new_model.pk}
    assert set(made.values_list("prompt__position", "seed")) == {(p, s) for p in range(3) for s in (0, 1)}
    clone.refresh_from_db()
    studies.study_open(study=clone)
    assert len(selectors.study_image_pairs(study=clone)) == 3 * 2 * 3


@pytest.mark.django_db
def test_a_model_is_added_to_a_draft_only_and_a_refusal_writes_nothing(make_study):
    study = make_study(n_models=2, n_prompts=2)
    clone = cloning.study_clone(study=study, by=UserFactory(username="cloner", staff=True))
    wide = ModelSpecFactory(slug="wide-model", width=128, height=64)
    named = ModelSpecFactory(slug="picture", name="Picture")
    cases = [
        (study, [ModelSpecFactory()], studies.StudyStateError, "draft only"),
        (clone, [], ValidationError, "one or more models"),
        (clone, [study.job.specs.first()], ValidationError, "Already in the study"),
        (clone, [wide], ValidationError, "one aspect ratio"),
    ]
    for target, specs, error, message in cases:
        with pytest.raises(error, match=message):
            cloning.study_models_add(study=target, specs=specs)
    Study.objects.filter(pk=clone.pk).update(rater_title="Picture comparison")
    with pytest.raises(ValidationError) as refused:
        cloning.study_models_add(study=clone, specs=[named])
    assert "rater_title" in refused.value.message_dict
    assert clone.job.specs.count() == 2 and study.job.specs.count() == 2


@pytest.mark.django_db
def test_a_researcher_cannot_clone_a_study_whose_models_are_not_theirs():
    from generation import specs as generation_specs

    ada, bob = UserFactory(username="ada"), UserFactory(username="bob")
    private = generation_specs.model_spec_create(name="Ada's", slug="ada-private", weights="org/m", pipeline_class="StableDiffusionPipeline", steps=1, owner=ada)
    study = StudyFactory(specs=[private, ModelSpecFactory()], owner=ada)
    with pytest.raises(ValidationError, match="ada-private"):
        cloning.study_clone(study=study, by=bob)
    assert Study.objects.count() == 1
    assert cloning.study_clone(study=study, by=ada).owner == ada


@pytest.mark.django_db
def test_bad_names_are_refused(make_study):
    study = make_study(n_models=2, n_prompts=1)
    for name, message in (("   ", "Give the new study a name"), ("x" * 201, "200 characters")):
        with pytest.raises(ValidationError, match=message):
            cloning.study_clone(study=study, by=None, name=name)
    assert Study.objects.count() == 1


@pytest.mark.django_db
def test_the_admin_action_and_the_staff_page_clone(make_study):
    study = make_study(n_models=2, n_prompts=1)
    staff = UserFactory(username="staff", superuser=True)
    client = Client()
    client.force_login(staff)
    response = client.post("/admin/ratings/study/", {"action": "clone_studies", "_selected_action": [study.pk]}, follow=True)
    assert "cloned into the draft" in response.content.decode()
    response = client.post(f"/studies/{study.pk}/operations/clone/", {"name": "From the page"}, follow=True)
    assert "Cloned into the draft" in response.content.decode()
    assert list(Study.objects.filter(cloned_from=study).order_by("pk").values_list("name", "status")) == [
        (f"Copy of {study.name}", "draft"), ("From the page", "draft"),
    ]
    assert client.get(f"/studies/{study.pk}/operations/clone/").status_code == 405
