"""The rater page and the leaderboard page through Django's test client."""

import pytest
from django.contrib.auth import get_user_model

from ratings import services
from ratings.models import Comparison, Vote


@pytest.fixture
def open_study(tiny_specs, prompt_set, django_capture_on_commit_callbacks):
    study = services.study_create(name="s", specs=tiny_specs, prompt_set=prompt_set, seeds=[0], display_size=64)
    with django_capture_on_commit_callbacks(execute=True):
        services.study_start_generation(study=study)
    services.study_open(study=study)
    return study


def login_rater(client, study, name="rater"):
    user = get_user_model().objects.create_user(name, password="pw")
    rater = services.rater_invite(study=study, user=user)
    client.force_login(user)
    return rater


@pytest.mark.django_db(transaction=True)
def test_rate_page_shows_the_prompt_two_images_and_both_questions(client, open_study):
    login_rater(client, open_study)
    response = client.get(f"/rate/{open_study.pk}/")
    html = response.content.decode()
    comparison = Comparison.objects.get()
    assert response.status_code == 200
    assert comparison.prompt.text in html
    assert "Which image follows the prompt better?" in html and "Which image has higher quality?" in html
    assert html.count(f"/rate/{open_study.pk}/image/") == 2
    for spec in open_study.job.specs.all():
        assert spec.slug not in html and spec.name not in html
    image_url = f"/rate/{open_study.pk}/image/{comparison.image_a.public_id}/"
    image = client.get(image_url)
    assert image.status_code == 200 and image["Content-Type"] == "image/png"


@pytest.mark.django_db(transaction=True)
def test_vote_form_records_both_answers_and_serves_the_next_pair(client, open_study):
    login_rater(client, open_study)
    client.get(f"/rate/{open_study.pk}/")
    comparison = Comparison.objects.get()
    response = client.post(
        f"/rate/{open_study.pk}/vote/",
        {"token": str(comparison.token), "prompt_adherence": "left", "image_quality": "right", "response_ms": "2300"},
    )
    assert response.status_code == 302
    assert Vote.objects.filter(comparison=comparison).count() == 2
    assert Vote.objects.first().response_ms == 2300
    client.get(f"/rate/{open_study.pk}/")
    assert Comparison.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_rater_gets_403_for_a_pair_served_to_someone_else_and_for_an_uninvited_study(client, open_study):
    other = get_user_model().objects.create_user("other", password="pw")
    other_rater = services.rater_invite(study=open_study, user=other)
    comparison = services.comparison_serve(study=open_study, rater=other_rater)
    login_rater(client, open_study)
    response = client.post(f"/rate/{open_study.pk}/vote/", {"token": str(comparison.token), "prompt_adherence": "left", "image_quality": "left"})
    assert response.status_code == 403
    assert client.get(f"/rate/{open_study.pk}/image/{comparison.image_a.public_id}/").status_code == 404
    assert Vote.objects.count() == 0
    client.force_login(get_user_model().objects.create_user("stranger", password="pw"))
    assert client.get(f"/rate/{open_study.pk}/").status_code == 403


@pytest.mark.django_db(transaction=True)
def test_vote_without_csrf_token_is_refused(open_study):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    login_rater(client, open_study)
    client.get(f"/rate/{open_study.pk}/")
    comparison = Comparison.objects.get()
    response = client.post(f"/rate/{open_study.pk}/vote/", {"token": str(comparison.token), "prompt_adherence": "left", "image_quality": "left"})
    assert response.status_code == 403
    assert Vote.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_leaderboard_is_for_staff_and_owner_only(client, open_study):
    login_rater(client, open_study)
    assert client.get(f"/studies/{open_study.pk}/leaderboard/").status_code == 403
    staff = get_user_model().objects.create_user("staff", password="pw", is_staff=True)
    client.force_login(staff)
    html = client.get(f"/studies/{open_study.pk}/leaderboard/").content.decode()
    for spec in open_study.job.specs.all():
        assert spec.slug in html
    assert "Win rate" in html


def test_anonymous_visitor_is_sent_to_log_in(client, db):
    response = client.get("/rate/1/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
