"""The Django admin: every model is there, every list page loads with its filters and search,
and the actions call the services (start generation, flag and exclude raters, export)."""

from __future__ import annotations

import io
import zipfile

import pytest
from django.apps import apps
from django.contrib import admin

from ratings.models import Rater, Study, Vote
from tests.factories import StudyWithImagesFactory, UserFactory


@pytest.fixture
def staff_client(client, db):
    client.force_login(UserFactory(username="boss", superuser=True))
    return client


def test_every_model_of_the_project_is_in_the_admin():
    for label in ("generation", "ratings"):
        for model in apps.get_app_config(label).get_models():
            assert model in admin.site._registry, f"{model.__name__} has no admin"


def test_every_list_page_loads_with_search_and_each_filter(staff_client, rated_study):
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label not in ("generation", "ratings"):
            continue
        url = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        response = staff_client.get(url)
        assert response.status_code == 200, url
        if model_admin.search_fields:
            assert staff_client.get(url, {"q": "a"}).status_code == 200, url
        changelist = response.context["cl"]
        for spec in changelist.filter_specs:
            for choice in list(spec.choices(changelist))[1:2]:
                assert staff_client.get(url + choice["query_string"]).status_code == 200, (url, choice["query_string"])
        first = model.objects.first()
        if first is not None:
            assert staff_client.get(f"{url}{first.pk}/change/").status_code == 200, url


def run_action(client, model: str, action: str, pks) -> object:
    return client.post(f"/admin/{model}/", {"action": action, "_selected_action": [str(pk) for pk in pks]}, follow=True)


def test_start_generation_action_starts_once_and_reports_a_second_start(staff_client, draft_study, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = run_action(staff_client, "ratings/study", "start_generation", [draft_study.pk])
    assert "Draft: generation queued." in response.content.decode()
    draft_study.refresh_from_db()
    assert draft_study.status == Study.Status.GENERATING
    response = run_action(staff_client, "ratings/study", "start_generation", [draft_study.pk])
    assert "Draft: Generation of study &#x27;Draft&#x27; was already started" in response.content.decode()


def test_rater_actions_flag_and_exclude_without_deleting(staff_client, rated_study):
    rater = Rater.objects.get(user__username="rater-1")
    votes = Vote.objects.count()
    participation = rater.participations.get(study=rated_study)
    response = run_action(staff_client, "ratings/participation", "flag", [participation.pk])
    assert "1 participation flagged." in response.content.decode()
    response = run_action(staff_client, "ratings/rater", "exclude_votes", [rater.pk])
    assert "12 votes excluded (kept, never deleted)." in response.content.decode()
    participation.refresh_from_db()
    assert participation.flagged and participation.flag_reason == "staff" and Vote.objects.count() == votes
    assert Vote.objects.filter(excluded=True, comparison__rater=rater).count() == 12
    run_action(staff_client, "ratings/rater", "include_votes", [rater.pk])
    assert Vote.objects.filter(excluded=True).count() == 0
    vote = Vote.objects.first()
    run_action(staff_client, "ratings/vote", "exclude_selected", [vote.pk])
    assert list(Vote.objects.filter(excluded=True)) == [vote]


def test_votes_and_comparisons_cannot_be_added_or_deleted_in_the_admin(staff_client, rated_study):
    assert staff_client.get("/admin/ratings/vote/add/").status_code == 403
    vote = Vote.objects.first()
    assert staff_client.post(f"/admin/ratings/vote/{vote.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Vote.objects.filter(pk=vote.pk).exists()


def test_export_images_action_downloads_the_studys_zip(staff_client, rated_study):
    response = staff_client.post("/admin/ratings/study/", {"action": "export_images", "_selected_action": [str(rated_study.pk)]})
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content))).namelist()
    assert "metadata.jsonl" in names and len(names) == 13


def test_the_admin_shows_set_criteria_and_checks_them_like_the_api(make_study):
    from ratings.admin import StudyAdminForm
    from ratings.studies import study_create

    one_seed = make_study(n_models=2, n_prompts=2, open_study=False, images=False)
    two_seeds = study_create(name="two seeds", specs=list(one_seed.job.specs.all()), prompt_set=one_seed.job.prompt_set, seeds=[3, 4])
    opened = StudyWithImagesFactory(specs=list(one_seed.job.specs.all()), prompt_set=one_seed.job.prompt_set, seeds=(1, 2))
    assert opened.status == Study.Status.RATING

    def errors(study, set_criteria):
        form = StudyAdminForm(instance=study, data=None)
        data = {name: form[name].value() for name in form.fields}
        data.update(set_criteria=set_criteria, criteria='["prompt_adherence", "image_quality"]')
        data = {k: v for k, v in data.items() if v is not None}
        form = StudyAdminForm(instance=study, data=data)
        form.is_valid()
        return " ".join(form.errors.get("set_criteria", []))

    assert "at least two seeds" in errors(one_seed, '["diversity"]')
    assert "unique" in errors(two_seeds, '["diversity", "diversity"]')
    assert errors(two_seeds, '["diversity"]') == ""
    assert "fixed once the study leaves draft" in errors(opened, '["diversity"]')
